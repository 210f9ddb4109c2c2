"""The gateway's in-process moving windows (gateway.windows): the moving-window strategy's answers,
exact counts under concurrent hits, and idle keys swept."""
from __future__ import annotations

import threading

import pytest
from limits import RateLimitItemPerMinute, RateLimitItemPerSecond
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from gateway import windows
from gateway.windows import ProcessWindows


class Clock:
    """Stands in for time.time and time.monotonic inside gateway.windows."""

    def __init__(self, now: float = 1_000_000.0):
        self.now = now

    def time(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch):
    c = Clock()
    monkeypatch.setattr(windows, "time", c)
    return c


def test_the_scheme_is_registered_with_limits():
    assert isinstance(storage_from_string("aw-memory://"), ProcessWindows)


def test_a_window_admits_its_limit_then_refuses_until_the_oldest_hit_leaves(clock):
    limiter = MovingWindowRateLimiter(ProcessWindows())
    item = RateLimitItemPerSecond(3)
    for _ in range(3):
        assert limiter.hit(item, "k")
        clock.now += 0.25
    assert not limiter.hit(item, "k")  # 3 hits in the last second
    reset, remaining = limiter.get_window_stats(item, "k")
    assert remaining == 0 and reset == pytest.approx(1_000_001.0)  # the first hit's time + 1 s
    clock.now = 1_000_001.01  # the first hit left the window; a refused hit was never counted
    assert limiter.hit(item, "k")
    assert limiter.get_window_stats(item, "k")[1] == 0
    assert not limiter.test(item, "k")


def test_stats_of_an_untouched_key_are_now_and_the_whole_limit(clock):
    limiter = MovingWindowRateLimiter(ProcessWindows())
    item = RateLimitItemPerMinute(10)
    assert tuple(limiter.get_window_stats(item, "nobody")) == (clock.now + 60, 10)


def test_keys_and_windows_are_independent(clock):
    limiter = MovingWindowRateLimiter(ProcessWindows())
    second, minute = RateLimitItemPerSecond(1), RateLimitItemPerMinute(5)
    assert limiter.hit(second, "a") and limiter.hit(minute, "a") and limiter.hit(second, "b")
    assert not limiter.hit(second, "a")
    assert limiter.get_window_stats(minute, "a")[1] == 4
    assert limiter.get_window_stats(minute, "b")[1] == 5


def test_a_cost_above_the_limit_or_the_room_left_is_refused_whole(clock):
    storage = ProcessWindows()
    assert not storage.acquire_entry("k", 3, 1, amount=4)
    assert storage.acquire_entry("k", 3, 1, amount=2)
    assert not storage.acquire_entry("k", 3, 1, amount=2)
    assert storage.get_moving_window("k", 3, 1) == (clock.now, 2)


def test_concurrent_hits_admit_exactly_the_limit():
    storage = ProcessWindows()
    admitted = []
    start = threading.Barrier(8)

    def hammer():
        start.wait()
        admitted.append(sum(storage.acquire_entry("k", 500, 60) for _ in range(200)))

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(admitted) == 500
    assert storage.get_moving_window("k", 500, 60)[1] == 500


def test_idle_keys_are_swept(clock):
    storage = ProcessWindows()
    storage.acquire_entry("old", 10, 1)
    storage.incr("counter", 1)
    clock.now += windows.SWEEP_SECONDS + 1
    storage.acquire_entry("new", 10, 1)  # the next call after the sweep period sweeps
    assert set(storage._windows) == {"new"} and not storage._counters


def test_fixed_window_counters_expire(clock):
    storage = ProcessWindows()
    assert storage.incr("c", 10) == 1 and storage.incr("c", 10, amount=2) == 3
    assert storage.get("c") == 3 and storage.get_expiry("c") == clock.now + 10
    clock.now += 10
    assert storage.get("c") == 0
    assert storage.incr("c", 10) == 1
    storage.clear("c")
    assert storage.get("c") == 0
    assert storage.reset() == 0

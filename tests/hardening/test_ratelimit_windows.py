"""Rate-limit audit: the two windows of a bucket are spent together or not at all, Retry-After
waits for every full window, and the in-process windows survive the wall clock being set back.
Clocks are injected (no sleeping): one stands in for `time` in gateway.windows and
gateway.ratelimit; the Redis cases run on the real Redis of tests/ratelimit/conftest.py."""
from __future__ import annotations

import time

import pytest

from gateway import ratelimit, windows
from gateway.windows import ProcessWindows
from services.common.config import PlanLimits
from tests.ratelimit.conftest import PLANS, make_app, redis_url_or_skip

T0 = 1_000_000.0
PLANS_HERE = {**PLANS, "four": PlanLimits(per_minute=4, burst_per_second=3, max_series=10),
              "three": PlanLimits(per_minute=3, burst_per_second=3, max_series=10)}


class Clock:
    """time.time (wall) and time.monotonic, moved by hand; the wall clock can jump alone."""

    def __init__(self, now: float = T0):
        self.wall = self.mono = now

    def time(self) -> float:
        return self.wall

    def monotonic(self) -> float:
        return self.mono

    def advance(self, seconds: float) -> None:
        self.wall += seconds
        self.mono += seconds


@pytest.fixture
def clock(monkeypatch):
    c = Clock()
    monkeypatch.setattr(windows, "time", c)
    monkeypatch.setattr(ratelimit, "time", c)
    return c


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_requests_refused_by_the_minute_do_not_spend_the_burst(clock):
    app, keys = make_app(plans=PLANS_HERE)
    key, _ = keys.add(plan="four")  # 4/min, burst 3/s
    client = app.test_client()
    assert [client.get("/v1/_probe", headers=auth(key)).status_code for _ in range(3)] == [200] * 3
    clock.advance(1.5)
    assert client.get("/v1/_probe", headers=auth(key)).status_code == 200  # the minute is full now
    clock.wall = clock.mono = T0 + 60.0  # the first three are still (just) in the minute
    refused = [client.get("/v1/_probe", headers=auth(key)) for _ in range(3)]
    assert [r.status_code for r in refused] == [429] * 3
    assert {r.json["error"]["details"]["window"] for r in refused} == {"minute"}
    assert refused[-1].headers["X-RateLimit-Burst-Remaining"] == "3"  # refusals spent no burst
    clock.advance(0.01)  # the first three left the minute: three requests fit again
    assert [client.get("/v1/_probe", headers=auth(key)).status_code for _ in range(3)] == [200] * 3


def test_retry_after_waits_for_every_full_window(clock):
    app, keys = make_app(plans=PLANS_HERE)
    key, _ = keys.add(plan="three")  # 3/min, burst 3/s: both full after three requests
    client = app.test_client()
    assert [client.get("/v1/_probe", headers=auth(key)).status_code for _ in range(3)] == [200] * 3
    refused = client.get("/v1/_probe", headers=auth(key))
    assert refused.status_code == 429
    # The burst frees a slot in 1 s, but the minute not before 60 s: retrying after 1 s is refused.
    assert refused.headers["Retry-After"] == "60"
    assert refused.json["error"]["details"]["window"] == "minute"
    assert refused.json["error"]["details"]["retry_after"] == 60
    clock.advance(59.5)
    assert client.get("/v1/_probe", headers=auth(key)).headers["Retry-After"] == "1"


@pytest.mark.redis
def test_with_redis_a_refused_request_spends_no_window_and_retry_after_waits_for_all():
    app, keys = make_app(redis_url=redis_url_or_skip(), plans=PLANS_HERE)
    client = app.test_client()
    key, _ = keys.add(plan="three")  # 3/min, burst 3/s
    assert [client.get("/v1/_probe", headers=auth(key)).status_code for _ in range(3)] == [200] * 3
    refused = client.get("/v1/_probe", headers=auth(key))
    assert refused.status_code == 429 and refused.json["error"]["details"]["window"] == "minute"
    assert refused.headers["Retry-After"] == "60"
    other, _ = keys.add(plan="four")  # 4/min, burst 3/s
    assert [client.get("/v1/_probe", headers=auth(other)).status_code for _ in range(3)] == [200] * 3
    refused = [client.get("/v1/_probe", headers=auth(other)) for _ in range(2)]  # by the burst
    assert [r.status_code for r in refused] == [429, 429]
    assert refused[-1].headers["X-RateLimit-Remaining"] == "1"  # the burst's refusals spent no minute


@pytest.mark.redis
@pytest.mark.parametrize("step", [3600.0, -3600.0], ids=["ahead", "behind"])
def test_with_redis_a_gateway_clock_off_by_an_hour_neither_admits_past_the_limit_nor_lies(
        step, monkeypatch):
    app, keys = make_app(redis_url=redis_url_or_skip(), plans=PLANS_HERE)
    client = app.test_client()
    key, _ = keys.add(plan="four")  # 4/min, burst 3/s
    assert [client.get("/v1/_probe", headers=auth(key)).status_code for _ in range(3)] == [200] * 3
    off = Clock(time.time() + step)  # this gateway's clock alone is off (another replica's, NTP)
    monkeypatch.setattr(ratelimit, "time", off)
    refused = client.get("/v1/_probe", headers=auth(key))
    assert refused.status_code == 429  # the burst is full whatever this process's clock says
    assert refused.headers["Retry-After"] == "1"
    # Reset is on this process's clock: the first hit's time on it, plus the minute.
    assert off.wall + 58 <= int(refused.headers["X-RateLimit-Reset"]) <= off.wall + 61
    assert refused.headers["X-RateLimit-Remaining"] == "1"


def test_a_wall_clock_set_back_does_not_keep_hits_in_the_window(clock):
    storage = ProcessWindows()
    for _ in range(3):
        assert storage.acquire_entry("k", 3, 1)
    assert not storage.acquire_entry("k", 3, 1)
    clock.wall -= 3600.0  # NTP steps the clock back an hour
    clock.mono += 1.01  # ...while a second goes by
    assert storage.acquire_entry("k", 3, 1)
    start, count = storage.get_moving_window("k", 3, 1)
    assert count == 1 and start == clock.wall  # unix seconds on the new wall clock


def test_a_wall_clock_set_forward_does_not_empty_the_window(clock):
    storage = ProcessWindows()
    for _ in range(3):
        assert storage.acquire_entry("k", 3, 60)
    clock.wall += 3600.0
    clock.mono += 1.0
    assert not storage.acquire_entry("k", 3, 60)
    assert storage.get_moving_window("k", 3, 60) == (clock.wall - 1.0, 3)


def test_several_windows_are_acquired_together_or_not_at_all(clock):
    storage = ProcessWindows()
    assert storage.acquire_entries([("s", 2, 1), ("m", 3, 60)]) == (True, True)
    assert storage.acquire_entries([("s", 2, 1), ("m", 3, 60)]) == (True, True)
    assert storage.acquire_entries([("s", 2, 1), ("m", 3, 60)]) == (False, True)
    assert storage.get_moving_window("m", 3, 60)[1] == 2  # the refused hit did not count here
    clock.advance(1.01)
    assert storage.acquire_entries([("s", 2, 1), ("m", 3, 60)]) == (True, True)
    assert storage.acquire_entries([("s", 2, 1), ("m", 3, 60)]) == (True, False)
    assert storage.get_moving_window("s", 2, 1)[1] == 1


def test_windows_of_many_addresses_are_forgotten_once_their_hits_left_them(clock):
    storage = ProcessWindows()
    second, minute = ("LIMITER/api/addr:{}/20/1/second", 20, 1), ("LIMITER/api/addr:{}/600/1/minute", 600, 60)
    for i in range(10_000):  # a client cycling through addresses, one request each
        address = f"2001:db8::{i:x}"
        assert storage.acquire_entries([(second[0].format(address), *second[1:]),
                                        (minute[0].format(address), *minute[1:])]) == (True, True)
    assert len(storage._windows) == 20_000
    clock.advance(1.01)
    storage.acquire_entries([(second[0].format("new"), *second[1:]), (minute[0].format("new"), *minute[1:])])
    assert len(storage._windows) == 10_000 + 2  # the idle per-second windows are gone at once
    clock.advance(59.0)
    storage.acquire_entry("other", 5, 60)
    assert set(storage._windows) == {minute[0].format("new"), "other"}  # the new second went too
    assert storage.get_moving_window(minute[0].format("2001:db8::1"), 600, 60) == (clock.wall, 0)


def test_a_window_hit_again_is_kept_while_older_idle_ones_go(clock):
    storage = ProcessWindows()
    for key in ("a", "b", "c"):
        assert storage.acquire_entry(key, 5, 10)
        clock.advance(1.0)
    assert storage.acquire_entry("a", 5, 10)  # "a" is the most recently hit now
    clock.advance(9.5)  # b's and c's hits (at +1 s, +2 s) left; a's second (at +3 s) did not
    storage.acquire_entry("d", 5, 10)
    assert set(storage._windows) == {"a", "d"}
    assert storage.get_moving_window("a", 5, 10)[1] == 1
    storage.clear("a")
    clock.advance(100.0)
    storage.acquire_entry("e", 5, 10)
    assert set(storage._windows) == {"e"}


@pytest.mark.redis
def test_with_redis_hit_times_that_are_not_numbers_count_as_no_hits():
    import redis

    url = redis_url_or_skip()
    app, keys = make_app(redis_url=url, plans=PLANS_HERE)
    storage = app.extensions["aw_limiter"].storage
    key, principal = keys.add(plan="three")
    minute, second = ratelimit._items(3, 3)
    junk = redis.Redis.from_url(url)
    for item in (minute, second):
        name = storage.primary.prefixed_key(item.key_for(f"key:{principal.key_id}", ratelimit.SCOPE))
        junk.rpush(name, "garbage", "nan-ish", "")
        junk.expire(name, 60)
    client = app.test_client()
    answers = [client.get("/v1/_probe", headers=auth(key)) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert [a.headers["X-RateLimit-Remaining"] for a in answers] == ["2", "1", "0", "0"]
    assert not storage.degraded  # answered by Redis, not by the in-process fallback


@pytest.mark.redis
def test_redis_windows_answer_like_the_in_process_ones():
    import uuid

    redis_windows = ratelimit.RedisWindows(redis_url_or_skip(), key_prefix="aw-ratelimit-test")
    for storage in (ProcessWindows(), redis_windows):
        key = uuid.uuid4().hex
        assert not storage.acquire_entry(key, 3, 60, amount=4)
        assert storage.acquire_entry(key, 3, 60, amount=2)
        assert not storage.acquire_entry(key, 3, 60, amount=2)
        assert storage.acquire_entries([(key, 3, 60), (key + "s", 1, 1)]) == (True, True)
        assert storage.acquire_entries([(key, 3, 60), (key + "s", 1, 1)]) == (False, False)
        start, count = storage.get_moving_window(key, 3, 60)
        assert count == 3 and time.time() - 5 < start <= time.time()
        assert storage.get_moving_window(key + "-none", 3, 60)[1] == 0
        storage.clear(key)
        storage.clear(key + "s")

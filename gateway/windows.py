"""Rate-limit windows kept in process, for the `limits` library's moving-window strategy.

Used instead of `limits`' MemoryStorage, which re-arms a `threading.Timer` (a new thread) every
10 ms while requests arrive: each start waits for the new thread to run, up to a GIL switch
interval under load, and two request threads re-arming at once raised "threads can only be started
once" (a 500; alisaifee/limits#26, fixed by #352, which no release has yet: 5.8.0 is the newest).
Its moving window is also a list that every hit inserts at the front of. Here each key is a deque
of hit times, oldest first, trimmed when touched, under one lock. A window is forgotten as soon as
its newest hit has left it: windows are kept least recently hit first (one order per window
length), and each hit drops those at the front that went idle, so memory holds only the windows hit
within their length, and no call walks them all. (A periodic sweep of every window, as before, let
a client cycling through addresses keep two minutes of one-request windows, ~1.8 kB each, and held
the lock for the whole walk: 0.4 s per 100,000 addresses.) The fixed-window counters, which the
moving-window strategy never uses, are swept every `SWEEP_SECONDS`.

Hit times are read from the monotonic clock, so a wall clock set back (NTP, a VM resumed) neither
keeps hits in a window for the size of the jump (a key refused for an hour after a one-hour step
back) nor drops them early; times given out (a window's start, a counter's expiry) are unix
seconds, converted at the moment they are asked for.
"""
from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from collections.abc import Sequence
from itertools import repeat

from limits.storage import MovingWindowSupport, Storage

SWEEP_SECONDS = 60.0


class _Window(deque):
    """Hit times (monotonic seconds, oldest first) of one key, with the key's window length."""
    __slots__ = ("expiry",)

    def __init__(self, expiry: float):
        super().__init__()
        self.expiry = expiry

    def trim(self, now: float) -> None:
        cutoff = now - self.expiry
        while self and self[0] < cutoff:
            self.popleft()


class ProcessWindows(Storage, MovingWindowSupport):
    """Moving windows (and the fixed-window counters `limits` storages must also offer) in this
    process's memory. Registered with `limits` under the `aw-memory` scheme."""

    STORAGE_SCHEME = ["aw-memory"]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options):
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        self._lock = threading.Lock()
        self._windows: dict[str, _Window] = {}
        # window length -> the windows of that length, least recently hit first
        self._by_last_hit: dict[float, OrderedDict[str, _Window]] = {}
        self._counters: dict[str, tuple[int, float]] = {}  # key -> (count, monotonic expiry)
        self._next_sweep = time.monotonic() + SWEEP_SECONDS

    @property
    def base_exceptions(self) -> tuple[type[Exception], ...]:
        return ()

    def _sweep(self, now: float) -> None:
        """Drops the counters that expired (called with the lock held)."""
        for key in [k for k, (_, expires) in self._counters.items() if expires <= now]:
            del self._counters[key]

    def _maybe_sweep(self, now: float) -> None:
        if now >= self._next_sweep:
            self._next_sweep = now + SWEEP_SECONDS
            self._sweep(now)

    def _forget_idle(self, now: float) -> None:
        """Drops the windows whose newest hit has left them, from the least recently hit on
        (called with the lock held)."""
        for expiry, order in self._by_last_hit.items():
            cutoff = now - expiry
            while order:
                key, window = next(iter(order.items()))
                if window and window[-1] >= cutoff:
                    break
                order.popitem(last=False)
                del self._windows[key]

    def _hit(self, key: str, window: _Window | None, expiry: int, now: float, amount: int) -> None:
        if window is None:
            window = self._windows[key] = _Window(expiry)
        if amount == 1:
            window.append(now)
        else:
            window.extend(repeat(now, amount))
        order = self._by_last_hit.get(expiry)
        if order is None:
            order = self._by_last_hit[expiry] = OrderedDict()
        order[key] = window
        order.move_to_end(key)

    def acquire_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        return self.acquire_entries([(key, limit, expiry)], amount) == (True,)

    def acquire_entries(self, windows: Sequence[tuple[str, int, int]], amount: int = 1) -> tuple[bool, ...]:
        """Whether each (key, limit, expiry) window has room for `amount` hits; the hits are
        counted in every window when all have room, and in none otherwise."""
        with self._lock:
            now = time.monotonic()  # read under the lock, so every window stays in time order
            self._maybe_sweep(now)
            self._forget_idle(now)
            found = [self._windows.get(key) for key, _, _ in windows]
            for window in found:
                if window is not None:
                    window.trim(now)
            room = tuple((0 if window is None else len(window)) + amount <= limit
                         for window, (_, limit, _) in zip(found, windows, strict=True))
            if all(room):
                for window, (key, _, expiry) in zip(found, windows, strict=True):
                    self._hit(key, window, expiry, now, amount)
            return room

    def get_moving_window(self, key: str, limit: int, expiry: int) -> tuple[float, int]:
        """(unix time of the oldest hit still in the window, hits in the window); (now, 0) for none."""
        with self._lock:
            now, wall = time.monotonic(), time.time()
            window = self._windows.get(key)
            if window is not None:
                window.trim(now)
                if window:
                    return wall - (now - window[0]), len(window)
            return wall, 0

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        with self._lock:
            now = time.monotonic()
            self._maybe_sweep(now)
            count, expires = self._counters.get(key, (0, 0.0))
            if expires <= now:
                count, expires = 0, now + expiry
            self._counters[key] = (count + amount, expires)
            return count + amount

    def get(self, key: str) -> int:
        with self._lock:
            count, expires = self._counters.get(key, (0, 0.0))
            return count if expires > time.monotonic() else 0

    def get_expiry(self, key: str) -> float:
        with self._lock:
            now, wall = time.monotonic(), time.time()
            _, expires = self._counters.get(key, (0, now))
            return wall + max(0.0, expires - now)

    def check(self) -> bool:
        return True

    def reset(self) -> int | None:
        with self._lock:
            count = max(len(self._windows), len(self._counters))
            self._windows.clear()
            self._by_last_hit.clear()
            self._counters.clear()
            return count

    def clear(self, key: str) -> None:
        with self._lock:
            window = self._windows.pop(key, None)
            if window is not None:
                self._by_last_hit[window.expiry].pop(key, None)
            self._counters.pop(key, None)

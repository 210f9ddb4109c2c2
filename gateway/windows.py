"""Rate-limit windows kept in process, for the `limits` library's moving-window strategy.

Used instead of `limits`' MemoryStorage, which re-arms a `threading.Timer` (a new thread) every
10 ms while requests arrive: each start waits for the new thread to run, up to a GIL switch
interval under load, and two request threads re-arming at once raised "threads can only be started
once" (a 500; alisaifee/limits#26, fixed by #352, which no release has yet: 5.8.0 is the newest).
Its moving window is also a list that every hit inserts at the front of. Here each key is a deque
of hit times, oldest first, trimmed when touched, under one lock; keys nobody touches any more are
swept every `SWEEP_SECONDS` by whichever call comes next.

Hit times are read from the monotonic clock, so a wall clock set back (NTP, a VM resumed) neither
keeps hits in a window for the size of the jump (a key refused for an hour after a one-hour step
back) nor drops them early; times given out (a window's start, a counter's expiry) are unix
seconds, converted at the moment they are asked for.
"""
from __future__ import annotations

import threading
import time
from collections import deque
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
        self._counters: dict[str, tuple[int, float]] = {}  # key -> (count, monotonic expiry)
        self._next_sweep = time.monotonic() + SWEEP_SECONDS

    @property
    def base_exceptions(self) -> tuple[type[Exception], ...]:
        return ()

    def _sweep(self, now: float) -> None:
        """Drops the windows and counters that emptied (called with the lock held)."""
        for key, window in list(self._windows.items()):
            window.trim(now)
            if not window:
                del self._windows[key]
        for key in [k for k, (_, expires) in self._counters.items() if expires <= now]:
            del self._counters[key]

    def _maybe_sweep(self, now: float) -> None:
        if now >= self._next_sweep:
            self._next_sweep = now + SWEEP_SECONDS
            self._sweep(now)

    def _trimmed(self, key: str, expiry: float, now: float) -> _Window:
        window = self._windows.get(key)
        if window is None:
            window = self._windows[key] = _Window(expiry)
        else:
            window.trim(now)
        return window

    def acquire_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        return self.acquire_entries([(key, limit, expiry)], amount) == (True,)

    def acquire_entries(self, windows: Sequence[tuple[str, int, int]], amount: int = 1) -> tuple[bool, ...]:
        """Whether each (key, limit, expiry) window has room for `amount` hits; the hits are
        counted in every window when all have room, and in none otherwise."""
        with self._lock:
            now = time.monotonic()  # read under the lock, so every window stays in time order
            self._maybe_sweep(now)
            trimmed = [self._trimmed(key, expiry, now) for key, _, expiry in windows]
            room = tuple(len(window) + amount <= limit
                         for window, (_, limit, _) in zip(trimmed, windows, strict=True))
            if all(room):
                for window in trimmed:
                    if amount == 1:
                        window.append(now)
                    else:
                        window.extend(repeat(now, amount))
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
            self._counters.clear()
            return count

    def clear(self, key: str) -> None:
        with self._lock:
            self._windows.pop(key, None)
            self._counters.pop(key, None)

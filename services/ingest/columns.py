"""Points in columns, as catalog's WritePoints and detect's ScorePoints carry them: each series
once, then per point the position of its series, its time and its value. Python lists of plain
numbers, so a batch costs a few list appends per point instead of a message object."""
from __future__ import annotations

from collections.abc import Hashable
from typing import Any


class Columns:
    """Points of many series. `series[j]` is whatever describes series j (a (metric, tags) pair,
    a series id); `key` identifies it, so a series added twice is one."""

    def __init__(self) -> None:
        self.series: list[Any] = []
        self.series_index: list[int] = []
        self.times: list[float] = []
        self.values: list[float] = []
        self._position: dict[Hashable, int] = {}

    def __len__(self) -> int:
        return len(self.times)

    def series_position(self, key: Hashable, series: Any) -> int:
        """The position of the series `key`, added (described by `series`) when new."""
        j = self._position.get(key)
        if j is None:
            j = self._position[key] = len(self.series)
            self.series.append(series)
        return j

    def knows(self, key: Hashable) -> bool:
        return key in self._position

    def add(self, j: int, ts: float, value: float) -> int:
        """Appends a point of series position j; returns its position."""
        self.series_index.append(j)
        self.times.append(ts)
        self.values.append(value)
        return len(self.times) - 1

    def extend(self, other: Columns, keys: list[Hashable]) -> int:
        """Appends every point of `other` (whose series j has key keys[j]); returns where they start."""
        start = len(self.times)
        remap = [self.series_position(key, series) for key, series in zip(keys, other.series, strict=True)]
        self.series_index.extend([remap[j] for j in other.series_index])
        self.times.extend(other.times)
        self.values.extend(other.values)
        return start

    def keys(self) -> list[Hashable]:
        """The key of each series, by position."""
        keys: list[Hashable] = [None] * len(self.series)
        for key, j in self._position.items():
            keys[j] = key
        return keys

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
        self.keys: list[Hashable] = []  # the key of each series, by position
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
            self.keys.append(key)
        return j

    def knows(self, key: Hashable) -> bool:
        return key in self._position

    def add(self, j: int, ts: float, value: float) -> int:
        """Appends a point of series position j; returns its position."""
        self.series_index.append(j)
        self.times.append(ts)
        self.values.append(value)
        return len(self.times) - 1

    def extend(self, other: Columns) -> int:
        """Appends every point of `other`; returns where they start."""
        start = len(self.times)
        remap = [self.series_position(k, s) for k, s in zip(other.keys, other.series, strict=True)]
        self.series_index.extend([remap[j] for j in other.series_index])
        self.times.extend(other.times)
        self.values.extend(other.values)
        return start

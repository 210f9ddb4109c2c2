"""Put an irregular history on a regular grid.

- Step: the median of the positive differences between timestamps (robust to jitter and to a few
  gaps), rounded to whole seconds when it is at least 2 s.
- The grid is anchored at the last observed timestamp and runs backwards in whole steps, so the
  forecast continues it: the first forecast point is `last + step`.
- Each observation goes to its nearest grid slot; several in one slot (duplicates, jitter) are
  averaged.
- Gaps (empty slots): a gap of at most `LINEAR_GAP_MAX` steps, or any gap when no season is known
  or no full season precedes it, is filled by linear interpolation between its neighbours. Longer
  gaps are filled seasonally: the value one season earlier plus the level offset, which moves
  linearly from the offset at the gap's left edge to the one at its right edge (so a daily shape
  continues across a missing night without a jump at either end).
- At most `max_points` of the most recent slots are kept (the history window).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from services.forecast.errors import InsufficientData

LINEAR_GAP_MAX = 3
DEFAULT_MAX_POINTS = 10_000


@dataclass(frozen=True)
class Grid:
    """A regular history: `values[i]` at `last_timestamp - (len(values) - 1 - i) * step`."""

    values: np.ndarray
    step_seconds: float
    last_timestamp: float
    observed: int  # slots holding at least one observation (the rest were filled)

    def future(self, steps: int) -> np.ndarray:
        """Timestamps of the `steps` slots after the last observed point."""
        return self.last_timestamp + self.step_seconds * np.arange(1, steps + 1, dtype=np.float64)


def infer_step(timestamps: np.ndarray) -> float:
    """Median positive difference; whole seconds when at least 2 s. Needs two distinct times."""
    diffs = np.diff(np.asarray(timestamps, dtype=np.float64))
    diffs = diffs[diffs > 0]
    if diffs.size == 0:
        raise InsufficientData(2, int(np.unique(timestamps).size), "two distinct timestamps")
    step = float(np.median(diffs))
    return float(round(step)) if step >= 2.0 else step


def slots_back(timestamps: np.ndarray, step: float) -> np.ndarray:
    """How many grid slots before the last (sorted) timestamp each one falls in."""
    return np.rint((timestamps[-1] - timestamps) / step).astype(np.int64)


def in_window(timestamps: np.ndarray, step: float, max_points: int) -> np.ndarray:
    """Which of the sorted `timestamps` fall in the `max_points` most recent grid slots."""
    return slots_back(timestamps, step) < max_points


def clean(timestamps: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Drop non-finite points and sort by time (stable, so repeats keep their order)."""
    t = np.asarray(timestamps, dtype=np.float64)
    v = np.asarray(values, dtype=np.float64)
    if t.shape != v.shape or t.ndim != 1:
        raise ValueError("timestamps and values must be 1-D arrays of the same length")
    keep = np.isfinite(t) & np.isfinite(v)
    t, v = t[keep], v[keep]
    order = np.argsort(t, kind="stable")
    return t[order], v[order]


def regularize(
    timestamps: np.ndarray,
    values: np.ndarray,
    season: int | None = None,
    step_seconds: float | None = None,
    max_points: int = DEFAULT_MAX_POINTS,
) -> Grid:
    """The regular grid of a history (see the module docstring for the rules)."""
    t, v = clean(timestamps, values)
    if t.size == 0:
        raise InsufficientData(2, 0)
    step = step_seconds if step_seconds is not None else infer_step(t)
    last = float(t[-1])
    keep = in_window(t, step, max_points)
    back = slots_back(t[keep], step)
    v = v[keep]
    n = int(back.max()) + 1
    slot = n - 1 - back
    sums = np.bincount(slot, weights=v, minlength=n)
    counts = np.bincount(slot, minlength=n)
    y = np.full(n, np.nan)
    has = counts > 0
    y[has] = sums[has] / counts[has]
    fill_gaps(y, season)
    return Grid(values=y, step_seconds=float(step), last_timestamp=last, observed=int(has.sum()))


def fill_gaps(y: np.ndarray, season: int | None) -> None:
    """Fill NaN runs in place (the first and last values are always observed)."""
    missing = np.isnan(y)
    if not missing.any():
        return
    idx = np.flatnonzero(missing)
    # runs of consecutive missing slots: [start, end)
    breaks = np.flatnonzero(np.diff(idx) > 1)
    starts = np.concatenate(([idx[0]], idx[breaks + 1]))
    ends = np.concatenate((idx[breaks] + 1, [idx[-1] + 1]))
    for s, e in zip(starts, ends, strict=True):
        left, right = s - 1, e  # observed neighbours
        length = e - s
        frac = np.arange(1, length + 1) / (length + 1)
        if season and length > LINEAR_GAP_MAX and s - season >= 0:
            # seasonal fill: the profile one season earlier (repeated when the gap is longer than
            # a season; everything left of `s` is already filled) plus a linearly moving offset
            profile = np.empty(length + 1)
            for i in range(length + 1):
                j = s + i - season
                profile[i] = y[j] if j < s else profile[j - s]
            off_left = y[left] - y[left - season] if left - season >= 0 else 0.0
            off_right = y[right] - profile[length]
            y[s:e] = profile[:length] + off_left + (off_right - off_left) * frac
        else:
            y[s:e] = y[left] + (y[right] - y[left]) * frac

"""Per-series detector state: fixed-size struct-of-arrays, one row per series slot.

The kernel reads a series' row into locals once per batch and writes it back, so the layout is
chosen for compactness (profiles in float32) rather than for access order.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

N_MODELS = 3            # seasonal models: none, daily, weekly (codes.SEASONALITY_*)
DAILY_BUCKETS = 48      # 30-minute buckets, linearly interpolated
WEEKLY_BUCKETS = 168    # 1-hour buckets, linearly interpolated
N_TAILS = 6             # tail models (up, down) of: point, short, long statistics


class SeriesState(NamedTuple):
    count: np.ndarray        # int64: points scored
    last_ts: np.ndarray      # timestamp of the last scored point (unix s)
    first_ts: np.ndarray     # timestamp of the first point
    step: np.ndarray         # inferred step (s), a running median of the gaps
    rate_step: np.ndarray    # the step the EWMA rates were derived from
    quantum: np.ndarray      # smallest non-zero change seen: the value's resolution
    prev_x: np.ndarray       # last value
    slow: np.ndarray         # slow level the seasonal profiles are learned against
    short: np.ndarray        # short-window mean of the deviation from the baseline
    short_scale: np.ndarray  # mean |short|: its normal size
    long: np.ndarray         # longer-window mean of the deviation from the baseline
    long_scale: np.ndarray   # mean |long|
    run: np.ndarray          # int32: signed run of big same-sign residuals
    model: np.ndarray        # int8: seasonal model in use (auto)
    level: np.ndarray        # (N_MODELS,) fast level per model
    base: np.ndarray         # (N_MODELS,) medium baseline per model
    spread: np.ndarray       # (N_MODELS,) mean |one-step residual| per model
    tail_q: np.ndarray       # (N_TAILS,) (1 - f) quantile of |z|
    tail_xi: np.ndarray      # (N_TAILS,) Hill tail index beyond q
    ep_open: np.ndarray      # int8: an episode is open
    ep_quiet: np.ndarray     # int32: normal points in a row while open
    ep_quiet_ts: np.ndarray  # timestamp of the first of those normal points
    ep_start: np.ndarray     # timestamp of the episode's first anomalous point
    ep_peak: np.ndarray      # peak score of the episode
    daily: np.ndarray        # float32 (DAILY_BUCKETS,) daily profile (offset from slow level)
    weekly: np.ndarray       # float32 (WEEKLY_BUCKETS,) weekly profile


_SHAPES: dict[str, tuple[np.dtype, tuple[int, ...]]] = {
    "count": (np.dtype(np.int64), ()),
    "last_ts": (np.dtype(np.float64), ()),
    "first_ts": (np.dtype(np.float64), ()),
    "step": (np.dtype(np.float64), ()),
    "rate_step": (np.dtype(np.float64), ()),
    "quantum": (np.dtype(np.float64), ()),
    "prev_x": (np.dtype(np.float64), ()),
    "slow": (np.dtype(np.float64), ()),
    "short": (np.dtype(np.float64), ()),
    "short_scale": (np.dtype(np.float64), ()),
    "long": (np.dtype(np.float64), ()),
    "long_scale": (np.dtype(np.float64), ()),
    "run": (np.dtype(np.int32), ()),
    "model": (np.dtype(np.int8), ()),
    "level": (np.dtype(np.float64), (N_MODELS,)),
    "base": (np.dtype(np.float64), (N_MODELS,)),
    "spread": (np.dtype(np.float64), (N_MODELS,)),
    "tail_q": (np.dtype(np.float64), (N_TAILS,)),
    "tail_xi": (np.dtype(np.float64), (N_TAILS,)),
    "ep_open": (np.dtype(np.int8), ()),
    "ep_quiet": (np.dtype(np.int32), ()),
    "ep_quiet_ts": (np.dtype(np.float64), ()),
    "ep_start": (np.dtype(np.float64), ()),
    "ep_peak": (np.dtype(np.float64), ()),
    "daily": (np.dtype(np.float32), (DAILY_BUCKETS,)),
    "weekly": (np.dtype(np.float32), (WEEKLY_BUCKETS,)),
}
assert tuple(_SHAPES) == SeriesState._fields

# one series' state as a packed record: the snapshot format (see engine.snapshot)
RECORD_DTYPE = np.dtype([(name, dt, shape) for name, (dt, shape) in _SHAPES.items()])


def allocate(capacity: int) -> SeriesState:
    """Zeroed state for `capacity` slots; a slot with count 0 is empty (initialised by its first point)."""
    return SeriesState(*(np.zeros((capacity, *shape), dtype=dt) for dt, shape in _SHAPES.values()))


def grow(state: SeriesState, capacity: int) -> SeriesState:
    """A copy of `state` with `capacity` slots (>= the current), new slots empty."""
    fresh = allocate(capacity)
    n = state.count.shape[0]
    for old, new in zip(state, fresh, strict=True):
        new[:n] = old
    return fresh


def clear(state: SeriesState, slot: int) -> None:
    """Empty one slot."""
    for arr in state:
        arr[slot] = 0


def to_record(state: SeriesState, slot: int) -> np.ndarray:
    """One slot as a RECORD_DTYPE scalar array."""
    rec = np.zeros((), dtype=RECORD_DTYPE)
    for name, arr in zip(SeriesState._fields, state, strict=True):
        rec[name] = arr[slot]
    return rec


def from_record(state: SeriesState, slot: int, rec: np.ndarray) -> None:
    """Write a RECORD_DTYPE record into one slot."""
    for name, arr in zip(SeriesState._fields, state, strict=True):
        arr[slot] = rec[name]


def bytes_per_series() -> int:
    """Exact state size of one series (the packed record)."""
    return RECORD_DTYPE.itemsize

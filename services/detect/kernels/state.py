"""Per-series detector state: one contiguous row per series slot (array of structs).

Two arrays: `scalars` (float64, one row of N_SCALARS per slot; counters and flags are stored as
exact small integers) and `profiles` (float32, the daily then the weekly seasonal profile). A
series' scalars fill a few adjacent cache lines, so loading and storing them once per batch costs
little even when thousands of series interleave (one array per field touched a line per field).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

N_MODELS = 3            # seasonal models: none, daily, weekly (codes.SEASONALITY_*)
DAILY_BUCKETS = 48      # 30-minute buckets, linearly interpolated
WEEKLY_BUCKETS = 168    # 1-hour buckets, linearly interpolated
N_PROFILE = DAILY_BUCKETS + WEEKLY_BUCKETS
N_TAILS = 8             # tail models (up, down) of: point, short, long, drift statistics

# scalar fields, in row order (the kernel reads them by these indices)
SCALAR_FIELDS: tuple[str, ...] = (
    "count",        # points scored
    "last_ts",      # timestamp of the last scored point (unix s)
    "first_ts",     # timestamp of the first point
    "step",         # inferred step (s), a running median of the gaps
    "rate_step",    # the step the EWMA rates were derived from
    "quantum",      # smallest non-zero change seen: the value's resolution
    "prev_x",       # last value
    "slow",         # slow level the seasonal profiles are learned against
    "short",        # short-window mean of the deviation from the baseline
    "short_scale",  # mean |short|: its normal size
    "long",         # longer-window mean of the deviation from the baseline
    "long_scale",   # mean |long|
    "drift_scale",  # mean |medium baseline - slow baseline|: the normal size of drifts
    "slow_base",    # slow baseline of the deseasonalised value (model in use)
    "run",          # signed run of big same-sign residuals
    "model",        # seasonal model in use (auto)
    "lv0", "lv1", "lv2",        # fast level per model
    "bs0", "bs1", "bs2",        # medium baseline per model
    "sp0", "sp1", "sp2",        # mean |one-step residual| per model
    *(f"q{j}" for j in range(N_TAILS)),     # (1 - f) quantile of |z| per tail model
    *(f"xi{j}" for j in range(N_TAILS)),    # Hill tail index beyond q
    # derived constants cached with the inputs they were derived from (recomputing them for every
    # series of every batch cost more than scoring a few points)
    "rates_step", "rates_window",   # the rate_step and comparison window the rates below are for
    "a_fast", "a_base", "a_spread", "a_short", "a_long", "a_drift", "a_min",    # EWMA rates
    "q_up", "q_dn", "a_xi",         # tail model steps
    "range_thr",    # the surprise threshold f_up / f_dn are for
    "f_up", "f_dn",  # expected-range factors of the point tails
    "ep_open",      # an episode is open (0/1)
    "ep_quiet",     # normal points in a row while open
    "ep_quiet_ts",  # timestamp of the first of those normal points
    "ep_start",     # timestamp of the episode's first anomalous point
    "ep_peak",      # peak score of the episode
)
N_SCALARS = len(SCALAR_FIELDS)
FIELD = {name: i for i, name in enumerate(SCALAR_FIELDS)}
I_COUNT = FIELD["count"]
I_LAST_TS = FIELD["last_ts"]


class SeriesState(NamedTuple):
    scalars: np.ndarray     # float64 (capacity, N_SCALARS)
    profiles: np.ndarray    # float32 (capacity, N_PROFILE): daily, then weekly offsets from slow


# one series' state as a packed record: the snapshot format (see engine.snapshot)
RECORD_DTYPE = np.dtype([("scalars", np.float64, (N_SCALARS,)), ("profiles", np.float32, (N_PROFILE,))])


def allocate(capacity: int) -> SeriesState:
    """Zeroed state for `capacity` slots; a slot with count 0 is empty (initialised by its first point)."""
    return SeriesState(np.zeros((capacity, N_SCALARS)), np.zeros((capacity, N_PROFILE), np.float32))


def grow(state: SeriesState, capacity: int) -> SeriesState:
    """A copy of `state` with `capacity` slots (>= the current), new slots empty."""
    fresh = allocate(capacity)
    n = state.scalars.shape[0]
    fresh.scalars[:n] = state.scalars
    fresh.profiles[:n] = state.profiles
    return fresh


def clear(state: SeriesState, slot: int) -> None:
    """Empty one slot."""
    state.scalars[slot] = 0.0
    state.profiles[slot] = 0.0


def to_record(state: SeriesState, slot: int) -> np.ndarray:
    """One slot as a RECORD_DTYPE scalar array."""
    rec = np.zeros((), dtype=RECORD_DTYPE)
    rec["scalars"] = state.scalars[slot]
    rec["profiles"] = state.profiles[slot]
    return rec


def from_record(state: SeriesState, slot: int, rec: np.ndarray) -> None:
    """Write a RECORD_DTYPE record into one slot."""
    state.scalars[slot] = rec["scalars"]
    state.profiles[slot] = rec["profiles"]


def bytes_per_series() -> int:
    """Exact state size of one series (the packed record)."""
    return RECORD_DTYPE.itemsize

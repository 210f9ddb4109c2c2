"""Tunables of the scoring kernel, passed as an argument (a cached kernel would freeze globals).

Horizons are in points at the series' inferred step unless the name says seconds; the
comparison_window of a series caps the point horizons (see `scoring._series_rates`).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np


class Tunables(NamedTuple):
    fast_points: float = 8.0          # fast level: the one-step prediction follows local wander
    base_points: float = 250.0        # medium baseline the short-window statistic compares with
    spread_points: float = 300.0      # spread (mean |residual|) per seasonal model
    short_points: float = 3.0         # short-window mean of the deviation from the baseline
    long_points: float = 40.0         # longer window of the same: slow shifts and trends add up
    drift_points: float = 3000.0      # slow baseline the medium one is compared with (drifts, ramps)
    tail_points: float = 1000.0       # memory of the per-series tail models (calibration)
    slow_seconds: float = 86400.0     # slow level the seasonal profiles are learned against
    huber_clip: float = 3.0           # residuals beyond this many spreads are clipped in updates
    spread_clip: float = 4.0          # |residual| beyond this many spreads is clipped for the spread
    # the step estimate moves in 2 % steps, so on jittery timestamps it wanders ~4 % around the
    # true step; the EWMA rates follow it only beyond that (re-deriving them every point cost ~20 %)
    rate_step_tolerance: float = 0.06
    shift_run: float = 5.0            # this many big same-sign residuals in a row: accept a new level
    tail_fraction: float = 0.01       # tail model threshold: the (1 - f) quantile of |z|
    xi_min: float = 0.12              # lightest tail allowed (about Gaussian)
    xi_max: float = 1.5               # heaviest tail allowed
    xi_cap: float = 1.5               # cap of log(z / q) in tail updates (anomalies barely teach it)
    q_min: float = 1.0                # smallest tail threshold (constant series)
    tail_warmup: float = 30.0         # points before the tail models learn
    quantum_floor: float = 0.5        # spread floor in units of the value's resolution (counters)
    score_k: float = 2.5              # score = 1 - p ** (1 / score_k): 0.99 <-> p = 1e-5
    ratio_guard_k: float = 10.0       # ratio guards apply when baseline mean > this many stds
    select_margin: float = 0.9        # a seasonal model must beat the current one by 10 %
    daily_min_days: float = 1.25      # history needed before the daily model can be chosen
    weekly_min_days: float = 8.0      # history needed before the weekly model can be chosen
    trend_z: float = 2.0              # sustained change with |point z| below this: trend
    reset_surprise: float = 12.0      # short statistic this surprising: re-anchor the baseline
    close_points: float = 5.0         # episode closes after this many normal points in a row
    close_seconds: float = 1800.0     # ... or when the normal run spans this many seconds
    # anomaly thresholds as surprise -ln p per sensitivity; warning / critical are rarer still
    surprise_low: float = 14.0
    surprise_medium: float = 11.0
    surprise_high: float = 8.5
    warning_extra: float = 3.0
    critical_extra: float = 7.0


DEFAULT_TUNABLES = Tunables()


def sensitivity_thresholds(tun: Tunables = DEFAULT_TUNABLES) -> np.ndarray:
    """Score thresholds [sensitivity (low, medium, high), level (info, warning, critical)]:
    the kernel's score is 1 - p ** (1 / score_k) with p = exp(-surprise)."""
    base = np.array([tun.surprise_low, tun.surprise_medium, tun.surprise_high])
    extra = np.array([0.0, tun.warning_extra, tun.critical_extra])
    surprise = base[:, None] + extra[None, :]
    return -np.expm1(-surprise / tun.score_k)

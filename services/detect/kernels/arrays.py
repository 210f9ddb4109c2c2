"""Per-slot configuration arrays and per-point output arrays of the scoring kernel."""
from __future__ import annotations

from typing import NamedTuple

import numpy as np


class ConfigArrays(NamedTuple):
    """anomaly_config of every slot, as integer codes and numbers (codes.py names them)."""

    enabled: np.ndarray           # uint8
    spike_threshold: np.ndarray   # float64, > 1
    drop_threshold: np.ndarray    # float64, in (0, 1)
    min_data_points: np.ndarray   # int64
    window_seconds: np.ndarray    # float64: comparison_window
    sensitivity: np.ndarray       # int8: codes.SENSITIVITY_*
    seasonality: np.ndarray       # int8: codes.SEASONALITY_*


class Outputs(NamedTuple):
    """One entry per input point, preallocated by the caller."""

    score: np.ndarray             # float64 in [0, 1]
    mean: np.ndarray              # float64 baseline mean
    std: np.ndarray               # float64 baseline std
    lower: np.ndarray             # float64 expected range
    upper: np.ndarray             # float64
    type: np.ndarray              # int8 codes.TYPE_*
    severity: np.ndarray          # int8 codes.SEVERITY_*
    learning: np.ndarray          # uint8
    skipped: np.ndarray           # uint8: at or before the series' last timestamp (or not finite)
    event: np.ndarray             # int8 codes.EVENT_*
    end_ts: np.ndarray            # float64: episode end (first normal point) on CLOSE, else NaN
    peak: np.ndarray              # float64: peak score of the open (or closing) episode, else 0


def allocate_config(capacity: int) -> ConfigArrays:
    return ConfigArrays(
        enabled=np.ones(capacity, np.uint8),
        spike_threshold=np.full(capacity, 3.0),
        drop_threshold=np.full(capacity, 0.3),
        min_data_points=np.full(capacity, 100, np.int64),
        window_seconds=np.full(capacity, 7 * 86400.0),
        sensitivity=np.ones(capacity, np.int8),
        seasonality=np.full(capacity, 3, np.int8),
    )


def grow_config(cfg: ConfigArrays, capacity: int) -> ConfigArrays:
    fresh = allocate_config(capacity)
    n = cfg.enabled.shape[0]
    for old, new in zip(cfg, fresh, strict=True):
        new[:n] = old
    return fresh


def allocate_outputs(n: int) -> Outputs:
    return Outputs(
        score=np.empty(n), mean=np.empty(n), std=np.empty(n), lower=np.empty(n), upper=np.empty(n),
        type=np.empty(n, np.int8), severity=np.empty(n, np.int8), learning=np.empty(n, np.uint8),
        skipped=np.empty(n, np.uint8), event=np.empty(n, np.int8), end_ts=np.empty(n),
        peak=np.empty(n),
    )

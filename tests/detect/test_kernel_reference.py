"""The numba kernels against their plain-Python references (tests/detect/reference.py)."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numba import njit

from services.detect.kernels import state as state_mod
from services.detect.kernels.arrays import allocate_config, allocate_outputs
from services.detect.kernels.grouping import group_by_slot
from services.detect.kernels.scoring import _floor_div, score_batch, score_of_surprise, surprise_at_least
from services.detect.kernels.tunables import DEFAULT_TUNABLES, sensitivity_thresholds
from tests.detect.reference import RefConfig, RefSeries, group_by_slot_ref, score_reference

THR = sensitivity_thresholds(DEFAULT_TUNABLES)
FIELDS = ("score", "mean", "std", "lower", "upper", "type", "severity", "learning", "skipped", "event",
          "end_ts", "peak")


def run_both(slots, ts, xs, n_slots, configs=None, batches=1):
    configs = configs or [RefConfig(min_data_points=20) for _ in range(n_slots)]
    st_ = state_mod.allocate(n_slots)
    cfg = allocate_config(n_slots)
    for s, c in enumerate(configs):
        cfg.enabled[s] = c.enabled
        cfg.spike_threshold[s] = c.spike_threshold
        cfg.drop_threshold[s] = c.drop_threshold
        cfg.min_data_points[s] = c.min_data_points
        cfg.window_seconds[s] = c.window_seconds
        cfg.sensitivity[s] = c.sensitivity
        cfg.seasonality[s] = c.seasonality
    ref_series = [RefSeries() for _ in range(n_slots)]
    got, want = [], []
    for part in np.array_split(np.arange(len(slots)), batches):
        out = allocate_outputs(len(part))
        score_batch(np.asarray(slots)[part].astype(np.int64), np.asarray(ts, float)[part],
                    np.asarray(xs, float)[part], cfg, st_, DEFAULT_TUNABLES, THR, out)
        got.append(out)
        want.extend(score_reference([int(s) for s in np.asarray(slots)[part]],
                                    [float(t) for t in np.asarray(ts)[part]],
                                    [float(x) for x in np.asarray(xs)[part]], configs, ref_series,
                                    DEFAULT_TUNABLES, THR))
    return got, want


def assert_same(got, want):
    for name in FIELDS:
        k = np.concatenate([getattr(o, name) for o in got]).astype(float)
        r = np.array([w[name] for w in want], dtype=float)
        np.testing.assert_allclose(k, r, rtol=1e-9, atol=1e-12, equal_nan=True, err_msg=name)


def interleave(rng, n_series, n_each):
    slots = np.argsort(rng.random((n_each, n_series)), axis=1).ravel()
    rounds = np.repeat(np.arange(n_each), n_series)
    return slots, rounds


@pytest.mark.parametrize("seed", [0, 1])
def test_random_interleaved_series(seed):
    rng = np.random.default_rng(seed)
    slots, rounds = interleave(rng, 4, 400)
    ts = 1.7e9 + rounds * 300.0 + slots * 7.0
    scale = np.array([1.0, 1e-3, 1e6, 50.0])[slots]
    xs = scale * (10 + rng.standard_normal(slots.size))
    xs[rng.random(slots.size) < 0.01] *= 4
    assert_same(*run_both(slots, ts, xs, 4, batches=3))


def test_constant_and_counter_series():
    n = 500
    slots = np.tile([0, 1, 2], n)
    rounds = np.repeat(np.arange(n), 3)
    ts = 1.6e9 + rounds * 60.0
    rng = np.random.default_rng(3)
    xs = np.stack([np.full(n, 7.0), rng.poisson(0.3, n).astype(float), np.zeros(n)], 1).ravel()
    xs[3 * 400] = 9.0            # a change on the constant series
    assert_same(*run_both(slots, ts, xs, 3))


def test_gappy_irregular_and_extreme_values():
    rng = np.random.default_rng(4)
    n = 1500
    gaps = rng.choice([60.0, 60.0, 60.0, 61.5, 3600.0, 86400.0 * 3], n)
    ts = 1.5e9 + np.cumsum(gaps)
    xs = rng.lognormal(3, 1, n)
    xs[::97] = 1e300
    xs[5::89] = -1e300
    xs[7::50] = np.nan                          # guarded: skipped
    ts_dup = ts.copy()
    ts_dup[11::60] = ts_dup[10::60][: len(ts_dup[11::60])]    # repeated timestamps: skipped
    got, want = run_both(np.zeros(n, int), ts_dup, xs, 1, batches=4)
    assert_same(got, want)
    skipped = np.concatenate([o.skipped for o in got]).astype(bool)
    assert skipped[7::50].all() and skipped[11::60].all()
    for name in ("score", "mean", "std", "lower", "upper"):
        assert np.isfinite(np.concatenate([getattr(o, name) for o in got])[~skipped]).all(), name


def test_configs_sensitivity_seasonality_window_disabled():
    rng = np.random.default_rng(5)
    slots, rounds = interleave(rng, 6, 3000)
    ts = 1.7e9 + rounds * 600.0
    xs = 100 + 20 * np.sin(2 * np.pi * ts / 86400.0) + rng.standard_normal(slots.size)
    xs[rng.random(slots.size) < 0.005] += 30
    configs = [RefConfig(sensitivity=0), RefConfig(sensitivity=2, seasonality=1),
               RefConfig(seasonality=0, window_seconds=3600.0), RefConfig(enabled=False),
               RefConfig(seasonality=2, window_seconds=30 * 86400.0, min_data_points=10),
               RefConfig(spike_threshold=1.1, drop_threshold=0.95)]
    assert_same(*run_both(slots, ts, xs, 6, configs=configs, batches=2))


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2), st.floats(0.0, 5000.0), st.floats(-1e9, 1e9)),
                min_size=1, max_size=300))
def test_property_any_points(points):
    slots = [p[0] for p in points]
    ts = [p[1] for p in points]
    xs = [p[2] for p in points]
    assert_same(*run_both(slots, ts, xs, 3, configs=[RefConfig(min_data_points=5)] * 3))


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(0, 9), max_size=200), st.integers(10, 12))
def test_group_by_slot_matches_reference(slots, n_slots):
    order, starts = group_by_slot(np.array(slots, dtype=np.int64), n_slots)
    ref_order, ref_starts = group_by_slot_ref(slots, n_slots)
    assert order.tolist() == ref_order
    assert starts.tolist() == ref_starts


@pytest.mark.parametrize("threshold", [*THR.ravel().tolist(), 0.5, 1e-300, 1.0 - 1e-15, 1.0, 0.0, 2.0])
def test_surprise_at_least_is_the_exact_score_boundary(threshold):
    k = DEFAULT_TUNABLES.score_k
    s = surprise_at_least(threshold, k)
    if threshold <= 0.0:
        assert s == -np.inf
    elif threshold > 1.0:
        assert np.isnan(s)
    else:
        assert score_of_surprise(s, k) >= threshold
        assert s == 0.0 or score_of_surprise(np.nextafter(s, 0.0), k) < threshold
        for v in np.nextafter(s, 0.0) * (1.0 - np.geomspace(1e-15, 0.5, 50)):
            assert score_of_surprise(v, k) < threshold


@njit
def _floor_of_quotient(t, period):
    return math.floor(t / period)       # as the kernel had it (int64 in numba, like _floor_div)


def test_floor_div_is_floor_of_the_quotient_also_at_period_boundaries():
    rng = np.random.default_rng(6)
    day = 86400.0
    edges = day * rng.integers(-30000, 30000, 2000).astype(float)
    near = [np.nextafter(e, np.inf * d) if d else e for e in edges for d in (-1, 0, 1)]
    ts = np.concatenate([near, edges + rng.uniform(-1e-3, 1e-3, edges.size),
                         rng.uniform(-3e9, 3e9, 5000), [1.0e15, -7.5e14, 2.0 ** 40, 1e300, 5e-324]])
    for t in ts.tolist():
        for period in (day, 7 * day):
            assert _floor_div(t, period, 1.0 / period) == _floor_of_quotient(t, period), (t, period)


@pytest.mark.parametrize("start", [0, 1, 5, 200])
def test_the_largest_values_and_times_never_spoil_the_state(start):
    """+-1.8e308 alternating overflowed differences and spreads to inf and then NaN: the series
    never scored again. Times past what a bucket index can hold are skipped."""
    rng = np.random.default_rng(7)
    n = 700
    ts = 1.7e9 + np.arange(n) * 60.0
    xs = 100 + rng.standard_normal(n)
    xs[start:start + 6] = [1.7976931348623157e308, -1.7976931348623157e308] * 3
    ts[400], ts[401], ts[402] = 1e300, -1e300, 9.3e18
    xs[650] = 160.0                                 # a spike once it has settled again
    got, want = run_both(np.zeros(n, int), ts, xs, 1, batches=3)
    assert_same(got, want)
    skipped = np.concatenate([o.skipped for o in got]).astype(bool)
    assert skipped[400:403].all() and skipped.sum() == 3
    for name in ("score", "mean", "std", "lower", "upper"):
        assert np.isfinite(np.concatenate([getattr(o, name) for o in got])[~skipped]).all(), name
    if start >= 200:                                # past warm-up the level shrugs them off
        assert np.concatenate([o.severity for o in got])[650] > 0


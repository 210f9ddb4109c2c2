import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.forecast.errors import InsufficientData
from services.forecast.grid import LINEAR_GAP_MAX, fill_gaps, infer_step, regularize


def test_step_is_median_diff_robust_to_jitter_and_gaps():
    rng = np.random.default_rng(1)
    t = 1_000_000.0 + 60.0 * np.arange(500) + rng.uniform(-3, 3, 500)
    t = np.delete(t, np.arange(100, 130))  # a gap
    assert infer_step(np.sort(t)) == 60.0


def test_step_needs_two_distinct_timestamps():
    with pytest.raises(InsufficientData):
        infer_step(np.array([5.0, 5.0, 5.0]))


def test_duplicates_are_averaged_and_grid_ends_at_last_point():
    t = np.array([0.0, 10.0, 10.0, 20.0, 30.0])
    v = np.array([1.0, 2.0, 4.0, 5.0, 6.0])
    g = regularize(t, v)
    assert g.step_seconds == 10.0
    np.testing.assert_allclose(g.values, [1.0, 3.0, 5.0, 6.0])
    assert g.last_timestamp == 30.0
    np.testing.assert_allclose(g.future(3), [40.0, 50.0, 60.0])


def test_unsorted_and_non_finite_points_are_handled():
    t = np.array([30.0, 0.0, 10.0, np.nan, 20.0])
    v = np.array([4.0, 1.0, 2.0, 9.0, np.inf])
    g = regularize(t, v, step_seconds=10.0)
    np.testing.assert_allclose(g.values, [1.0, 2.0, 3.0, 4.0])  # 20 s dropped, then interpolated
    assert g.observed == 3


def test_short_gap_is_linear():
    t = np.array([0.0, 1, 2, 5, 6]) * 3600
    v = np.array([0.0, 1, 2, 5, 6])
    g = regularize(t, v, season=24)
    np.testing.assert_allclose(g.values, np.arange(7.0))


def test_long_gap_follows_the_season_with_matching_edges():
    season = 24
    n = season * 6
    base = np.sin(2 * np.pi * np.arange(n) / season) * 10 + 0.05 * np.arange(n)
    y = base.copy()
    y[100:110] = np.nan  # 10 > LINEAR_GAP_MAX
    assert 10 > LINEAR_GAP_MAX
    fill_gaps(y, season)
    assert np.max(np.abs(y[100:110] - base[100:110])) < 1e-9  # trend + exact season
    z = base.copy()
    z[100:110] = np.nan
    fill_gaps(z, None)  # linear would miss the shape by far
    assert np.max(np.abs(z[100:110] - base[100:110])) > 1.0


def test_gap_longer_than_a_season_repeats_the_cycle():
    season = 4
    y = np.tile([0.0, 1.0, 2.0, 1.0], 6)
    truth = y.copy()
    y[6:17] = np.nan
    fill_gaps(y, season)
    np.testing.assert_allclose(y, truth)


def test_history_window_keeps_most_recent_points():
    t = np.arange(100.0)
    g = regularize(t, t * 2, max_points=30)
    assert g.values.size == 30
    assert g.values[-1] == 198.0 and g.values[0] == 2 * 70


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 500), st.floats(-1e6, 1e6)), min_size=3, max_size=80),
       st.sampled_from([None, 3, 7]))
def test_grid_is_complete_and_within_observed_range(points, season):
    t = np.array([p[0] for p in points], dtype=float) * 60.0
    v = np.array([p[1] for p in points], dtype=float)
    if np.unique(t).size < 2:
        return
    g = regularize(t, v, season=season)
    assert np.all(np.isfinite(g.values))
    assert g.last_timestamp == t.max()
    assert g.values.size == int(round((t.max() - t.min()) / g.step_seconds)) + 1

"""Forecasts of histories at the edges of floating point: every model answers finite, ordered
bands (or a clear refusal), never a model failure (500 INTERNAL_ERROR)."""
from __future__ import annotations

import numpy as np
import pytest

from services.forecast.forecaster import forecast
from services.forecast.registry import default_registry

HOUR = 3600.0
N = 200
MODELS = [m.name for m in default_registry().list_models() if m.available]


def history(kind: str) -> tuple[np.ndarray, np.ndarray]:
    i = np.arange(N)
    t = 1.7e9 + HOUR * i
    wave = 1 + 0.1 * np.sin(i / 3)
    values = {
        "huge": 1e300 * wave,
        "tiny": 1e-300 * wave,
        "alternating_max": np.where(i % 2 == 0, 1.7e308, -1.7e308),
        "constant_max": np.full(N, 1.7e308),
        "zero": np.zeros(N),
    }[kind]
    return t, values


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("kind", ["huge", "tiny", "alternating_max", "constant_max", "zero"])
def test_extreme_scales_give_finite_ordered_bands(kind, model):
    t, v = history(kind)
    result = forecast(t, v, 6, model=model, confidence=0.999)
    assert result.values.size == 6
    for part in (result.values, result.lower, result.upper):
        assert np.all(np.isfinite(part)), (kind, model, part)
    assert np.all(result.lower <= result.values) and np.all(result.values <= result.upper)


def test_a_scaled_history_gives_the_scaled_forecast():
    i = np.arange(N)
    t = 1.7e9 + HOUR * i
    v = 10 + np.sin(2 * np.pi * i / 24) + 0.1 * np.random.default_rng(1).standard_normal(N)
    plain = forecast(t, v, 12, model="ets")
    scaled = forecast(t, v * 1e-290, 12, model="ets")
    assert np.allclose(scaled.values, plain.values * 1e-290, rtol=1e-6)
    assert np.allclose(scaled.upper - scaled.lower, (plain.upper - plain.lower) * 1e-290, rtol=1e-6)


def gappy_extremes() -> tuple[np.ndarray, np.ndarray]:
    """±1.7e308 with short and long gaps (filled across a difference of 3.4e308) and two points in
    one slot (their sum is 3.4e308): the grid overflowed before the history was scaled."""
    i = np.arange(N)
    keep = (i % 10 != 3) & ~((i > 100) & (i < 110))
    t = 1.7e9 + HOUR * i[keep]
    v = np.where(i[keep] % 2 == 0, 1.7e308, -1.7e308)
    k = int(np.flatnonzero(v > 0)[-3])  # a late slot holding +1.7e308 gets a second one
    return np.append(t, t[k] + 60.0), np.append(v, 1.7e308)


@pytest.mark.parametrize("model", MODELS)
def test_gaps_and_repeats_between_the_largest_floats_give_finite_ordered_bands(model):
    t, v = gappy_extremes()
    result = forecast(t, v, 6, model=model, confidence=0.999)
    for part in (result.values, result.lower, result.upper):
        assert np.all(np.isfinite(part)), (model, part)
    assert np.all(result.lower <= result.values) and np.all(result.values <= result.upper)

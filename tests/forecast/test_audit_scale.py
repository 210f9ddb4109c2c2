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

"""Histories at the edges of what a forecast can use: a window that holds too few observations,
and a horizon that would run past the last time a timestamp can show."""
from __future__ import annotations

import numpy as np
import pytest

from services.common.timeutil import LATEST
from services.forecast.errors import InsufficientData, InvalidHorizon
from services.forecast.forecaster import MIN_POINTS, forecast
from services.forecast.registry import default_registry

MINUTE = 60.0
DAY = 86_400.0
MODELS = [m.name for m in default_registry().list_models() if m.available]


def old_points_then_one_recent() -> tuple[np.ndarray, np.ndarray]:
    """20 minute-step points, 8 days of silence (11,520 steps: beyond the 10,000-step window),
    then one point: the window holds a single observation."""
    old = 1.7e9 + MINUTE * np.arange(20)
    t = np.append(old, old[-1] + 8 * DAY)
    return t, np.arange(21.0)


@pytest.mark.parametrize("model", MODELS)
def test_a_window_with_too_few_observations_is_insufficient_data_not_a_model_failure(model):
    t, v = old_points_then_one_recent()
    with pytest.raises(InsufficientData) as caught:
        forecast(t, v, 5, model=model)
    assert caught.value.code == "INSUFFICIENT_DATA"
    assert caught.value.minimum_points == MIN_POINTS and caught.value.got == 1
    assert "10000" in caught.value.message


def test_a_window_with_enough_observations_across_a_long_gap_forecasts():
    left = 1.7e9 + MINUTE * np.arange(10)
    right = left[-1] + MINUTE * 9_000 + MINUTE * np.arange(10)
    result = forecast(np.concatenate([left, right]), np.arange(20.0), 5, model="auto")
    assert np.all(np.isfinite(result.values))
    assert np.all(result.lower <= result.values) and np.all(result.values <= result.upper)


def test_a_horizon_past_the_year_9999_is_refused_as_a_horizon():
    yearly = 365 * DAY
    t = LATEST - yearly * 3 - yearly * np.arange(20)[::-1]
    with pytest.raises(InvalidHorizon) as caught:
        forecast(t, np.arange(20.0), 4, model="seasonal_naive")
    assert caught.value.details == {"field": "horizon"} and "9999" in caught.value.message
    assert forecast(t, np.arange(20.0), 3, model="seasonal_naive").timestamps[-1] <= LATEST

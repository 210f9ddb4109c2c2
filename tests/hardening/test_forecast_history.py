"""Forecasts of awkward stored histories, end to end: a recent window with too few points, values
at the edge of floating point with gaps, and a series denser than one read of its history. Each
is a clear answer in the envelope or finite, ordered bands continuing from the last point."""
from __future__ import annotations

import math
import time
from datetime import datetime

import pytest

from tests.hardening.conftest import assert_clean

pytestmark = pytest.mark.e2e
MODELS = ["auto", "seasonal_naive", "ets", "theta", "mstl", "arima"]


def post_series(system, api, metric: str, times, values) -> None:
    for start in range(0, len(times), 500):
        points = [{"metric": metric, "value": v, "timestamp": t}
                  for t, v in zip(times[start:start + 500], values[start:start + 500], strict=True)]
        answer = api.post(f"{system.base_url}/v1/ingest", json={"points": points}, timeout=60)
        assert answer.status_code == 200, answer.text[:300]


def forecast(system, api, **body):
    answer = api.post(f"{system.base_url}/v1/forecast", json=body, timeout=120)
    assert_clean(answer, system)
    return answer


def seconds(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def assert_bands(body: dict) -> None:
    for p in body["forecast"]:
        assert all(math.isfinite(p[k]) for k in ("value", "lower", "upper")), p
        assert p["lower"] <= p["value"] <= p["upper"], p


@pytest.mark.parametrize("model", MODELS)
def test_old_points_and_one_recent_one_are_422_insufficient_data(system, api, model):
    """20 minute-step points 8 days ago (beyond the 10,000 steps the forecast reads) and one now."""
    metric = f"hard.fc.window.{model}"
    now = int(time.time()) - 5
    old = now - 8 * 86_400
    post_series(system, api, metric, [old + 60 * i for i in range(20)] + [now], [float(i) for i in range(21)])
    answer = forecast(system, api, metric=metric, horizon=5, model=model)
    assert answer.status_code == 422, answer.text[:300]
    error = answer.json()["error"]
    assert error["code"] == "INSUFFICIENT_DATA" and error["details"] == {"minimum_points": 10, "got": 1}


@pytest.mark.parametrize("model", MODELS)
def test_the_largest_floats_with_gaps_give_finite_ordered_bands(system, api, model):
    metric = f"hard.fc.extreme.{model}"
    now = int(time.time()) - 5
    steps = [i for i in range(200) if i % 10 != 3 and not 100 < i < 110]
    times = [now - 60 * (199 - i) for i in steps]
    post_series(system, api, metric, times, [1.7e308 if i % 2 == 0 else -1.7e308 for i in steps])
    answer = forecast(system, api, metric=metric, horizon=6, model=model, confidence=0.999)
    assert answer.status_code == 200, answer.text[:300]
    assert_bands(answer.json())


@pytest.mark.slow
def test_a_series_denser_than_one_read_is_forecast_from_its_last_point(system, api):
    """100,500 one-second points: one read of catalog holds 100,000 of them."""
    now = int(time.time()) - 5
    n = 100_500
    times = [now - (n - 1 - i) for i in range(n)]
    post_series(system, api, "hard.fc.dense", times, [float(i % 60) for i in range(n)])
    answer = forecast(system, api, metric="hard.fc.dense", horizon=3, model="seasonal_naive")
    assert answer.status_code == 200, answer.text[:300]
    body = answer.json()
    assert [seconds(p["timestamp"]) for p in body["forecast"]] == [now + 1, now + 2, now + 3]
    assert_bands(body)

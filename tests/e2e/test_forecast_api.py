"""Forecasts through REST against the real processes: the unwrapped answer on the series' grid,
intervals that widen with confidence, horizons, models, and every refusal (unknown or unavailable
model, too little history, unknown series, ambiguous name, out-of-range input)."""

from __future__ import annotations

import math
import random
from datetime import datetime

import pytest

from tests.e2e.builders import error_of, grid, ingest, new_user

pytestmark = pytest.mark.e2e
HOUR = 3600.0


def at(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


@pytest.fixture(scope="module")
def world(system):
    """An hourly series with a daily cycle, a name with two series, and a short series."""
    user = new_user(system)
    ts = grid(240, end_offset=10, step=HOUR)
    rng = random.Random(3)
    values = [100 + 10 * math.sin(2 * math.pi * i / 24) + rng.gauss(0, 1) for i in range(240)]
    metric_id = ingest(user, "fc.load", ts, values, {"host": "a"})[0]["metric_id"]
    twins = [
        ingest(user, "fc.twin", ts[-30:], values[-30:], {"zone": zone})[0]["metric_id"] for zone in ("x", "y")
    ]
    ingest(user, "fc.short", ts[-3:], values[-3:])
    return {"user": user, "ts": ts, "metric_id": metric_id, "twins": twins}


def forecast(user, **body):
    return user.post("/v1/forecast", body)


def test_the_answer_is_unwrapped_one_point_per_step_continuing_the_grid(world):
    answer = forecast(world["user"], metric="fc.load", horizon="24h")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert set(body) == {"forecast", "model", "confidence", "metric_id", "step_seconds"}
    assert body["metric_id"] == world["metric_id"] and body["step_seconds"] == HOUR
    assert body["confidence"] == 0.95 and body["model"].startswith("auto(")  # the model actually used
    last = world["ts"][-1]
    assert [at(p["timestamp"]) for p in body["forecast"]] == [last + HOUR * k for k in range(1, 25)]
    assert all(p["lower"] <= p["value"] <= p["upper"] for p in body["forecast"])
    assert all(80 < p["value"] < 120 for p in body["forecast"])  # it follows the daily cycle's range
    by_id = forecast(world["user"], metric_id=world["metric_id"], horizon=24).json()
    assert [p["timestamp"] for p in by_id["forecast"]] == [p["timestamp"] for p in body["forecast"]]


@pytest.mark.parametrize(
    ("horizon", "steps"), [("6h", 6), (12, 12), ("12", 12), ("90m", 2), ("1d", 24), ("2.5h", 3)]
)
def test_horizons_are_durations_or_steps_rounded_up(world, horizon, steps):
    answer = forecast(world["user"], metric="fc.load", horizon=horizon, model="seasonal_naive")
    assert answer.status_code == 200, answer.text
    assert len(answer.json()["forecast"]) == steps


def test_bands_widen_with_confidence(world):
    widths, values = [], []
    for confidence in (0.5, 0.8, 0.95, 0.999):  # both bounds are inclusive
        body = forecast(
            world["user"], metric="fc.load", horizon="12h", model="ets", confidence=confidence
        ).json()
        assert body["confidence"] == confidence and body["model"] == "ets"
        widths.append([p["upper"] - p["lower"] for p in body["forecast"]])
        values.append([p["value"] for p in body["forecast"]])
    assert all(v == values[0] for v in values)  # the point forecast does not depend on it
    for narrower, wider in zip(widths, widths[1:], strict=False):
        assert all(w2 > w1 for w1, w2 in zip(narrower, wider, strict=True))


@pytest.mark.parametrize("confidence", [0.4999, 1.0, 0, -0.95, 95, "high", True, [0.9]])
def test_confidence_out_of_range_or_of_the_wrong_type_is_400(world, confidence):
    answer = forecast(world["user"], metric="fc.load", horizon="6h", confidence=confidence)
    error = error_of(answer)
    assert (
        answer.status_code == 400
        and error["code"] == "VALIDATION_ERROR"
        and error["details"]["field"] == "confidence"
    )


@pytest.mark.parametrize("horizon", ["5001", 5001, "400d", "0", 0, -3, "soon", "", True, [6], 2.5,
                                     "1" * 400 + "d", "9" * 5000, 10 ** 40])
def test_horizon_beyond_the_cap_or_unreadable_is_400(world, horizon):
    answer = forecast(world["user"], metric="fc.load", horizon=horizon)
    error = error_of(answer)
    assert answer.status_code == 400 and error["details"]["field"] == "horizon", (horizon, answer.text)
    if horizon in ("5001", 5001, "400d"):
        assert "5000" in error["message"]


@pytest.mark.parametrize("model", ["timesfm-v2", "chronos-bolt", "prophet"])
def test_a_model_that_is_not_available_here_is_model_unavailable_naming_those_that_are(world, model):
    models = {m["name"]: m for m in world["user"].get("/v1/forecast/models").json()["data"]}
    answer = forecast(world["user"], metric="fc.load", horizon="6h", model=model)
    error = error_of(answer)
    assert answer.status_code == 400 and error["code"] == "MODEL_UNAVAILABLE"
    available = [name for name, m in models.items() if m["available"]]
    assert error["details"]["available"] == available and model not in available
    assert all(name in error["message"] for name in available)


def test_models_are_listed_with_their_availability_for_any_key(system, world):
    lone = new_user(system, scopes="forecast", account=world["user"].account_id)
    answer = lone.get("/v1/forecast/models")
    assert answer.status_code == 200
    models = {m["name"]: m for m in answer.json()["data"]}
    assert models["auto"]["available"] and models["auto"]["family"] == "selector"
    assert {"seasonal_naive", "ets", "theta", "mstl", "arima"} <= {
        n for n, m in models.items() if m["available"]
    }
    assert models["timesfm-v2"]["available"] is False and models["timesfm-v2"]["unavailable_reason"]
    assert answer.json()["pagination"]["total"] == len(models)
    assert lone.post("/v1/forecast", {"metric": "fc.load", "horizon": "3h"}).status_code == 200


def test_too_little_history_is_422_insufficient_data(world):
    answer = forecast(world["user"], metric="fc.short", horizon="6h")
    error = error_of(answer)
    assert answer.status_code == 422 and error["code"] == "INSUFFICIENT_DATA"
    assert error["details"]["got"] == 3 and error["details"]["minimum_points"] > 3


def test_a_malformed_horizon_is_400_even_on_a_short_series(world):
    answer = forecast(world["user"], metric="fc.short", horizon="soon")
    assert answer.status_code == 400 and error_of(answer)["code"] == "VALIDATION_ERROR", answer.text


def test_an_unknown_series_is_404_metric_not_found(world):
    for body in (
        {"metric": "fc.nothing"},
        {"metric_id": "met_doesnotexist"},
        {"metric": "fc.load", "tags": {"host": "z"}},
    ):
        answer = forecast(world["user"], horizon="6h", **body)
        assert answer.status_code == 404 and error_of(answer)["code"] == "METRIC_NOT_FOUND", body


def test_a_name_with_several_series_needs_tags_and_names_the_candidates(world):
    answer = forecast(world["user"], metric="fc.twin", horizon="6h")
    error = error_of(answer)
    assert answer.status_code == 400 and error["code"] == "VALIDATION_ERROR"
    assert sorted(error["details"]["candidates"]) == sorted(world["twins"])
    chosen = forecast(
        world["user"], metric="fc.twin", tags={"zone": "y"}, horizon="6h", model="seasonal_naive"
    )
    assert chosen.status_code == 200 and chosen.json()["metric_id"] == world["twins"][1]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"horizon": "6h"}, "metric"),
        ({"metric": 5, "horizon": "6h"}, "metric"),
        ({"metric_id": ["met_x"], "horizon": "6h"}, "metric_id"),
        ({"metric": "fc.load", "tags": "host=a", "horizon": "6h"}, "tags"),
        ({"metric": "fc.load", "tags": {"host": 1}, "horizon": "6h"}, "tags"),
        ({"metric": "fc.load", "model": 3, "horizon": "6h"}, "model"),
        ({"metric": "fc.load", "horizon": "6h", "interval": 0.9}, "interval"),
    ],
)
def test_bad_bodies_are_400_naming_the_field(world, body, field):
    answer = world["user"].post("/v1/forecast", body)
    assert answer.status_code == 400 and error_of(answer)["details"]["field"] == field, answer.text


def test_forecast_needs_the_forecast_scope(system, world):
    reader = new_user(system, scopes="read", account=world["user"].account_id)
    answer = reader.post("/v1/forecast", {"metric": "fc.load", "horizon": "6h"})
    assert answer.status_code == 403 and error_of(answer)["code"] == "FORBIDDEN"

"""`POST /v1/forecast` (answered unwrapped, in the AnomalyWatch seed's shape) and
`GET /v1/forecast/models`."""
from __future__ import annotations

from flask import Blueprint, jsonify

from anomalywatch.forecast.v1 import forecast_pb2
from gateway import fields, render
from gateway.auth import current_principal, requires
from gateway.clients import call_as_caller
from gateway.request_io import json_object
from services.forecast.horizon import MAX_CONFIDENCE, MIN_CONFIDENCE

bp = Blueprint("forecast", __name__)
FIELDS = ("metric", "metric_id", "tags", "horizon", "model", "confidence")


def _call(method, message):
    return call_as_caller("forecast", method, message)


HORIZON_HINT = "horizon must be a duration such as '30m', '24h', '7d' or a number of steps, in ASCII"


def _horizon(value) -> str:
    """A duration (`24h`) or a whole number of steps (`48`), as the proto's string. Steps given as
    text are read by the shared integer parser, and a duration must be ASCII: forecast's patterns
    would read other scripts' digits ('٣', '２４h') as numbers."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = fields.string(value, "horizon").strip() if isinstance(value, str) else ""
    if not text or not text.isascii():
        raise fields.invalid("horizon", HORIZON_HINT)
    if text[-1].isdigit():  # no unit: steps
        return str(fields.integer(text, "horizon", minimum=1))
    return text


def _confidence(value) -> float:
    # Checked here as well as in forecast: the proto reads 0 as "the default 0.95".
    confidence = fields.number(value, "confidence")
    if not MIN_CONFIDENCE <= confidence <= MAX_CONFIDENCE:
        raise fields.invalid("confidence", f"confidence must be between {MIN_CONFIDENCE} and "
                             f"{MAX_CONFIDENCE} inclusive, got {value}")
    return confidence


@bp.post("/v1/forecast")
@requires("forecast")
def run_forecast():
    body = json_object()
    fields.only_known(body, FIELDS)
    given = {k: v for k, v in body.items() if v is not None}
    message = forecast_pb2.ForecastRequest(
        metric=fields.string(given.get("metric", ""), "metric"),
        metric_id=fields.string(given.get("metric_id", ""), "metric_id"),
        tags=fields.string_map(given.get("tags", {}), "tags"),
        horizon=_horizon(given["horizon"]) if "horizon" in given else "",
        model=fields.string(given.get("model", ""), "model"),
        confidence=_confidence(given["confidence"]) if "confidence" in given else 0.0)
    return jsonify(render.forecast(_call("Forecast", message)))


@bp.get("/v1/forecast/models")
def list_models():
    current_principal()  # any valid key: a forecast-only key must see what it can ask for
    answer = _call("ListForecastModels", forecast_pb2.ListForecastModelsRequest())
    models = [render.forecast_model(m) for m in answer.models]
    return jsonify({"data": models, "pagination": {"total": len(models), "limit": len(models), "offset": 0,
                                                   "has_more": False}})

"""Series: `GET /v1/metrics`, `/v1/metrics/{id}`, `/v1/metrics/{id}/points`, and the per-metric
`anomaly_config` (by name, every series of that name; by `met_` id, one series)."""
from __future__ import annotations

from flask import Blueprint, jsonify, request
from werkzeug.routing import PathConverter

from anomalywatch.catalog.v1 import metrics_pb2
from gateway import fields, render
from gateway.auth import requires
from gateway.clients import call_as_caller
from gateway.request_io import json_object, page_request, pagination, tag_filters, time_param
from services.common.errors import ServiceError

bp = Blueprint("metrics", __name__)
DEFAULT_POINTS, MAX_POINTS = 1000, 10_000  # a larger limit is lowered


class MetricNameConverter(PathConverter):
    """A metric name in a path, slashes included (sent as %2F), a leading one too: `/lead` is a valid
    name, which werkzeug's `path` cannot start with; its slashes were merged and the client
    redirected to the configuration of `lead`, another metric."""
    regex = ".+?"
    part_isolating = False  # werkzeug infers it from a "/" in the regex, which this one has not


# Before the routes: a blueprint's setup runs in order, and a rule looks its converters up when added.
bp.record_once(lambda state: state.app.url_map.converters.setdefault("metric_name", MetricNameConverter))
CONFIG_PATH = "/v1/metrics/<metric_name:name_or_id>/anomaly_config"


def _call(method, message):
    return call_as_caller("metrics", method, message)


@bp.get("/v1/metrics")
@requires("read")
def list_metrics():
    fields.only_known_params(("name", *fields.PAGE_PARAMS), tags=True)
    answer = _call("ListMetrics", metrics_pb2.ListMetricsRequest(
        name=fields.string(request.args.get("name", ""), "name"), tags=tag_filters(), page=page_request()))
    return jsonify({"data": [render.metric(m) for m in answer.metrics],
                    "pagination": pagination(answer.page)})


@bp.get("/v1/metrics/<metric_id>")
@requires("read")
def get_metric(metric_id: str):
    message = metrics_pb2.GetMetricRequest(metric_id=fields.path_id(metric_id, "metric_id"))
    answer = _call("GetMetric", message)
    return jsonify({"data": render.metric(answer.metric)})


@bp.get("/v1/metrics/<metric_id>/points")
@requires("read")
def list_points(metric_id: str):
    fields.only_known_params(("from", "to", "limit"))
    raw_limit = request.args.get("limit", str(DEFAULT_POINTS))  # empty is refused, unlike the lists'
    limit = min(fields.integer(raw_limit, "limit", minimum=1), MAX_POINTS)
    message = metrics_pb2.ListPointsRequest(metric_id=fields.path_id(metric_id, "metric_id"), limit=limit)
    time_param("from", message.start_time)
    time_param("to", message.end_time)
    answer = _call("ListPoints", message)
    return jsonify({"data": render.data_points(answer.points),
                    "pagination": {"limit": limit, "has_more": answer.has_more}})


@bp.get(CONFIG_PATH)
@requires("read")
def get_config(name_or_id: str):
    message = metrics_pb2.GetAnomalyConfigRequest(name_or_id=fields.path_id(name_or_id, "name_or_id"))
    answer = _call("GetAnomalyConfig", message)
    return jsonify({"data": render.anomaly_config(answer)})


@bp.put(CONFIG_PATH)
@requires("write")
def put_config(name_or_id: str):
    body = json_object()
    fields.only_known(body, render.CONFIG_FIELDS)
    config = metrics_pb2.AnomalyConfig()
    for name, value in body.items():
        if value is not None:
            _set_config_field(config, name, value)
    message = metrics_pb2.UpdateAnomalyConfigRequest(name_or_id=fields.path_id(name_or_id, "name_or_id"),
                                                     config=config)
    answer = _call("UpdateAnomalyConfig", message)
    return jsonify({"data": render.anomaly_config(answer)})


def _set_config_field(config: metrics_pb2.AnomalyConfig, name: str, value) -> None:
    """Type checks that protobuf would otherwise turn into a 500; range checks are catalog's."""
    code = "INVALID_THRESHOLD" if name.endswith("_threshold") else "VALIDATION_ERROR"
    expected = {"enabled": bool, "spike_threshold": (int, float), "drop_threshold": (int, float),
                "min_data_points": int, "comparison_window": str, "sensitivity": str,
                "seasonality": str}[name]
    if isinstance(value, bool) and expected is not bool or not isinstance(value, expected):
        raise ServiceError(code, f"{name} has the wrong type", {"field": name})
    if name == "comparison_window" and not value.isascii():  # catalog's pattern reads '٣d' as 3 days
        raise ServiceError(code, "comparison_window must be a duration such as '24h' or '7d', in ASCII",
                           {"field": name})
    try:
        setattr(config, name, value)
    except (ValueError, TypeError, OverflowError):
        raise ServiceError(code, f"{name} is out of range", {"field": name}) from None

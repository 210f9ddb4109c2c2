"""Anomalies: `GET /v1/anomalies`, `/v1/anomalies/{id}`, `POST .../acknowledge`, `POST .../resolve`,
`GET /v1/anomalies/stats` and `/v1/anomalies/summary`. The static paths (stats, summary, rules)
win over `{id}` in Flask's router whatever the registration order."""
from __future__ import annotations

from flask import Blueprint, jsonify, request

from anomalywatch.catalog.v1 import anomalies_pb2
from gateway import fields, render
from gateway.auth import requires
from gateway.clients import call_as_caller
from gateway.request_io import json_object, page_request, pagination, tag_filters, time_param

bp = Blueprint("anomalies", __name__)
# `open` is MeshAI's word for active; `all` (or no status) lists every status.
STATUS_WORDS = {"active": anomalies_pb2.ANOMALY_STATUS_ACTIVE, "open": anomalies_pb2.ANOMALY_STATUS_ACTIVE,
                "acknowledged": anomalies_pb2.ANOMALY_STATUS_ACKNOWLEDGED,
                "resolved": anomalies_pb2.ANOMALY_STATUS_RESOLVED,
                "all": anomalies_pb2.ANOMALY_STATUS_UNSPECIFIED}
LIST_PARAMS = ("status", "severity", "type", "metric", "metric_id", "from", "to", *fields.PAGE_PARAMS)


def _call(method, message):
    return call_as_caller("anomalies", method, message)


@bp.get("/v1/anomalies")
@requires("read")
def list_anomalies():
    fields.only_known_params(LIST_PARAMS, tags=True)
    message = anomalies_pb2.ListAnomaliesRequest(
        status=fields.query_word("status", STATUS_WORDS),
        severity=fields.query_word("severity", fields.SEVERITY_WORDS),
        type=fields.query_word("type", fields.TYPE_WORDS), metric=request.args.get("metric", ""),
        metric_id=request.args.get("metric_id", ""), tags=tag_filters(), page=page_request())
    time_param("from", message.start_time)
    time_param("to", message.end_time)
    answer = _call("ListAnomalies", message)
    return jsonify({"data": [render.anomaly(a) for a in answer.anomalies],
                    "pagination": pagination(answer.page), "meta": render.anomaly_meta(answer.counts)})


@bp.get("/v1/anomalies/stats")
@requires("read")
def anomaly_stats():
    fields.only_known_params(("from", "to"))
    message = anomalies_pb2.GetAnomalyStatsRequest()
    time_param("from", message.start_time)
    time_param("to", message.end_time)
    return jsonify({"data": render.anomaly_stats(_call("GetAnomalyStats", message))})


@bp.get("/v1/anomalies/summary")
@requires("read")
def anomaly_summary():
    fields.only_known_params(())
    answer = _call("GetAnomalySummary", anomalies_pb2.GetAnomalySummaryRequest())
    return jsonify({"data": render.anomaly_summary(answer)})


@bp.get("/v1/anomalies/<anomaly_id>")
@requires("read")
def get_anomaly(anomaly_id: str):
    message = anomalies_pb2.GetAnomalyRequest(anomaly_id=fields.path_id(anomaly_id, "anomaly_id"))
    answer = _call("GetAnomaly", message)
    return jsonify({"data": render.anomaly_detail(answer)})


def _note(body: dict) -> str:
    note = body.get("note")
    return "" if note is None else fields.string(note, "note")


@bp.post("/v1/anomalies/<anomaly_id>/acknowledge")
@requires("write")
def acknowledge(anomaly_id: str):
    body = json_object(required=False)
    fields.only_known(body, ("note",))
    message = anomalies_pb2.AcknowledgeAnomalyRequest(anomaly_id=fields.path_id(anomaly_id, "anomaly_id"),
                                                      note=_note(body))
    return jsonify({"data": render.anomaly(_call("AcknowledgeAnomaly", message).anomaly)})


@bp.post("/v1/anomalies/<anomaly_id>/resolve")
@requires("write")
def resolve(anomaly_id: str):
    body = json_object(required=False)
    fields.only_known(body, ("note", "root_cause"))
    root_cause = body.get("root_cause")  # optional; null is absent, as everywhere
    message = anomalies_pb2.ResolveAnomalyRequest(
        anomaly_id=fields.path_id(anomaly_id, "anomaly_id"), note=_note(body),
        root_cause="" if root_cause is None else fields.one_of(root_cause, "root_cause", fields.ROOT_CAUSES))
    return jsonify({"data": render.anomaly(_call("ResolveAnomaly", message).anomaly)})

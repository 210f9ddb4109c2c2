"""Operational endpoints (no auth): liveness, readiness, Prometheus metrics."""
from __future__ import annotations

import grpc
from flask import Blueprint, Response, current_app, jsonify
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client import CONTENT_TYPE_LATEST

from gateway.telemetry import metrics_text

bp = Blueprint("ops", __name__)


@bp.get("/healthz")
def healthz():
    return jsonify({"status": "ok"})


HEALTH_TIMEOUT = 1.0  # seconds, for each dependency's health check


def _state(call: grpc.Future) -> str:
    try:
        serving = call.result().status == health_pb2.HealthCheckResponse.SERVING
        return "serving" if serving else "not_serving"
    except grpc.RpcError:
        return "unreachable"


@bp.get("/readyz")
def readyz():
    """Ready when catalog and ingest answer SERVING (forecast is reported, not required). The
    dependencies are asked at once: anyone may call this without a key, so hung services hold a
    gateway thread for one health deadline, not one per dependency in turn."""
    clients = current_app.extensions["aw"].clients
    calls = {name: health_pb2_grpc.HealthStub(channel).Check.future(health_pb2.HealthCheckRequest(),
                                                                     timeout=HEALTH_TIMEOUT)
             for name, channel in (("catalog", clients.catalog_channel), ("ingest", clients.ingest_channel),
                                   ("forecast", clients.forecast_channel))}
    checks = {name: _state(call) for name, call in calls.items()}
    ready = checks["catalog"] == "serving" and checks["ingest"] == "serving"
    response = jsonify({"status": "ready" if ready else "not_ready", "dependencies": checks})
    response.status_code = 200 if ready else 503
    return response


@bp.get("/metrics")
def metrics():
    # content_type, not mimetype: Werkzeug appends a charset to a text/* mimetype, and this one has one
    return Response(metrics_text(), content_type=CONTENT_TYPE_LATEST)

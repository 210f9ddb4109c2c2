"""Bad input to the REST gateway is refused in the contract's envelope and reaches no backend:
the real app (routes, hooks, limiter), with keys from a local table and the backends faked."""
from __future__ import annotations

import io
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from anomalywatch.catalog.v1 import anomalies_pb2
from anomalywatch.ingest.v1 import ingest_pb2
from tests.ratelimit.conftest import make_app

MIB = 1024 * 1024
NOW = int(time.time())


class FakeBatcher:
    """Stands in for the IngestBatcher: records what would be stored, answers every point ingested."""

    def __init__(self):
        self.calls: list[tuple[list[ingest_pb2.Point], bool]] = []

    def ingest(self, key, points, test_only):
        self.calls.append((list(points), test_only))
        return [ingest_pb2.PointResult(index=i, status=ingest_pb2.POINT_STATUS_INGESTED, metric_id="met_1")
                for i in range(len(points))]


@dataclass
class FakeClients:
    """Stands in for gateway.clients.Clients: `answers[(stub, method)]` makes the response of a call
    from its request; every call is recorded."""
    answers: dict[tuple[str, str], Callable[[Any], Any]] = field(default_factory=dict)
    calls: list[tuple[str, str, Any]] = field(default_factory=list)

    def __getattr__(self, stub: str):
        return _Stub(self, stub)

    def call(self, method, request, key=None, timeout=None):
        return method(request)


@dataclass
class _Stub:
    clients: FakeClients
    name: str

    def __getattr__(self, method: str):
        def answer(request):
            self.clients.calls.append((self.name, method, request))
            return self.clients.answers[(self.name, method)](request)
        return answer


@dataclass
class Gateway:
    client: Any
    key: str
    ingest: FakeBatcher
    backends: FakeClients

    def headers(self, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}", **extra}

    def post(self, path: str, body: Any = None):
        return self.client.post(path, json=body, headers=self.headers())


@pytest.fixture
def gw() -> Gateway:
    app, keys = make_app()
    key, _ = keys.add(plan="enterprise", scopes="ingest,read,write,forecast,admin")
    aw = app.extensions["aw"]
    aw.ingest, aw.clients = FakeBatcher(), FakeClients()
    return Gateway(app.test_client(), key, aw.ingest, aw.clients)


def error_of(response) -> dict[str, Any]:
    body = response.get_json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}, body
    return body["error"]


# --- Bodies over 1 MiB, declared or chunked -------------------------------------------------------

JSON = {"Content-Type": "application/json"}


def chunked(client, path: str, body: bytes, method: str = "POST", **headers: str):
    """A body without Content-Length, as a server that decodes Transfer-Encoding: chunked hands it
    on (gunicorn sets wsgi.input_terminated; Werkzeug's test client does not)."""
    return client.open(path, method=method, input_stream=io.BytesIO(body),
                       environ_overrides={"wsgi.input_terminated": True},
                       headers={"Transfer-Encoding": "chunked", **JSON, **headers})


def padded(body: Any, size: int) -> bytes:
    """`body` as JSON of exactly `size` bytes (trailing whitespace, which JSON ignores)."""
    raw = json.dumps(body).encode()
    return raw + b" " * (size - len(raw))


def ingest_batch(size: int) -> bytes:
    return padded({"points": [{"metric": "big.m", "value": 1, "timestamp": NOW}]}, size)


def flux_post(key: str, size: int) -> bytes:
    return padded({"key": key, "metrics": [{"metric": "big.m", "timestamp": NOW, "value": 1}]}, size)


@pytest.mark.parametrize("send", ["chunked", "declared"])
def test_an_ingest_body_over_one_mebibyte_is_413_and_stores_nothing(gw, send):
    body = ingest_batch(MIB + 1)
    if send == "chunked":
        answer = chunked(gw.client, "/v1/ingest", body, **gw.headers())
    else:
        answer = gw.client.post("/v1/ingest", data=body, headers=gw.headers(**JSON))
    assert answer.status_code == 413, answer.get_data(as_text=True)[:300]
    error = error_of(answer)
    assert error["code"] == "PAYLOAD_TOO_LARGE" and error["details"] == {"field": "body", "limit_bytes": MIB}
    assert gw.ingest.calls == []


def test_a_chunked_ingest_body_of_exactly_one_mebibyte_is_taken(gw):
    answer = chunked(gw.client, "/v1/ingest", ingest_batch(MIB), **gw.headers())
    assert answer.status_code == 200, answer.get_data(as_text=True)[:300]
    assert len(gw.ingest.calls) == 1


@pytest.mark.parametrize("path", ["/v1/api-keys", "/v1/anomalies/anom_x/resolve", "/v1/anomalies/rules",
                                  "/v1/forecast"])
def test_every_body_taking_route_refuses_a_chunked_body_over_one_mebibyte(gw, path):
    body = b'{"name": "' + b"x" * MIB + b'"}'
    answer = chunked(gw.client, path, body, **gw.headers())
    assert answer.status_code == 413 and error_of(answer)["code"] == "PAYLOAD_TOO_LARGE"
    assert gw.backends.calls == []


def test_a_chunked_anomaly_config_over_one_mebibyte_is_413(gw):
    body = b'{"comparison_window": "' + b"9" * MIB + b'"}'
    answer = chunked(gw.client, "/v1/metrics/big.m/anomaly_config", body, "PUT", **gw.headers())
    assert answer.status_code == 413 and error_of(answer)["code"] == "PAYLOAD_TOO_LARGE"
    assert gw.backends.calls == []


@pytest.mark.parametrize("send", ["chunked", "declared"])
def test_a_flux_post_over_one_mebibyte_is_anomifys_413_and_stores_nothing(gw, send):
    body = flux_post(gw.key, MIB + 1)
    if send == "chunked":
        answer = chunked(gw.client, "/flux/metric_data_post", body)
    else:
        answer = gw.client.post("/flux/metric_data_post", data=body, content_type="application/json")
    assert answer.status_code == 413
    assert answer.get_json() == {"code": 413, "message": "payload too large"}
    assert gw.ingest.calls == []


def test_a_chunked_flux_post_of_exactly_one_mebibyte_is_taken_and_keyed(gw):
    answer = chunked(gw.client, "/flux/metric_data_post", flux_post(gw.key, MIB))
    assert answer.status_code == 204, answer.get_data(as_text=True)[:300]
    assert len(gw.ingest.calls) == 1
    assert answer.headers["X-RateLimit-Limit"] == "10000"  # the key's plan, not the address's



# --- Resolving an anomaly ----------------------------------------------------------------------

def resolving(gw: Gateway) -> None:
    """Catalog answers ResolveAnomaly with the anomaly resolved."""
    def resolve(request):
        return anomalies_pb2.ResolveAnomalyResponse(anomaly=anomalies_pb2.Anomaly(
            id=request.anomaly_id, status=anomalies_pb2.ANOMALY_STATUS_RESOLVED,
            root_cause=request.root_cause))
    gw.backends.answers[("anomalies", "ResolveAnomaly")] = resolve


@pytest.mark.parametrize("root_cause", ["", " ", "Bug", "bug ", "unknown", 5, True, ["bug"], {"x": 1}])
def test_a_root_cause_outside_the_vocabulary_is_400_and_resolves_nothing(gw, root_cause):
    resolving(gw)
    answer = gw.post("/v1/anomalies/anom_1/resolve", {"root_cause": root_cause})
    assert answer.status_code == 400, answer.get_data(as_text=True)
    error = error_of(answer)
    assert error["code"] == "VALIDATION_ERROR" and error["details"]["field"] == "root_cause"
    assert "infrastructure" in error["details"]["allowed"]
    assert gw.backends.calls == []


@pytest.mark.parametrize(("body", "sent"), [
    (None, ""), ({}, ""), ({"root_cause": None}, ""), ({"root_cause": "other"}, "other"),
    ({"note": "rolled back", "root_cause": "deployment"}, "deployment")])
def test_a_root_cause_is_optional_and_else_one_of_the_contracts(gw, body, sent):
    resolving(gw)
    answer = gw.post("/v1/anomalies/anom_1/resolve", body)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert [request.root_cause for _, _, request in gw.backends.calls] == [sent]
    assert answer.get_json()["data"]["root_cause"] == (sent or None)

# --- Operations --------------------------------------------------------------------------------

def test_prometheus_metrics_carry_exactly_prometheus_clients_content_type(gw):
    from prometheus_client import CONTENT_TYPE_LATEST

    answer = gw.client.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == CONTENT_TYPE_LATEST

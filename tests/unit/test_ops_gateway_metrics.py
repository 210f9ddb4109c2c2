"""The gateway's request metrics as Prometheus scrapes them from /metrics: every label value is
one the gateway chooses (the route template, "unmatched", a known method or OTHER), never one a
client can vary, so no client can grow the number of series."""
from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from gateway.telemetry import METHODS, OTHER_METHOD
from services.common.config import Settings


@pytest.fixture(scope="module")
def client():
    from gateway.app import create_app

    settings = Settings(catalog_addr="127.0.0.1:1", ingest_addr="127.0.0.1:1", forecast_addr="127.0.0.1:1",
                        rpc_timeout_seconds=1.0)
    app = create_app(settings)
    app.testing = True
    return app.test_client()


def _samples(client, name: str) -> list[tuple[dict[str, str], float]]:
    answer = client.get("/metrics")
    assert answer.status_code == 200
    return [(s.labels, s.value) for family in text_string_to_metric_families(answer.get_data(as_text=True))
            for s in family.samples if s.name == name]


def test_a_clients_invented_methods_and_paths_add_no_series(client):
    for n in range(20):
        client.open(f"/nowhere/{n}", method=f"BREW{n}")
        client.open("/v1/ingest", method=f"X{n}")
        client.get(f"/v1/nothing-here/met_{n}")
        client.get(f"/v1/metrics/met_{n}")          # a real route: its template, not the id
    requests = _samples(client, "aw_http_requests_total")
    endpoints = {labels["endpoint"] for labels, _ in requests}
    methods = {labels["method"] for labels, _ in requests}
    assert methods <= METHODS | {OTHER_METHOD}, methods
    assert not any("met_" in e or "nothing-here" in e or "nowhere" in e for e in endpoints), endpoints
    assert "/v1/metrics/<metric_id>" in endpoints
    other = sum(v for labels, v in requests if labels["method"] == OTHER_METHOD)
    assert other >= 40
    latency = {labels["method"] for labels, _ in _samples(client, "aw_http_request_seconds_count")}
    assert latency <= METHODS | {OTHER_METHOD}, latency

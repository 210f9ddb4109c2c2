"""Every service's /metrics of a running system, after real traffic: request counts and latency
histograms (gateway HTTP and each gRPC service), points ingested, points scored, batch sizes,
kernel time and anomalies opened, each present with a nonzero value."""
from __future__ import annotations

import time

import numpy as np
import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

pytestmark = pytest.mark.e2e
N = 160


def scrape(url: str) -> list[tuple[str, dict[str, str], float]]:
    answer = requests.get(url, timeout=10)
    assert answer.status_code == 200 and answer.headers["Content-Type"].startswith("text/plain")
    return [(s.name, s.labels, s.value) for family in text_string_to_metric_families(answer.text)
            for s in family.samples]


def total(samples, name: str, **labels: str) -> float:
    """The sum of `name` over the samples whose labels include `labels` (0 when there is none)."""
    return sum(v for n, ls, v in samples if n == name and all(ls.get(k) == x for k, x in labels.items()))


def endpoints(system) -> dict[str, str]:
    base = int(system.env["AW_METRICS_PORT_BASE"])  # the ports cli/local_system.py gives each process
    ports = {"catalog": base + 1, "ingest": base + 2, "forecast": base + 4, "detect": base + 10}
    return {"gateway": f"{system.base_url}/metrics",
            **{name: f"http://127.0.0.1:{port}/metrics" for name, port in ports.items()}}


@pytest.fixture(scope="module")
def traffic(system, admin):
    """A series with a spike at the end, a forecast and a read: every service does some work."""
    api = system.session(admin[1])
    ts = np.floor(time.time()) - 60 * (N + 5) + 60 * np.arange(N)
    values = 50 + np.random.default_rng(11).normal(0, 1, N)
    values[-1] = 400.0
    for start in range(0, N, 80):
        body = {"points": [{"metric": "prom.m", "value": float(v), "timestamp": float(t)}
                           for t, v in zip(ts[start:start + 80], values[start:start + 80], strict=True)]}
        assert api.post(f"{system.base_url}/v1/ingest", json=body, timeout=60).status_code == 200
    assert api.get(f"{system.base_url}/v1/anomalies", params={"metric": "prom.m"}, timeout=30).json()["data"]
    forecast = api.post(f"{system.base_url}/v1/forecast", json={"metric": "prom.m", "horizon": 5}, timeout=60)
    assert forecast.status_code in (200, 422), forecast.text  # either way forecast served the call
    return {name: scrape(url) for name, url in endpoints(system).items()}


def test_the_gateway_counts_and_times_every_request(traffic):
    gateway = traffic["gateway"]
    assert total(gateway, "aw_http_requests_total", endpoint="/v1/ingest", method="POST", status="200") >= 2
    assert total(gateway, "aw_http_request_seconds_count", endpoint="/v1/ingest", method="POST") >= 2
    assert total(gateway, "aw_http_request_seconds_sum", endpoint="/v1/ingest", method="POST") > 0
    buckets = [ls["le"] for n, ls, _ in gateway if n == "aw_http_request_seconds_bucket"
               and ls["endpoint"] == "/v1/ingest"]
    assert "+Inf" in buckets and len(set(buckets)) > 5
    assert total(gateway, "aw_http_requests_total", endpoint="/v1/anomalies", method="GET", status="200") >= 1


@pytest.mark.parametrize(("service", "method"), [
    ("catalog", "WritePoints"), ("catalog", "AuthenticateApiKey"), ("ingest", "Ingest"),
    ("detect", "ScorePoints"), ("forecast", "Forecast")])
def test_every_grpc_service_counts_and_times_its_calls(traffic, service, method):
    samples = traffic[service]
    assert total(samples, "aw_rpc_requests_total", service=service, method=method) >= 1
    assert total(samples, "aw_rpc_latency_seconds_count", service=service, method=method) >= 1
    assert total(samples, "aw_rpc_latency_seconds_sum", service=service, method=method) > 0
    assert total(samples, "aw_rpc_latency_seconds_bucket", service=service, method=method, le="+Inf") >= 1


def test_a_server_stream_is_timed_too(traffic):
    # detect restores its shard through the ListShardSeries stream when it starts.
    catalog = traffic["catalog"]
    assert total(catalog, "aw_rpc_latency_seconds_count", service="catalog", method="ListShardSeries") >= 1


def test_ingest_counts_the_points_it_took(traffic):
    assert total(traffic["ingest"], "aw_ingest_points_total", outcome="ingested") >= N


def test_detect_counts_points_batches_kernel_time_and_anomalies(traffic):
    detect = traffic["detect"]
    assert total(detect, "aw_detect_points_scored_total") >= N
    assert total(detect, "aw_detect_batch_points_count") >= 2
    assert total(detect, "aw_detect_batch_points_sum") >= N
    assert total(detect, "aw_detect_kernel_seconds_count") >= 2
    assert total(detect, "aw_detect_kernel_seconds_sum") > 0
    assert total(detect, "aw_detect_anomalies_opened_total", type="spike") >= 1
    assert total(detect, "aw_detect_series") >= 1


def test_catalog_counts_the_anomalies_it_opened(traffic):
    assert total(traffic["catalog"], "aw_catalog_anomalies_opened_total", type="spike") >= 1

"""The gateway's Prometheus metrics. Under gunicorn every worker counts on its own, so the
registry is read in multiprocess mode when PROMETHEUS_MULTIPROC_DIR is set (gateway.server does)."""
from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, multiprocess

HTTP_REQUESTS = Counter("aw_http_requests_total", "REST requests", ["endpoint", "method", "status"])
HTTP_LATENCY = Histogram("aw_http_request_seconds", "REST request handling time", ["endpoint", "method"],
                         buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))


def metrics_text() -> bytes:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)
    return generate_latest()

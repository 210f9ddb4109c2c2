"""The gateway's Prometheus metrics. Under gunicorn every worker counts on its own, so the
registry is read in multiprocess mode when PROMETHEUS_MULTIPROC_DIR is set (gateway.server does)."""
from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, multiprocess

HTTP_REQUESTS = Counter("aw_http_requests_total", "REST requests", ["endpoint", "method", "status"])
HTTP_LATENCY = Histogram("aw_http_request_seconds", "REST request handling time", ["endpoint", "method"],
                         buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))


_SERIES_CACHED = 4096  # label sets remembered (routes x methods x statuses); past that, looked up each time
_series: dict[tuple[str, str, int], tuple] = {}
# The method label takes these values and OTHER: the method is the client's to choose (any token
# gunicorn accepts), and a label a client can vary is a new time series per value.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
OTHER_METHOD = "OTHER"


def count_request(endpoint: str, method: str, status: int, seconds: float | None) -> None:
    """Counts one answered request (and its handling time when known). The labelled children are
    remembered per label set: `labels()` validates and locks on every call, 20 us of a request."""
    if method not in METHODS:
        method = OTHER_METHOD
    key = (endpoint, method, status)
    children = _series.get(key)
    if children is None:
        children = (HTTP_REQUESTS.labels(endpoint, method, str(status)),
                    HTTP_LATENCY.labels(endpoint, method))
        if len(_series) < _SERIES_CACHED:
            _series[key] = children
    children[0].inc()
    if seconds is not None:
        children[1].observe(seconds)


def metrics_text() -> bytes:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)
    return generate_latest()

"""Prometheus metrics shared by every service, and the HTTP endpoint that serves them.

Every gRPC service counts and times each call (the server interceptor in grpc_server); what a
service counts beyond that lives beside the code that does it (ingest's points, detect's batches),
except what more than one module of a service adds to, which is here."""
from __future__ import annotations

from prometheus_client import Counter, Histogram, start_http_server

RPC_REQUESTS = Counter(
    "aw_rpc_requests_total", "gRPC calls handled", ["service", "method", "code"])
RPC_LATENCY = Histogram(
    "aw_rpc_latency_seconds", "gRPC handling time", ["service", "method"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))


def serve_metrics(address: str | None) -> None:
    """Serves /metrics on `address` (host:port) in a daemon thread; None serves nothing."""
    if not address:
        return
    host, port = address.rsplit(":", 1)
    start_http_server(int(port), addr=host)

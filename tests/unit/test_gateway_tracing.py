"""The gateway's request spans (FlaskInstrumentor): every API route is traced, the operations
endpoints are not (a loose exclusion once left every /v1/metrics route untraced)."""
from __future__ import annotations

from flask import Flask, jsonify
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from gateway.app import trace_requests


def test_api_routes_are_traced_and_the_operations_endpoints_are_not():
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    app = Flask("traced")
    trace_requests(app, provider)
    for path in ("/healthz", "/readyz", "/metrics", "/v1/metrics", "/v1/metrics/<metric_id>", "/v1/healthz"):
        app.add_url_rule(path, path, lambda **_: jsonify({}))
    client = app.test_client()
    for path in ("/healthz", "/readyz", "/metrics", "/metrics?x=1", "/v1/metrics", "/v1/metrics/met_1",
                 "/v1/healthz"):
        assert client.get(path).status_code == 200
    spans = exporter.get_finished_spans()
    assert all(s.kind == SpanKind.SERVER for s in spans)
    assert sorted(s.name for s in spans) == ["GET /v1/healthz", "GET /v1/metrics",
                                             "GET /v1/metrics/<metric_id>"]
    provider.shutdown()


def test_untraced_the_gateway_hands_the_callers_trace_context_on():
    """No tracer provider in this process: no span is made, but the gRPC calls of a request see
    the caller's traceparent (what the client interceptor injects), and only during it."""
    from opentelemetry import propagate

    from services.common.telemetry import tracing_enabled

    assert not tracing_enabled()
    app = Flask("untraced")
    trace_requests(app)

    @app.get("/v1/context")
    def context():
        carrier = {}
        propagate.inject(carrier)
        return jsonify(carrier)

    client = app.test_client()
    parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    assert client.get("/v1/context", headers={"traceparent": parent}).get_json() == {"traceparent": parent}
    assert client.get("/v1/context").get_json() == {}
    assert client.get("/v1/context", headers={"traceparent": "garbage"}).get_json() == {}

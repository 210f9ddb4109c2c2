"""gateway.tracing: one server span per request, current while the hooks and the view run (so the
gRPC client spans are its children), continuing an incoming `traceparent`, with the route, the
status and errors on it; the operations endpoints untraced."""
from __future__ import annotations

import pytest
from flask import Flask, abort, jsonify
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from gateway import tracing

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"


@pytest.fixture
def traced():
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    app = Flask("traced")
    tracing.install(app, provider.get_tracer("gateway"))

    @app.before_request
    def refuse():  # like the rate limiter: a later hook that answers by itself
        from flask import request
        if request.path == "/refused":
            return jsonify({"error": "slow down"}), 429
        return None

    @app.post("/v1/things/<thing>")
    def thing(thing):
        with tracer.start_as_current_span("backend call", kind=SpanKind.CLIENT):
            pass
        return jsonify({"thing": thing})

    @app.get("/v1/broken")
    def broken():
        abort(503)

    @app.get("/v1/crash")
    def crash():
        raise RuntimeError("boom")

    @app.get("/healthz")
    def healthz():
        return "ok"

    app.register_error_handler(RuntimeError, lambda error: (jsonify({"error": "internal"}), 500))
    yield app.test_client(), exporter
    provider.shutdown()


def by_name(exporter, name):
    return next(s for s in exporter.get_finished_spans() if s.name == name)


def test_the_server_span_is_named_by_route_and_parents_the_backend_calls(traced):
    client, exporter = traced
    assert client.post("/v1/things/a?x=1", json={}).status_code == 200
    server, call = by_name(exporter, "POST /v1/things/<thing>"), by_name(exporter, "backend call")
    assert server.kind == SpanKind.SERVER and server.parent is None
    assert call.parent.span_id == server.context.span_id
    assert call.context.trace_id == server.context.trace_id
    attributes = server.attributes
    assert attributes["http.route"] == "/v1/things/<thing>"
    assert attributes["http.method"] == "POST" and attributes["http.status_code"] == 200
    assert server.status.status_code == StatusCode.UNSET
    assert trace.get_current_span() is trace.INVALID_SPAN  # the request's context was detached


def test_an_incoming_traceparent_is_continued(traced):
    client, exporter = traced
    client.post("/v1/things/b", json={}, headers={"traceparent": f"00-{TRACE_ID}-{PARENT_ID}-01"})
    server = by_name(exporter, "POST /v1/things/<thing>")
    assert f"{server.context.trace_id:032x}" == TRACE_ID
    assert f"{server.parent.span_id:016x}" == PARENT_ID and server.parent.is_remote


def test_an_answer_from_a_later_hook_is_traced(traced):
    client, exporter = traced
    assert client.get("/refused").status_code == 429
    (span,) = exporter.get_finished_spans()
    assert span.name == "GET /refused" and span.attributes["http.status_code"] == 429


def test_server_errors_mark_the_span(traced):
    client, exporter = traced
    assert client.get("/v1/broken").status_code == 503
    assert client.get("/v1/crash").status_code == 500
    broken, crash = by_name(exporter, "GET /v1/broken"), by_name(exporter, "GET /v1/crash")
    assert broken.status.status_code == StatusCode.ERROR and broken.attributes["http.status_code"] == 503
    assert crash.status.status_code == StatusCode.ERROR and crash.attributes["http.status_code"] == 500


def test_operations_endpoints_are_not_traced(traced):
    client, exporter = traced
    assert client.get("/healthz").status_code == 200
    assert exporter.get_finished_spans() == ()

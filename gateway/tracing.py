"""One server span per REST request, the parent of the gRPC client spans, so one trace follows a
request through every service (the trace context arrives as W3C `traceparent`, if at all).

The span starts in the app's first before-request hook (a 413 or 429 answered by a later hook is
traced too), is named `METHOD /route/<rule>` and carries OpenTelemetry's HTTP attributes (the
semantic conventions chosen by OTEL_SEMCONV_STABILITY_OPT_IN, as the instrumentation libraries do).
The operations endpoints are not traced. Done here rather than by FlaskInstrumentor, which per
request collected the request's attributes twice, rebuilt the full URL three times to test its
exclusions (by substring: `metrics` also left every /v1/metrics route untraced) and fed HTTP metrics
to an OpenTelemetry meter nothing reads: a third of a single-point ingest's gateway CPU.
"""
from __future__ import annotations

from flask import Flask, request
from opentelemetry import context, propagate, trace
from opentelemetry.instrumentation._semconv import (
    _OpenTelemetrySemanticConventionStability,
    _OpenTelemetryStabilitySignalType,
)
from opentelemetry.instrumentation.wsgi import (
    add_response_attributes,
    collect_request_attributes,
    get_default_span_name,
    wsgi_getter,
)
from opentelemetry.semconv.attributes.http_attributes import HTTP_ROUTE
from opentelemetry.trace import SpanKind, Status, StatusCode

UNTRACED_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
_SPAN, _TOKEN = "aw.trace.span", "aw.trace.token"  # where a request's span waits in its WSGI environ


def install(app: Flask, tracer: trace.Tracer | None = None) -> None:
    """Call before any other before-request hook is registered (the span must be current in them).
    `tracer` defaults to the global provider's (tests pass their own)."""
    _OpenTelemetrySemanticConventionStability._initialize()
    mode = _OpenTelemetrySemanticConventionStability._get_opentelemetry_stability_opt_in_mode(
        _OpenTelemetryStabilitySignalType.HTTP)
    tracer = tracer or trace.get_tracer("gateway")

    def start():
        environ = request.environ
        if environ.get("PATH_INFO") in UNTRACED_PATHS:
            return
        attributes = collect_request_attributes(environ, mode)
        rule = request.url_rule
        if rule is not None:
            attributes[HTTP_ROUTE] = rule.rule
            name = f"{request.method} {rule.rule}"
        else:
            name = get_default_span_name(environ)
        parent = propagate.extract(environ, getter=wsgi_getter)
        span = tracer.start_span(name, parent, kind=SpanKind.SERVER, attributes=attributes)
        environ[_SPAN] = span
        environ[_TOKEN] = context.attach(trace.set_span_in_context(span, parent))

    def respond(response):  # registered first, so it runs after every other after-request hook
        span = request.environ.get(_SPAN)
        if span is not None:
            add_response_attributes(span, response.status, [], None, mode)  # headers: unused
        return response

    def end(error: BaseException | None):
        environ = request.environ
        span = environ.pop(_SPAN, None)
        if span is None:
            return
        if error is not None:
            span.record_exception(error)
            span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"))
        span.end()
        context.detach(environ.pop(_TOKEN))

    app.before_request(start)
    app.after_request(respond)
    app.teardown_request(end)

"""OpenTelemetry, set up once per process: the exporter is chosen by AW_OTEL_EXPORTER
(`none` by default, `console`, or `otlp` with the standard OTEL_EXPORTER_OTLP_* variables).

With `none` no tracer provider is installed: spans nobody exports were 10-15 % of a single-point
request's CPU. The instrumentations then run on the API's no-op tracer, which hands the incoming
context on, so a caller's `traceparent` still reaches every service behind this one.

Trace context crosses services as W3C `traceparent` in gRPC metadata through the gRPC
instrumentation's interceptors.
"""
from __future__ import annotations

import logging

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
)

log = logging.getLogger(__name__)
_configured = False


def _exporter(kind: str) -> SpanExporter | None:
    if kind == "console":
        return ConsoleSpanExporter()
    if kind == "otlp":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
        return OTLPSpanExporter()
    if kind != "none":
        log.warning("unknown AW_OTEL_EXPORTER, tracing stays local", extra={"exporter": kind})
    return None


def setup_tracing(service: str, exporter: str = "none", span_exporter: SpanExporter | None = None) -> None:
    """Installs the tracer provider once; `span_exporter` lets tests collect spans in memory."""
    global _configured
    if _configured:
        return
    _configured = True
    chosen = span_exporter or _exporter(exporter)
    if chosen is None:
        return
    provider = TracerProvider(resource=Resource.create({"service.name": f"anomalywatch-{service}"}))
    processor = SimpleSpanProcessor(chosen) if span_exporter else BatchSpanProcessor(chosen)
    provider.add_span_processor(processor)
    trace.set_tracer_provider(provider)


def tracing_enabled() -> bool:
    """Whether spans are recorded here (setup_tracing installed a provider)."""
    return not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)


def shutdown_tracing() -> None:
    provider = trace.get_tracer_provider()
    if hasattr(provider, "shutdown"):
        provider.shutdown()

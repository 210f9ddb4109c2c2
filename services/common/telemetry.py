"""OpenTelemetry, set up once per process: the exporter is chosen by AW_OTEL_EXPORTER
(`none` by default, `console`, or `otlp` with the standard OTEL_EXPORTER_OTLP_* variables:
endpoint, headers, timeout, and the protocol, `grpc` by default or `http/protobuf`). The standard
OTEL_SERVICE_NAME (or `service.name` in OTEL_RESOURCE_ATTRIBUTES) names the service where set,
else `anomalywatch-<service>`; OTEL_TRACES_SAMPLER(_ARG) chooses the sampler (parent-based
always-on by default: a caller's unsampled trace stays unsampled); OTEL_SDK_DISABLED=true records
nothing, as `none` does.

With `none` no tracer provider is installed: spans nobody exports were 10-15 % of a single-point
request's CPU. The instrumentations then run on the API's no-op tracer, which hands the incoming
context on, so a caller's `traceparent` still reaches every service behind this one.

Trace context crosses services as W3C `traceparent` in gRPC metadata through the gRPC
instrumentation's interceptors.
"""
from __future__ import annotations

import logging
import os

from opentelemetry import trace
from opentelemetry.sdk.resources import SERVICE_NAME, OTELResourceDetector, Resource
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
        protocol = (os.environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
                    or os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL") or "grpc").strip().lower()
        if protocol == "grpc":
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
            return OTLPSpanExporter()
        if protocol == "http/protobuf":
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter
            return HttpExporter()
        log.warning("unsupported OTLP protocol (grpc or http/protobuf), tracing stays local",
                    extra={"protocol": protocol})
        return None
    if kind != "none":
        log.warning("unknown AW_OTEL_EXPORTER, tracing stays local", extra={"exporter": kind})
    return None


def setup_tracing(service: str, exporter: str = "none", span_exporter: SpanExporter | None = None) -> None:
    """Installs the tracer provider once; `span_exporter` lets tests collect spans in memory."""
    global _configured
    if _configured:
        return
    _configured = True
    if span_exporter is None and os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return  # an installed but disabled provider would end the caller's trace here
    chosen = span_exporter or _exporter(exporter)
    if chosen is None:
        return
    provider = TracerProvider(resource=_resource(service))
    processor = SimpleSpanProcessor(chosen) if span_exporter else BatchSpanProcessor(chosen)
    provider.add_span_processor(processor)
    trace.set_tracer_provider(provider)


def _resource(service: str) -> Resource:
    """The standard resource (OTEL_RESOURCE_ATTRIBUTES, OTEL_SERVICE_NAME), named after the service
    unless those name it."""
    if OTELResourceDetector().detect().attributes.get(SERVICE_NAME):
        return Resource.create()
    return Resource.create({SERVICE_NAME: f"anomalywatch-{service}"})


def tracing_enabled() -> bool:
    """Whether spans are recorded here (setup_tracing installed a provider)."""
    return not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)


def shutdown_tracing() -> None:
    provider = trace.get_tracer_provider()
    if hasattr(provider, "shutdown"):
        provider.shutdown()

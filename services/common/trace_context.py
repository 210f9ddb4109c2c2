"""W3C trace context across gRPC calls, with the gRPC instrumentation's spans only where spans are
recorded.

Where this process records spans (services.common.telemetry installed a tracer provider) these
interceptors hand every call to the instrumentation's own. Where it does not (AW_OTEL_EXPORTER=none,
the default) they only hand the context on: the instrumentation's interceptors cost 4-7 % of every
call's CPU even on the no-op tracer (a span started and ended, attributes set, the response
wrapped). The server side then adopts the caller's `traceparent` (and `tracestate`, `baggage`) for
the call, so log lines and outgoing calls carry it, and serves a call without one untouched; the
client side puts the current context, if any, into the call's metadata. The choice is made per
call, so it holds whenever the provider is installed.
"""
from __future__ import annotations

from collections.abc import Callable

import grpc
from opentelemetry import context, propagate
from opentelemetry.instrumentation.grpc import client_interceptor, grpcext, server_interceptor

from services.common.telemetry import tracing_enabled

# the fields of the W3C trace context and baggage propagators (OpenTelemetry's defaults)
_FIELDS = frozenset({"traceparent", "tracestate", "baggage"})


class TraceContextClientInterceptor(grpcext.UnaryClientInterceptor, grpcext.StreamClientInterceptor):
    """For grpcext.intercept_channel: a client span per call where spans are recorded, else the
    current trace context in the call's metadata."""

    def __init__(self) -> None:
        self._spans = client_interceptor()

    def intercept_unary(self, request, metadata, client_info, invoker):
        if tracing_enabled():
            return self._spans.intercept_unary(request, metadata, client_info, invoker)
        return invoker(request, _with_trace_context(metadata))

    def intercept_stream(self, request_or_iterator, metadata, client_info, invoker):
        if tracing_enabled():
            return self._spans.intercept_stream(request_or_iterator, metadata, client_info, invoker)
        return invoker(request_or_iterator, _with_trace_context(metadata))


def _with_trace_context(metadata):
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    if not carrier:
        return metadata
    return (*(metadata or ()), *carrier.items())


class TraceContextServerInterceptor(grpc.ServerInterceptor):
    """A server span per call where spans are recorded, else the call served in its caller's trace
    context (when it carries one)."""

    def __init__(self) -> None:
        self._spans = server_interceptor()

    def intercept_service(self, continuation, handler_call_details):
        if tracing_enabled():
            return self._spans.intercept_service(continuation, handler_call_details)
        handler = continuation(handler_call_details)
        carrier = {key: value for key, value in handler_call_details.invocation_metadata or ()
                   if key in _FIELDS}
        if handler is None or not carrier:
            return handler
        if handler.unary_unary:
            return grpc.unary_unary_rpc_method_handler(
                _in_context(handler.unary_unary, carrier),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer)
        if handler.unary_stream:
            return grpc.unary_stream_rpc_method_handler(
                _in_context_stream(handler.unary_stream, carrier),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer)
        return handler


def _in_context(behavior: Callable, carrier: dict[str, str]) -> Callable:
    def call(request, servicer_context):
        token = context.attach(propagate.extract(carrier))
        try:
            return behavior(request, servicer_context)
        finally:
            context.detach(token)
    return call


def _in_context_stream(behavior: Callable, carrier: dict[str, str]) -> Callable:
    def call(request, servicer_context):
        caller = propagate.extract(carrier)
        # attached around each step, not across the yields: the consumer's context is its own
        token = context.attach(caller)
        try:
            responses = iter(behavior(request, servicer_context))
        finally:
            context.detach(token)
        while True:
            token = context.attach(caller)
            try:
                response = next(responses)
            except StopIteration:
                return
            finally:
                context.detach(token)
            yield response
    return call

"""Untraced (no tracer provider), a caller's trace context still crosses gRPC calls both ways:
the client interceptor puts it in the metadata and the server interceptor serves the call in it,
unary and server-streaming alike; a call without one carries none."""
from __future__ import annotations

from concurrent import futures

import grpc
import pytest
from opentelemetry import context, propagate
from opentelemetry.instrumentation.grpc import grpcext

from services.common.telemetry import tracing_enabled
from services.common.trace_context import TraceContextClientInterceptor, TraceContextServerInterceptor

PARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def _seen_context() -> bytes:
    """The trace context the handler runs in, as it would hand it on."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier.get("traceparent", "").encode()


def _unary(request: bytes, servicer_context) -> bytes:
    return _seen_context()


def _stream(request: bytes, servicer_context):
    for _ in range(3):
        yield _seen_context()


@pytest.fixture(scope="module")
def channel():
    assert not tracing_enabled()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4),
                         interceptors=[TraceContextServerInterceptor()])
    server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler("probe.Probe", {
        "Unary": grpc.unary_unary_rpc_method_handler(_unary),
        "Stream": grpc.unary_stream_rpc_method_handler(_stream),
    })])
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    raw = grpc.insecure_channel(f"127.0.0.1:{port}")
    yield grpcext.intercept_channel(raw, TraceContextClientInterceptor())
    raw.close()
    server.stop(None)


def _in_caller_context(call):
    token = context.attach(propagate.extract({"traceparent": PARENT}))
    try:
        return call()
    finally:
        context.detach(token)


def test_a_unary_call_is_served_in_the_callers_trace_context(channel):
    unary = channel.unary_unary("/probe.Probe/Unary")
    assert _in_caller_context(lambda: unary(b"", timeout=5)) == PARENT.encode()
    assert unary(b"", timeout=5) == b""
    # metadata of the caller's own is kept beside the trace context
    assert _in_caller_context(lambda: unary(b"", timeout=5, metadata=(("x-probe", "1"),))) == PARENT.encode()


def test_a_streaming_call_is_served_in_the_callers_trace_context(channel):
    stream = channel.unary_stream("/probe.Probe/Stream")
    assert _in_caller_context(lambda: list(stream(b"", timeout=5))) == [PARENT.encode()] * 3
    assert list(stream(b"", timeout=5)) == [b""] * 3


def test_the_callers_context_does_not_outlive_its_call(channel):
    unary = channel.unary_unary("/probe.Probe/Unary")
    for _ in range(8):      # the server's threads have served calls in the caller's context
        _in_caller_context(lambda: unary(b"", timeout=5))
    assert {unary(b"", timeout=5) for _ in range(8)} == {b""}

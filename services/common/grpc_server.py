"""How every service runs its gRPC server: health (SERVING only when warm), reflection, tracing,
metrics, one error translation, and graceful shutdown on SIGTERM."""
from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent import futures
from dataclasses import dataclass, field

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from services.common.config import Settings
from services.common.errors import ServiceError
from services.common.logs import setup_logging
from services.common.metrics import RPC_LATENCY, RPC_REQUESTS, serve_metrics
from services.common.telemetry import setup_tracing, shutdown_tracing
from services.common.trace_context import TraceContextServerInterceptor

log = logging.getLogger(__name__)

_SERVER_OPTIONS = [
    ("grpc.max_send_message_length", 64 * 1024 * 1024),
    ("grpc.max_receive_message_length", 64 * 1024 * 1024),
    ("grpc.so_reuseport", 0),
    # Long-lived client connections are re-balanced, so replicas added by an autoscaler get load.
    ("grpc.max_connection_age_ms", 30_000),
    ("grpc.max_connection_age_grace_ms", 10_000),
]


class ErrorAndMetricsInterceptor(grpc.ServerInterceptor):
    """Turns ServiceError into a rich status, hides everything else behind INTERNAL (logged in
    full), and counts every call. Wraps unary and server-streaming handlers alike."""

    def __init__(self, service: str):
        self.service = service

    def intercept_service(self, continuation, handler_call_details):
        handler = continuation(handler_call_details)
        if handler is None:
            return None
        method = handler_call_details.method.rsplit("/", 1)[-1]
        if handler.unary_unary:
            return grpc.unary_unary_rpc_method_handler(
                self._wrap(handler.unary_unary, method),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer)
        if handler.unary_stream:
            return grpc.unary_stream_rpc_method_handler(
                self._wrap_stream(handler.unary_stream, method),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer)
        return handler

    def _fail(self, context, method: str, error: Exception) -> None:
        if isinstance(error, ServiceError):
            RPC_REQUESTS.labels(self.service, method, error.code).inc()
            context.abort_with_status(error.to_status())
        log.exception("unhandled error in %s", method)
        RPC_REQUESTS.labels(self.service, method, "INTERNAL_ERROR").inc()
        context.abort_with_status(ServiceError("INTERNAL_ERROR", "internal error").to_status())

    def _wrap(self, behaviour, method):
        def call(request, context):
            started = time.perf_counter()
            try:
                response = behaviour(request, context)
            except Exception as error:  # noqa: BLE001 - every failure is translated
                if _already_aborted(context):
                    raise
                self._fail(context, method, error)
            else:
                RPC_REQUESTS.labels(self.service, method, "OK").inc()
                return response
            finally:
                RPC_LATENCY.labels(self.service, method).observe(time.perf_counter() - started)
        return call

    def _wrap_stream(self, behaviour, method):
        def call(request, context):
            started = time.perf_counter()
            try:
                yield from behaviour(request, context)
            except Exception as error:  # noqa: BLE001
                if _already_aborted(context):
                    raise
                self._fail(context, method, error)
            else:
                RPC_REQUESTS.labels(self.service, method, "OK").inc()
            finally:  # the whole stream, until its last message
                RPC_LATENCY.labels(self.service, method).observe(time.perf_counter() - started)
        return call


def _already_aborted(context) -> bool:
    # context.abort() raises a bare Exception after recording the status; let it through untouched.
    state = getattr(context, "_state", None)
    return bool(getattr(state, "aborted", False))


@dataclass
class ServiceSpec:
    """What a service plugs into the common runner."""
    name: str
    # Adds the servicers to the server; called once.
    register: Callable[[grpc.Server], None]
    # Full names of the services, for health and reflection.
    service_names: Sequence[str]
    # Runs after the port is bound and before SERVING (compile kernels, restore state).
    warm_up: Callable[[], None] | None = None
    # Runs after the server has drained on shutdown (final checkpoints, closing pools).
    on_stop: Callable[[], None] | None = None
    max_workers: int = 16
    interceptors: Iterable[grpc.ServerInterceptor] = field(default_factory=tuple)


def server_credentials(cert_file: str | None, key_file: str | None) -> grpc.ServerCredentials | None:
    """TLS credentials when a certificate and key are configured, else None (plaintext)."""
    if not (cert_file and key_file):
        return None
    with open(key_file, "rb") as key, open(cert_file, "rb") as cert:
        return grpc.ssl_server_credentials([(key.read(), cert.read())])


def create_server(
    spec: ServiceSpec, address: str, credentials: grpc.ServerCredentials | None = None,
) -> tuple[grpc.Server, int, health.HealthServicer]:
    """Builds the server and binds `address` (port 0 picks a free port); does not start it."""
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=spec.max_workers, thread_name_prefix=spec.name),
        interceptors=[TraceContextServerInterceptor(), ErrorAndMetricsInterceptor(spec.name),
                      *spec.interceptors],
        options=_SERVER_OPTIONS,
    )
    spec.register(server)
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    for name in ("", *spec.service_names):
        health_servicer.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)
    reflection.enable_server_reflection(
        (*spec.service_names, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
         reflection.SERVICE_NAME), server)
    port = server.add_secure_port(address, credentials) if credentials else server.add_insecure_port(address)
    if port == 0:
        raise RuntimeError(f"cannot bind {address}")
    return server, port, health_servicer


def set_serving(health_servicer: health.HealthServicer, spec: ServiceSpec, serving: bool) -> None:
    status = health_pb2.HealthCheckResponse.SERVING if serving else health_pb2.HealthCheckResponse.NOT_SERVING
    for name in ("", *spec.service_names):
        health_servicer.set(name, status)


def run(spec: ServiceSpec, settings: Settings, address: str) -> int:
    """Runs a service in the foreground until SIGTERM or SIGINT, then drains gracefully."""
    setup_logging(spec.name, settings.log_level)
    setup_tracing(spec.name, settings.otel_exporter)
    serve_metrics(settings.metrics_addr)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    credentials = server_credentials(settings.tls_cert_file, settings.tls_key_file)
    server, port, health_servicer = create_server(spec, address, credentials)
    server.start()
    log.info("listening", extra={"address": address, "port": port})
    if spec.warm_up:
        spec.warm_up()
    set_serving(health_servicer, spec, True)
    log.info("serving")
    stop.wait()
    log.info("shutting down", extra={"grace_seconds": settings.shutdown_grace_seconds})
    set_serving(health_servicer, spec, False)
    # Stop taking new calls; calls in flight get the grace period to finish.
    server.stop(settings.shutdown_grace_seconds).wait()
    if spec.on_stop:
        spec.on_stop()
    shutdown_tracing()
    log.info("stopped")
    return 0

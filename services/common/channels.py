"""Outgoing gRPC channels, made the same way everywhere: traced, with keepalive, and TLS where the
services serve it."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import grpc
from opentelemetry.instrumentation.grpc import grpcext

from services.common.trace_context import TraceContextClientInterceptor

if TYPE_CHECKING:
    from services.common.config import Settings

_OPTIONS = [
    ("grpc.keepalive_time_ms", 30_000),
    ("grpc.max_send_message_length", 64 * 1024 * 1024),
    ("grpc.max_receive_message_length", 64 * 1024 * 1024),
    ("grpc.enable_retries", 1),
    # Reconnect quickly to a restarted peer instead of backing off for up to two minutes.
    ("grpc.initial_reconnect_backoff_ms", 200),
    ("grpc.min_reconnect_backoff_ms", 200),
    ("grpc.max_reconnect_backoff_ms", 2000),
]


def client_credentials(settings: Settings) -> grpc.ChannelCredentials | None:
    """TLS for calls to the services when they serve it (AW_TLS_CERT_FILE: every service is
    configured alike) or when a CA is named (AW_TLS_CA_FILE, for a process that serves no gRPC,
    as the gateway): trusting that CA, else the system's roots. None: plaintext."""
    if not (settings.tls_cert_file or settings.tls_ca_file):
        return None
    roots = Path(settings.tls_ca_file).read_bytes() if settings.tls_ca_file else None
    return grpc.ssl_channel_credentials(root_certificates=roots)


def dial(address: str, settings: Settings, options: Sequence[tuple[str, object]] = ()) -> grpc.Channel:
    """An untraced channel to a service (the command-line tool, health checks)."""
    credentials = client_credentials(settings)
    if credentials is None:
        return grpc.insecure_channel(address, options=list(options))
    return grpc.secure_channel(address, credentials, options=list(options))


def open_channel(address: str, settings: Settings) -> grpc.Channel:
    """The channel one service calls another on."""
    channel = dial(address, settings, _OPTIONS)
    # W3C trace context travels in the call metadata, so one trace follows a request across services.
    return grpcext.intercept_channel(channel, TraceContextClientInterceptor())

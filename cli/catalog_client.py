"""The command-line tool's connection to catalog (operator calls, no API key; with
AW_OPERATOR_TOKEN set every call carries it, so the tool works from another host too)."""
from __future__ import annotations

import sys
from collections.abc import Callable
from typing import NamedTuple, TypeVar

import grpc

from services.catalog.operator_auth import OPERATOR_TOKEN_METADATA
from services.common.channels import dial
from services.common.config import Settings, load_settings
from services.common.errors import from_rpc_error

T = TypeVar("T")


def account_stub(settings: Settings | None = None):
    """(AccountService stub, call timeout) of the operator's connection to catalog."""
    from anomalywatch.catalog.v1 import accounts_pb2_grpc
    settings = settings or load_settings()
    channel = dial(settings.catalog_addr, settings)
    if settings.operator_token:
        token = ((OPERATOR_TOKEN_METADATA, settings.operator_token),)
        channel = grpc.intercept_channel(channel, _WithMetadata(token))
    return accounts_pb2_grpc.AccountServiceStub(channel), settings.rpc_timeout_seconds


class _CallDetails(NamedTuple):
    method: str
    timeout: float | None
    metadata: tuple | None
    credentials: grpc.CallCredentials | None
    wait_for_ready: bool | None
    compression: grpc.Compression | None


class _WithMetadata(grpc.UnaryUnaryClientInterceptor):
    """Adds fixed metadata to every call."""

    def __init__(self, metadata: tuple[tuple[str, str], ...]):
        self.metadata = metadata

    def intercept_unary_unary(self, continuation, details, request):
        return continuation(_CallDetails(details.method, details.timeout,
                                         (*(details.metadata or ()), *self.metadata), details.credentials,
                                         details.wait_for_ready, details.compression), request)


def call(action: Callable[[], T]) -> T:
    """Runs a catalog call; a failure is printed as one line and exits with status 1."""
    try:
        return action()
    except grpc.RpcError as error:
        failure = from_rpc_error(error)
        hint = " (is catalog running? see `make run`)" if failure.code == "UNAVAILABLE" else ""
        print(f"error: {failure.code}: {failure.message}{hint}", file=sys.stderr)
        raise SystemExit(1) from None

"""The command-line tool's connection to catalog (operator calls, no API key)."""
from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TypeVar

import grpc

from services.common.channels import dial
from services.common.config import load_settings
from services.common.errors import from_rpc_error

T = TypeVar("T")


def account_stub():
    from anomalywatch.catalog.v1 import accounts_pb2_grpc
    settings = load_settings()
    channel = dial(settings.catalog_addr, settings)
    return accounts_pb2_grpc.AccountServiceStub(channel), settings.rpc_timeout_seconds


def call(action: Callable[[], T]) -> T:
    """Runs a catalog call; a failure is printed as one line and exits with status 1."""
    try:
        return action()
    except grpc.RpcError as error:
        failure = from_rpc_error(error)
        hint = " (is catalog running? see `make run`)" if failure.code == "UNAVAILABLE" else ""
        print(f"error: {failure.code}: {failure.message}{hint}", file=sys.stderr)
        raise SystemExit(1) from None

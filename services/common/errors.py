"""The error codes of the contract, in one table: gRPC status code and HTTP status per code.

Services raise `ServiceError`; the gRPC layer turns it into a rich status whose ErrorInfo reason
is the code, and the gateway turns that back into the REST envelope with the HTTP status here.
"""
from __future__ import annotations

import json
from typing import Any

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

DOMAIN = "anomalywatch.dev"
# gRPC refuses response metadata past 8 KiB (at random between its soft and hard limits), and an
# error's message and details travel in it twice: echoed input (a 3000-character id) is cut short.
MAX_ECHO_CHARS = 200

# code: (gRPC status, HTTP status)
ERROR_CODES: dict[str, tuple[grpc.StatusCode, int]] = {
    "UNAUTHORIZED": (grpc.StatusCode.UNAUTHENTICATED, 401),
    "FORBIDDEN": (grpc.StatusCode.PERMISSION_DENIED, 403),
    "VALIDATION_ERROR": (grpc.StatusCode.INVALID_ARGUMENT, 400),
    "INVALID_THRESHOLD": (grpc.StatusCode.INVALID_ARGUMENT, 400),
    "MODEL_UNAVAILABLE": (grpc.StatusCode.INVALID_ARGUMENT, 400),
    "NOT_FOUND": (grpc.StatusCode.NOT_FOUND, 404),
    "ANOMALY_NOT_FOUND": (grpc.StatusCode.NOT_FOUND, 404),
    "METRIC_NOT_FOUND": (grpc.StatusCode.NOT_FOUND, 404),
    "RULE_NOT_FOUND": (grpc.StatusCode.NOT_FOUND, 404),
    "KEY_NOT_FOUND": (grpc.StatusCode.NOT_FOUND, 404),
    "ACCOUNT_NOT_FOUND": (grpc.StatusCode.NOT_FOUND, 404),
    "METHOD_NOT_ALLOWED": (grpc.StatusCode.UNIMPLEMENTED, 405),
    "ALREADY_RESOLVED": (grpc.StatusCode.FAILED_PRECONDITION, 409),
    "CONFLICT": (grpc.StatusCode.ALREADY_EXISTS, 409),
    "PAYLOAD_TOO_LARGE": (grpc.StatusCode.RESOURCE_EXHAUSTED, 413),
    "UNSUPPORTED_MEDIA_TYPE": (grpc.StatusCode.INVALID_ARGUMENT, 415),
    "INSUFFICIENT_DATA": (grpc.StatusCode.FAILED_PRECONDITION, 422),
    "RATE_LIMITED": (grpc.StatusCode.RESOURCE_EXHAUSTED, 429),
    "INTERNAL_ERROR": (grpc.StatusCode.INTERNAL, 500),
    "UNAVAILABLE": (grpc.StatusCode.UNAVAILABLE, 503),
    "WRONG_SHARD": (grpc.StatusCode.FAILED_PRECONDITION, 503),
}

# When a status arrives without ErrorInfo (a transport failure, a deadline): its contract code.
_CODE_FOR_STATUS = {
    grpc.StatusCode.UNAVAILABLE: "UNAVAILABLE",
    grpc.StatusCode.DEADLINE_EXCEEDED: "UNAVAILABLE",
    grpc.StatusCode.CANCELLED: "UNAVAILABLE",
    grpc.StatusCode.UNAUTHENTICATED: "UNAUTHORIZED",
    grpc.StatusCode.PERMISSION_DENIED: "FORBIDDEN",
    grpc.StatusCode.INVALID_ARGUMENT: "VALIDATION_ERROR",
    grpc.StatusCode.NOT_FOUND: "NOT_FOUND",
    grpc.StatusCode.RESOURCE_EXHAUSTED: "RATE_LIMITED",
}


class ServiceError(Exception):
    """A failure the caller should see, with its contract code, a message and details."""

    def __init__(self, code: str, message: str, details: dict[str, Any] | None = None):
        if code not in ERROR_CODES:
            raise ValueError(f"unknown error code {code}")
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details or {}

    @property
    def grpc_code(self) -> grpc.StatusCode:
        return ERROR_CODES[self.code][0]

    @property
    def http_status(self) -> int:
        return ERROR_CODES[self.code][1]

    def to_status(self) -> grpc.Status:
        """The rich gRPC status: ErrorInfo(reason=code, metadata={"details": JSON})."""
        info = error_details_pb2.ErrorInfo(
            reason=self.code, domain=DOMAIN, metadata={"details": json.dumps(_clipped(self.details))})
        detail = any_pb2.Any()
        detail.Pack(info)
        status = status_pb2.Status(code=getattr(code_pb2, self.grpc_code.name),
                                   message=_clipped(self.message), details=[detail])
        return rpc_status.to_status(status)


def _clipped(value: Any) -> Any:
    """`value` with every string longer than MAX_ECHO_CHARS cut short, at any depth."""
    if isinstance(value, str):
        return value if len(value) <= MAX_ECHO_CHARS else value[:MAX_ECHO_CHARS] + "…"
    if isinstance(value, dict):
        return {_clipped(k): _clipped(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clipped(v) for v in value]
    return value


def _details_of(info: error_details_pb2.ErrorInfo) -> dict[str, Any]:
    """The details object an ErrorInfo carries; {} where it holds none or no JSON object (a peer
    that is not one of ours: its reason and message still reach the caller)."""
    try:
        details = json.loads(info.metadata.get("details") or "{}")
    except ValueError:
        return {}
    return details if isinstance(details, dict) else {}


def _rich_status(error: grpc.RpcError) -> status_pb2.Status | None:
    if not hasattr(error, "trailing_metadata"):
        return None
    try:
        return rpc_status.from_call(error)
    except ValueError:  # the transport replaced the status (its own RESOURCE_EXHAUSTED, ...)
        return None


def from_rpc_error(error: grpc.RpcError) -> ServiceError:
    """The ServiceError a failed call carries; transport failures become UNAVAILABLE."""
    status = _rich_status(error)
    if status is not None:
        for detail in status.details:
            info = error_details_pb2.ErrorInfo()
            if detail.Is(info.DESCRIPTOR) and detail.Unpack(info) and info.reason in ERROR_CODES:
                return ServiceError(info.reason, status.message, _details_of(info))
    code = error.code() if hasattr(error, "code") else grpc.StatusCode.UNKNOWN
    mapped = _CODE_FOR_STATUS.get(code, "INTERNAL_ERROR")
    message = {
        "UNAVAILABLE": "a backing service is unavailable; retry shortly",
        "INTERNAL_ERROR": "internal error",
    }.get(mapped, error.details() if hasattr(error, "details") else mapped.lower())
    return ServiceError(mapped, message)

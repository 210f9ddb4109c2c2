"""Typed exceptions: one class per HTTP status of the contract, each carrying the error envelope."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class AnomalyWatchError(Exception):
    """Base of every exception this SDK raises."""


class TransportError(AnomalyWatchError):
    """The request did not get an HTTP answer (connection refused or reset, DNS, TLS...)."""


class RequestTimeout(TransportError):
    """No answer within the client's timeout."""


class InvalidResponseError(AnomalyWatchError):
    """A successful HTTP status whose body is not the API's JSON (a proxy's HTML page, a body cut
    off in transit). `status` and `body` (the text, cut short) say what came."""

    def __init__(self, message: str, status: int, body: str):
        super().__init__(message)
        self.status = status
        self.body = body


class ApiError(AnomalyWatchError):
    """An HTTP error answer. `code`, `message` and `details` come from the contract's envelope
    `{"error": {"code", "message", "details"}}` (or Anomify's `{"code", "message"}` on /flux)."""

    def __init__(self, status: int, code: str, message: str, details: Mapping[str, Any] | None = None,
                 headers: Mapping[str, str] | None = None, body: Any = None):
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details: dict[str, Any] = dict(details or {})
        self.headers: dict[str, str] = dict(headers or {})
        self.body = body

    @property
    def envelope(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class ValidationError(ApiError):
    """400: VALIDATION_ERROR, INVALID_THRESHOLD, MODEL_UNAVAILABLE."""


class AuthenticationError(ApiError):
    """401: missing, malformed, unknown, expired or revoked key."""


class PermissionDenied(ApiError):
    """403: the key lacks the scope."""


class NotFoundError(ApiError):
    """404: *_NOT_FOUND (also another account's id) or an unknown route."""


class MethodNotAllowedError(ApiError):
    """405."""


class ConflictError(ApiError):
    """409: ALREADY_RESOLVED, CONFLICT (a duplicate rule name)."""


class PayloadTooLargeError(ApiError):
    """413: the body is over 1 MiB; do not resend it."""


class UnsupportedMediaTypeError(ApiError):
    """415."""


class InsufficientDataError(ApiError):
    """422: too little history (forecast)."""


class RateLimitError(ApiError):
    """429: over the plan's per-minute limit or its per-second burst. `retry_after` in seconds."""

    @property
    def retry_after(self) -> float | None:
        return parse_retry_after(self.headers.get("Retry-After"))


class InternalServerError(ApiError):
    """500."""


class UnavailableError(ApiError):
    """503: a service behind the gateway is unavailable; retried by the client."""


STATUS_CLASSES: dict[int, type[ApiError]] = {
    400: ValidationError, 401: AuthenticationError, 403: PermissionDenied, 404: NotFoundError,
    405: MethodNotAllowedError, 409: ConflictError, 413: PayloadTooLargeError, 415: UnsupportedMediaTypeError,
    422: InsufficientDataError, 429: RateLimitError, 500: InternalServerError, 503: UnavailableError,
}
DEFAULT_CODES: dict[int, str] = {
    400: "VALIDATION_ERROR", 401: "UNAUTHORIZED", 403: "FORBIDDEN", 404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT", 413: "PAYLOAD_TOO_LARGE", 415: "UNSUPPORTED_MEDIA_TYPE", 422: "INSUFFICIENT_DATA",
    429: "RATE_LIMITED", 500: "INTERNAL_ERROR", 503: "UNAVAILABLE",
}


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a `Retry-After` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    import time
    from email.utils import parsedate_to_datetime

    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def error_for(status: int, body: Any, headers: Mapping[str, str], text: str = "") -> ApiError:
    """The exception for an error answer, from the envelope when there is one."""
    code, message, details = DEFAULT_CODES.get(status, f"HTTP_{status}"), "", {}
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        envelope = body["error"]
        code = str(envelope.get("code") or code)
        message = str(envelope.get("message") or "")
        details = envelope.get("details") if isinstance(envelope.get("details"), dict) else {}
    elif isinstance(body, dict) and "message" in body:  # Anomify's {"code": 400, "message": ...}
        message = str(body["message"])
    else:
        message = (text or "").strip()[:500] or f"HTTP {status}"
    cls = STATUS_CLASSES.get(status)
    if cls is None:
        cls = InternalServerError if status >= 500 else ApiError
    return cls(status, code, message, details, headers, body)

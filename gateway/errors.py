"""Every error leaves the gateway in the contract's envelope; gRPC failures were already turned
into ServiceError by the client layer, so the HTTP status comes from one table."""
from __future__ import annotations

import logging

from flask import Flask, jsonify, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from gateway.body import MAX_BODY_BYTES, discard_body
from gateway.routes import flux
from services.common.errors import ServiceError

log = logging.getLogger(__name__)

_HTTP_CODES = {400: "VALIDATION_ERROR", 401: "UNAUTHORIZED", 403: "FORBIDDEN", 404: "NOT_FOUND",
               405: "METHOD_NOT_ALLOWED", 413: "PAYLOAD_TOO_LARGE", 415: "UNSUPPORTED_MEDIA_TYPE",
               429: "RATE_LIMITED", 503: "UNAVAILABLE"}
_HTTP_MESSAGES = {
    404: "no such endpoint; see /v1/openapi.json",
    405: "method not allowed on this endpoint",
    413: "request body is larger than 1 MiB; do not resend",
    415: "send the body as application/json",
}


def envelope(code: str, message: str, details: dict | None = None, status: int = 400):
    response = jsonify({"error": {"code": code, "message": message, "details": details or {}}})
    response.status_code = status
    return response


def render_service_error(error: ServiceError):
    response = envelope(error.code, error.message, error.details, error.http_status)
    if error.code == "UNSUPPORTED_MEDIA_TYPE" and error.details.get("field") == "Content-Encoding":
        response.headers["Accept-Encoding"] = "identity"  # RFC 7694: the codings that are accepted
    return response


def _render_http(error: HTTPException):
    status = error.code or 500
    code = _HTTP_CODES.get(status, "INTERNAL_ERROR" if status >= 500 else "VALIDATION_ERROR")
    message = _HTTP_MESSAGES.get(status) or (error.description or code.lower())
    if request.path == flux.PATH:
        # A routing error (405) is raised before a route is matched, so the flux blueprint's own
        # handlers never see it; a flux client reads Anomify's {"code", "message"}, not the envelope.
        response = flux.flux_error(status, message)
    else:
        response = envelope(code, message, {}, status)
    allowed = getattr(error, "valid_methods", None)
    if status == 405 and allowed:
        response.headers["Allow"] = ", ".join(allowed)
    return response


def _render_too_large(_error: RequestEntityTooLarge):
    discard_body()
    details = {"field": "body", "limit_bytes": MAX_BODY_BYTES}
    return envelope("PAYLOAD_TOO_LARGE", _HTTP_MESSAGES[413], details, 413)


def _render_unexpected(error: Exception):
    # Everything to the log, nothing internal to the client.
    log.exception("unhandled error")
    return envelope("INTERNAL_ERROR", "internal error", {}, 500)


def install(app: Flask) -> None:
    app.register_error_handler(ServiceError, render_service_error)
    app.register_error_handler(HTTPException, _render_http)
    app.register_error_handler(RequestEntityTooLarge, _render_too_large)
    app.register_error_handler(Exception, _render_unexpected)

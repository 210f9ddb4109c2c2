"""Reusable responses, headers and parameters of the OpenAPI document: the error envelope per HTTP
status (with the codes that status can carry), the rate-limit headers, the list parameters."""

from __future__ import annotations

from typing import Any

from gateway.openapi.schemas import codes_for_status, obj, ref
from gateway.request_io import DEFAULT_LIMIT, MAX_LIMIT, MAX_OFFSET, MAX_PAGE
from gateway.routes.metrics import MAX_POINTS as MAX_POINTS_PER_READ

JSON = "application/json"

ERROR_STATUSES: dict[int, tuple[str, str]] = {
    400: ("BadRequest", "The request is invalid; `details.field` names the offending field."),
    401: ("Unauthorized", "Missing, malformed, unknown, expired or revoked API key."),
    403: ("Forbidden", "The key lacks the scope this endpoint needs."),
    404: ("NotFound", "No such resource in the key's account and environment."),
    409: ("Conflict", "The resource's state or a unique name forbids the change."),
    413: ("PayloadTooLarge", "The body is larger than 1 MiB; do not resend it."),
    415: ("UnsupportedMediaType", "The body is not `application/json`, or is compressed (a "
          "`Content-Encoding` other than identity: bodies are sent uncompressed)."),
    422: ("InsufficientData", "The series has too little history."),
    429: (
        "RateLimited",
        "Over the key's (or, without a valid key, the address's) rate limit; see `Retry-After`.",
    ),
    500: ("InternalError", "An unexpected failure; nothing internal is shown."),
    503: ("Unavailable", "A backing service is unavailable; retry shortly."),
}
# 404s of one resource carry only its own code. A name_or_id that Flask's `path` converter cannot
# match (a newline, which no metric name has) is an unknown route: NOT_FOUND.
NOT_FOUND = {
    "AnomalyNotFound": ["ANOMALY_NOT_FOUND"],
    "MetricNotFound": ["METRIC_NOT_FOUND"],
    "RuleNotFound": ["RULE_NOT_FOUND"],
    "KeyNotFound": ["KEY_NOT_FOUND"],
    "ConfigTargetNotFound": ["METRIC_NOT_FOUND", "NOT_FOUND"],
}

RATE_HEADERS = {
    "X-RateLimit-Limit": ("The per-minute limit of the key's plan (or of keyless requests).", "integer"),
    "X-RateLimit-Remaining": ("Requests left in the current minute window.", "integer"),
    "X-RateLimit-Reset": (
        "Unix seconds at which the oldest counted request leaves the minute window.",
        "integer",
    ),
    "X-RateLimit-Burst-Limit": ("The per-second burst limit.", "integer"),
    "X-RateLimit-Burst-Remaining": ("Requests left in the current second window.", "integer"),
}


def error_schema(codes: list[str]) -> dict[str, Any]:
    return {"allOf": [ref("Error"), obj({"error": obj({"code": {"enum": codes}})})]}


def rate_headers() -> dict[str, Any]:
    return {name: {"$ref": f"#/components/headers/{name}"} for name in RATE_HEADERS}


def error_response(description: str, codes: list[str], status: int) -> dict[str, Any]:
    headers = rate_headers()
    if status == 429:
        headers["Retry-After"] = {"$ref": "#/components/headers/Retry-After"}
    return {
        "description": f"{description} Codes: {', '.join(f'`{c}`' for c in codes)}.",
        "headers": headers,
        "content": {JSON: {"schema": error_schema(codes)}},
    }


def error_ref(status: int, not_found: str | None = None) -> dict[str, Any]:
    name = not_found if status == 404 and not_found else ERROR_STATUSES[status][0]
    return {"$ref": f"#/components/responses/{name}"}


def components_responses() -> dict[str, Any]:
    # A plain 400 is VALIDATION_ERROR; the operations that can also answer INVALID_THRESHOLD or
    # MODEL_UNAVAILABLE say so themselves (`codes` of paths.operation), as do the 409s.
    generic = {400: ["VALIDATION_ERROR"]}
    out = {
        name: error_response(text, generic.get(status) or codes_for_status(status), status)
        for status, (name, text) in ERROR_STATUSES.items()
    }
    for name, codes in NOT_FOUND.items():
        out[name] = error_response(ERROR_STATUSES[404][1], codes, 404)
    return out


def components_headers() -> dict[str, Any]:
    headers = {
        name: {"description": text, "required": True, "schema": {"type": kind, "minimum": 0}}
        for name, (text, kind) in RATE_HEADERS.items()
    }
    headers["Retry-After"] = {
        "description": "Whole seconds to wait before retrying (at least 1).",
        "required": True,
        "schema": {"type": "integer", "minimum": 1},
    }
    return headers


def query_param(
    name: str, schema: dict[str, Any], description: str, empty_is_absent: bool = True
) -> dict[str, Any]:
    """An optional query parameter; the gateway reads most of them empty (`?to=`) as absent."""
    return {
        "name": name,
        "in": "query",
        "required": False,
        "allowEmptyValue": empty_is_absent,
        "schema": schema,
        "description": description + (" Empty means absent." if empty_is_absent else ""),
    }


def components_parameters() -> dict[str, Any]:
    time_text = "ISO 8601 date or time (a date alone is midnight UTC, no zone means UTC); inclusive"
    return {
        "limit": query_param(
            "limit",
            {"type": "integer", "minimum": 1, "default": DEFAULT_LIMIT},
            f"Page size; above {MAX_LIMIT} it is lowered to {MAX_LIMIT}.",
        ),
        "offset": query_param(
            "offset", {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET, "default": 0}, "Items to skip."
        ),
        "page": query_param(
            "page",
            {"type": "integer", "minimum": 1, "maximum": MAX_PAGE},
            "1-based page: `offset = (page-1)*limit` (an explicit `offset` wins).",
        ),
        "from": query_param("from", {"type": "string", "format": "date-time"}, f"Lower bound: {time_text}."),
        "to": query_param("to", {"type": "string", "format": "date-time"}, f"Upper bound: {time_text}."),
        "pointsLimit": query_param(
            "limit",
            {"type": "integer", "minimum": 1, "default": 1000},
            f"At most this many points (lowered to {MAX_POINTS_PER_READ}).",
            empty_is_absent=False,
        ),
    }


def param_ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/parameters/{name}"}


PAGING = [param_ref("limit"), param_ref("offset"), param_ref("page")]

"""The gateway's API reference: one OpenAPI 3.1 document of the whole public REST API, assembled
from reusable components (schemas.py, responses.py) and the operations (paths.py). Served as
`GET /v1/openapi.json` and rendered for people at `GET /docs` (html.py)."""

from __future__ import annotations

import copy
import functools
from typing import Any

from gateway.openapi.paths import SECURITY_SCHEME, paths
from gateway.openapi.responses import components_headers, components_parameters, components_responses
from gateway.openapi.schemas import components as schema_components
from services.common.auth import SCOPES

OPENAPI_VERSION = "3.1.0"
API_VERSION = "1.0.0"

DESCRIPTION = """AnomalyWatch detects anomalies in operational metrics and forecasts them.

**Conventions.** JSON in and out (UTF-8). Every error is the envelope
`{"error": {"code", "message", "details"}}`; `details` names the offending field. Lists take `limit`
(default 50, lowered to 1000), `offset` and 1-based `page`, and answer
`{"data": [...], "pagination": {"total", "limit", "offset", "has_more"}}`; a single resource is
`{"data": {...}}`; `POST /v1/ingest` and `POST /v1/forecast` answer unwrapped. Timestamps are ISO 8601
(output always UTC with `Z`). Ids carry a prefix: `acct_`, `key_`, `met_`, `anom_`, `rule_`.

**Auth.** `Authorization: Bearer aw_live_...` (or `aw_test_...` for the account's sandbox data). A
missing or bad key is 401 `UNAUTHORIZED`; a key without the operation's scope is 403 `FORBIDDEN`.
The scope each operation needs is listed in its `security` requirement (and `x-required-scope`).

**Rate limits** per API key by plan (free 100/min burst 5/s, pro 1,000/min burst 50/s, enterprise
10,000/min burst 500/s); requests without a valid key are limited per client address. Every limited
response carries `X-RateLimit-Limit` (per minute), `X-RateLimit-Remaining`, `X-RateLimit-Reset` (unix
seconds) and the burst window's `X-RateLimit-Burst-Limit`/`-Remaining`; over the limit: 429
`RATE_LIMITED` with `Retry-After`. The operations endpoints are not limited.

**Everywhere.** An unknown route is 404 `NOT_FOUND`; a method a route does not have is 405
`METHOD_NOT_ALLOWED` with `Allow` (on `/flux/metric_data_post`, Anomify's `{"code": 405, "message"}`)."""

TAGS = [
    {"name": "Ingest", "description": "Sending points, natively or in Anomify's format."},
    {
        "name": "Anomalies",
        "description": "Anomaly episodes and their lifecycle (active, acknowledged, resolved).",
    },
    {
        "name": "Rules",
        "description": "Threshold rules, evaluated on every point beside statistical detection.",
    },
    {"name": "Metrics", "description": "Series, their points and their anomaly configuration."},
    {"name": "Forecast", "description": "Forecasts with prediction intervals."},
    {"name": "API keys", "description": "The account's keys (scope `admin`)."},
    {"name": "Operations", "description": "Health, readiness, metrics and this reference; no auth."},
]


@functools.cache
def _build() -> dict[str, Any]:
    return {
        "openapi": OPENAPI_VERSION,
        "info": {"title": "AnomalyWatch API", "version": API_VERSION, "description": DESCRIPTION},
        "servers": [{"url": "/", "description": "This gateway"}],
        "tags": TAGS,
        "paths": paths(),
        "components": {
            "schemas": schema_components(),
            "responses": components_responses(),
            "parameters": components_parameters(),
            "headers": components_headers(),
            "securitySchemes": {
                SECURITY_SCHEME: {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "aw_live_<random> or aw_test_<random>",
                    "description": f"An API key. Scopes: {', '.join(f'`{s}`' for s in SCOPES)}.",
                }
            },
        },
    }


def document() -> dict[str, Any]:
    """A fresh copy of the document (callers may change theirs)."""
    return copy.deepcopy(_build())

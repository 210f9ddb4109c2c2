"""Every operation of the public API (`paths`), from /work/shared/API.md: parameters, bodies, the
answers per status with their error codes, and the scope each needs (`security`)."""

from __future__ import annotations

import re
from typing import Any

from gateway.openapi.responses import (
    ERROR_STATUSES,
    JSON,
    PAGING,
    error_ref,
    error_response,
    param_ref,
    query_param,
    rate_headers,
)
from gateway.openapi.schemas import (
    ANOMALY_TYPES,
    SEVERITIES,
    STATUSES,
    TEXT,
    obj,
    page_of,
    ref,
    single,
)
from gateway.routes.ingest import TEST_ONLY_WORDS
from services.ingest.validation import MAX_NAME, METRIC_NAME

Operation = dict[str, Any]
SECURITY_SCHEME = "bearerAuth"
AUTHED_ERRORS = (401, 403, 429, 500, 503)
BODY_ERRORS = (400, 413, 415)


def _path(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": {"type": "string", "minLength": 1, "pattern": r"^[^/\x00]+$"},
    }


def _ok(
    description: str, schema: dict[str, Any] | None = None, media: str = JSON, limited: bool = True
) -> dict[str, Any]:
    answer: dict[str, Any] = {"description": description}
    if limited:
        answer["headers"] = rate_headers()
    if schema is not None:
        answer["content"] = {media: {"schema": schema}}
    return answer


def operation(
    operation_id: str,
    tag: str,
    summary: str,
    scope: str | None,
    ok: dict[int, Any],
    *,
    errors: tuple[int, ...] = (),
    not_found: str | None = None,
    codes: dict[int, list[str]] | None = None,
    description: str = "",
    parameters: list[dict[str, Any]] | None = None,
    body: dict[str, Any] | None = None,
    body_required: bool = True,
    any_key: bool = False,
) -> Operation:
    """An operation needing an API key with `scope` (or, with `any_key`, any valid key); every one
    can also answer the AUTHED_ERRORS, a body-taking one the BODY_ERRORS, and one with a path id 400
    (an id no store can hold: NUL, invalid UTF-8). `codes` narrows or widens the error codes of a
    status for this operation."""
    statuses = set(errors)
    if any(p.get("in") == "path" for p in parameters or []):
        statuses.add(400)
    if scope:
        statuses |= set(AUTHED_ERRORS)
    elif any_key:
        statuses |= set(AUTHED_ERRORS) - {403}
    if body is not None:
        statuses |= set(BODY_ERRORS)
    responses: dict[str, Any] = {str(status): answer for status, answer in sorted(ok.items())}
    for status in sorted(statuses):
        if codes and status in codes:
            responses[str(status)] = error_response(ERROR_STATUSES[status][1], codes[status], status)
        else:
            responses[str(status)] = error_ref(status, not_found)
    op: Operation = {
        "operationId": operation_id,
        "tags": [tag],
        "summary": summary,
        "description": (
            description
            + (
                f"\n\nNeeds an API key with the `{scope}` scope."
                if scope
                else "\n\nNeeds any valid API key."
                if any_key
                else ""
            )
        ).strip(),
        "security": [{SECURITY_SCHEME: [scope] if scope else []}] if scope or any_key else [],
        "responses": responses,
    }
    if scope:
        op["x-required-scope"] = scope
    if parameters:
        op["parameters"] = parameters
    if body is not None:
        op["requestBody"] = {"required": body_required, "content": {JSON: {"schema": body}}}
    return op


ANOMALY_ID = _path("anomaly_id", "`anom_...`; another account's id answers 404 like an unknown one.")
# `/v1/anomalies/stats`, `/summary` and `/rules` are their own operations, not ids.
ANOMALY_ID["schema"]["not"] = {"enum": ["stats", "summary", "rules"]}
RULE_ID = _path("rule_id", "`rule_...`")
METRIC_ID = _path("metric_id", "`met_...`")
TAGS_TEXT = "Filter by tags with `tag.<key>=<value>` query parameters (any number; all must match)."


def _any_case(word: str) -> str:
    return "".join(f"[{c.upper()}{c}]" if c.isalpha() else re.escape(c) for c in word)


TEST_ONLY = {
    "name": "X-Test-Only",
    "in": "header",
    "required": False,
    # The words the gateway takes, in any case (empty is one of them: false).
    "schema": {"type": "string", "pattern": f"^({'|'.join(map(_any_case, TEST_ONLY_WORDS))})$"},
    "description": "`true`: validate and answer as usual (order, exact repeats and the series quota "
    "included, against the stored data), but store and analyse nothing. `true`, `yes`, `1` or "
    "`false`, `no`, `0` (or empty), in any case; anything else is 400 and stores nothing.",
}


def _ingest() -> dict[str, Any]:
    post = operation(
        "ingest",
        "Ingest",
        "Send one point or a batch of up to 500",
        "ingest",
        {
            200: _ok(
                "The point (a single point's answer) or every point of the batch was accepted.",
                {"oneOf": [ref("PointResult"), ref("BatchResult")]},
            ),
            207: _ok(
                "Some (or all) points of the batch were rejected; one result per point, in order.",
                ref("BatchResult"),
            ),
        },
        parameters=[TEST_ONLY],
        body={"oneOf": [ref("Point"), ref("PointBatch")]},
        description="Points are stored durably before the answer. Per series, a point at or before the "
        "series' last timestamp is rejected unless it is an exact repeat (accepted, changes "
        "nothing). A new series over the plan's quota is rejected. An invalid single point is 400; "
        "a batch answers 207 when any point is rejected, 400 only when the body is unusable.",
    )
    test = operation(
        "listTestPosts",
        "Ingest",
        "Recent X-Test-Only posts of this account and environment",
        "ingest",
        {200: _ok("Metric names posted with X-Test-Only, newest first.", page_of(ref("TestPost")))},
        errors=(400,),
        parameters=PAGING,
    )
    flux = {
        "operationId": "anomifyMetricDataPost",
        "tags": ["Ingest"],
        "summary": "Anomify-compatible bulk ingest",
        "description": "Anomify's own semantics, not the envelope: the key travels in the body and needs the "
        "`ingest` scope; any invalid metric rejects the whole post with 400 and Anomify's "
        "message; only the series quota gives 207. Timestamps are unix integers.",
        "security": [],
        "x-required-scope": "ingest",
        "parameters": [TEST_ONLY],
        "requestBody": {"required": True, "content": {JSON: {"schema": ref("FluxPost")}}},
        "responses": {
            "204": _ok("Every metric was accepted."),
            "207": _ok("Some metrics were over the plan's series quota.", ref("FluxPartial")),
            **{
                str(status): _ok(text, ref("FluxError"))
                for status, text in (
                    (
                        400,
                        "Invalid post, e.g. `invalid json data`, `no metric data passed`, "
                        "`too many metrics - at "
                        "most 500 per post`, or a metric's message (one out of order included); "
                        "nothing of the post is stored.",
                    ),
                    (401, "`no key passed` or `invalid key`."),
                    (403, "The key lacks the `ingest` scope."),
                    (413, "`payload too large` (over 1 MiB)."),
                    (429, "Over the key's rate limit."),
                )
            },
            "500": error_ref(500),
            "503": {
                "description": "A backing service is unavailable.",
                "headers": rate_headers(),
                "content": {JSON: {"schema": {"anyOf": [ref("FluxError"), ref("Error")]}}},
            },
        },
    }
    flux["responses"]["429"]["headers"]["Retry-After"] = {"$ref": "#/components/headers/Retry-After"}
    return {
        "/v1/ingest": {"post": post},
        "/v1/ingest/test": {"get": test},
        "/flux/metric_data_post": {"post": flux},
    }


def _anomalies() -> dict[str, Any]:
    filters = [
        query_param(
            "status",
            {"type": "string", "enum": [*STATUSES, "all", "open"]},
            "`open` means `active`; without it (or with `all`) every status.",
        ),
        query_param("severity", {"type": "string", "enum": SEVERITIES}, "Severity."),
        query_param("type", {"type": "string", "enum": ANOMALY_TYPES}, "Type."),
        query_param("metric", TEXT, "Exact metric name."),
        query_param("metric_id", TEXT, "Series id, `met_...`."),
        param_ref("from"),
        param_ref("to"),
        *PAGING,
    ]
    meta = {**ref("StatusCounts"), "description": "Counts by status for the filter without its status part."}
    anomaly = single(ref("Anomaly"))
    return {
        "/v1/anomalies": {
            "get": operation(
                "listAnomalies",
                "Anomalies",
                "List anomalies, newest first",
                "read",
                {200: _ok("A page of anomalies.", page_of(ref("Anomaly"), meta))},
                errors=(400,),
                parameters=filters,
                description=f"`from`/`to` bound `detected_at`; `from` after `to` is 400. {TAGS_TEXT}",
            )
        },
        "/v1/anomalies/stats": {
            "get": operation(
                "anomalyStats",
                "Anomalies",
                "Aggregates over a window of `detected_at`",
                "read",
                {
                    200: _ok(
                        "Counts and mean times (seconds; null with nothing to average).",
                        single(ref("AnomalyStats")),
                    )
                },
                errors=(400,),
                parameters=[param_ref("from"), param_ref("to")],
                description="Without `from`/`to` it covers all time; `from` after `to` is 400. "
                "MTTA = `acknowledged_at - detected_at`.",
            )
        },
        "/v1/anomalies/summary": {
            "get": operation(
                "anomalySummary",
                "Anomalies",
                "Counts by status and type",
                "read",
                {200: _ok("The counts.", single(ref("AnomalySummary")))},
                errors=(400,),
                description="It takes no query parameters (an unknown one is 400).",
            )
        },
        "/v1/anomalies/{anomaly_id}": {
            "get": operation(
                "getAnomaly",
                "Anomalies",
                "One anomaly, with the series around it",
                "read",
                {
                    200: _ok(
                        "The anomaly with `history` and `baseline_history`.", single(ref("AnomalyDetail"))
                    )
                },
                not_found="AnomalyNotFound",
                errors=(404,),
                parameters=[ANOMALY_ID],
            )
        },
        "/v1/anomalies/{anomaly_id}/acknowledge": {
            "post": operation(
                "acknowledgeAnomaly",
                "Anomalies",
                "Acknowledge an anomaly",
                "write",
                {200: _ok("The anomaly after the action (unchanged when already acknowledged).", anomaly)},
                not_found="AnomalyNotFound",
                errors=(404, 409),
                codes={409: ["ALREADY_RESOLVED"]},
                parameters=[ANOMALY_ID],
                body=ref("AcknowledgeRequest"),
                body_required=False,
                description="Sets `acknowledged_at` and `acknowledged_by` (the key's id). "
                "On a resolved anomaly: "
                "409 `ALREADY_RESOLVED`.",
            )
        },
        "/v1/anomalies/{anomaly_id}/resolve": {
            "post": operation(
                "resolveAnomaly",
                "Anomalies",
                "Resolve an anomaly",
                "write",
                {200: _ok("The anomaly after the action.", anomaly)},
                not_found="AnomalyNotFound",
                errors=(404, 409),
                codes={409: ["ALREADY_RESOLVED"]},
                parameters=[ANOMALY_ID],
                body=ref("ResolveRequest"),
                body_required=False,
                description="Again on a resolved anomaly: 409 `ALREADY_RESOLVED`.",
            )
        },
    }


def _rules() -> dict[str, Any]:
    rule = single(ref("Rule"))
    return {
        "/v1/anomalies/rules": {
            "get": operation(
                "listRules",
                "Rules",
                "List threshold rules by name",
                "read",
                {200: _ok("A page of rules.", page_of(ref("Rule")))},
                errors=(400,),
                parameters=PAGING,
            ),
            "post": operation(
                "createRule",
                "Rules",
                "Create a threshold rule",
                "write",
                {201: _ok("The created rule.", rule)},
                errors=(409,),
                codes={409: ["CONFLICT"]},
                body=ref("RuleCreate"),
                description="A point that meets an enabled rule opens (or extends) a `threshold` "
                "anomaly with the rule's severity. A taken name: 409 `CONFLICT`.",
            ),
        },
        "/v1/anomalies/rules/{rule_id}": {
            "get": operation(
                "getRule",
                "Rules",
                "One rule",
                "read",
                {200: _ok("The rule.", rule)},
                not_found="RuleNotFound",
                errors=(404,),
                parameters=[RULE_ID],
            ),
            "patch": operation(
                "updateRule",
                "Rules",
                "Change a rule (merge)",
                "write",
                {200: _ok("The rule after the change.", rule)},
                not_found="RuleNotFound",
                errors=(404, 409),
                codes={409: ["CONFLICT"]},
                parameters=[RULE_ID],
                body=ref("RulePatch"),
                description='`{"condition": {"threshold": 150}}` keeps metric and operator.',
            ),
            "delete": operation(
                "deleteRule",
                "Rules",
                "Delete a rule (its anomalies are kept)",
                "write",
                {204: _ok("Deleted.")},
                not_found="RuleNotFound",
                errors=(404,),
                parameters=[RULE_ID],
            ),
        },
    }


def _metrics() -> dict[str, Any]:
    name_or_id = {
        **_path(
            "name_or_id",
            "A metric name (every series of that name, present and future; a `/` "
            "is sent as `%2F`) or a `met_` id (that series alone; it wins).",
        ),
        "schema": {"type": "string", "minLength": 1, "maxLength": MAX_NAME, "pattern": METRIC_NAME.pattern},
    }
    config = single(ref("AnomalyConfig"))
    return {
        "/v1/metrics": {
            "get": operation(
                "listMetrics",
                "Metrics",
                "List series",
                "read",
                {200: _ok("A page of series.", page_of(ref("Metric")))},
                errors=(400,),
                parameters=[query_param("name", TEXT, "Exact metric name."), *PAGING],
                description=TAGS_TEXT,
            )
        },
        "/v1/metrics/{metric_id}": {
            "get": operation(
                "getMetric",
                "Metrics",
                "One series with its 24 h stats and freshness",
                "read",
                {200: _ok("The series.", single(ref("Metric")))},
                not_found="MetricNotFound",
                errors=(404,),
                parameters=[METRIC_ID],
            )
        },
        "/v1/metrics/{metric_id}/points": {
            "get": operation(
                "listPoints",
                "Metrics",
                "Raw points of a series, oldest first",
                "read",
                {
                    200: _ok(
                        "The points.",
                        obj(
                            {
                                "data": {"type": "array", "items": ref("DataPoint")},
                                "pagination": obj(
                                    {
                                        "limit": {"type": "integer", "minimum": 1},
                                        "has_more": {"type": "boolean"},
                                    },
                                    ["limit", "has_more"],
                                ),
                            },
                            ["data", "pagination"],
                        ),
                    )
                },
                not_found="MetricNotFound",
                errors=(400, 404),
                description="`from`/`to` bound the points' times (inclusive); `from` after `to` is 400.",
                parameters=[METRIC_ID, param_ref("from"), param_ref("to"), param_ref("pointsLimit")],
            )
        },
        "/v1/metrics/{name_or_id}/anomaly_config": {
            "get": operation(
                "getAnomalyConfig",
                "Metrics",
                "The effective anomaly configuration",
                "read",
                {
                    200: _ok(
                        "Effective values, and in `overrides` the fields set at this level. A "
                        "name with no series yet answers the defaults.",
                        config,
                    )
                },
                not_found="ConfigTargetNotFound",
                errors=(400, 404),
                parameters=[name_or_id],
            ),
            "put": operation(
                "putAnomalyConfig",
                "Metrics",
                "Set anomaly configuration fields (merge)",
                "write",
                {200: _ok("The effective configuration after the change.", config)},
                not_found="ConfigTargetNotFound",
                errors=(404,),
                codes={400: ["INVALID_THRESHOLD", "VALIDATION_ERROR"]},
                parameters=[name_or_id],
                body=ref("AnomalyConfigUpdate"),
                description="A bad threshold is 400 `INVALID_THRESHOLD`. A change takes effect on "
                "the next point.",
            ),
        },
    }


def _forecast() -> dict[str, Any]:
    return {
        "/v1/forecast": {
            "post": operation(
                "forecast",
                "Forecast",
                "Forecast a series with prediction intervals",
                "forecast",
                {200: _ok("One point per series step.", ref("Forecast"))},
                not_found="MetricNotFound",
                errors=(404, 422),
                codes={400: ["MODEL_UNAVAILABLE", "VALIDATION_ERROR"]},
                body=ref("ForecastRequest"),
                description="A model that is not available here is 400 `MODEL_UNAVAILABLE` naming the ones "
                "that are "
                "(never substituted). Too little history: 422 `INSUFFICIENT_DATA`. A name with several "
                "series and no `tags`: 400 naming the candidates' ids.",
            )
        },
        "/v1/forecast/models": {
            "get": operation(
                "listForecastModels",
                "Forecast",
                "The forecasting models and whether each is available",
                None,
                {
                    200: _ok(
                        "Every model of this build, `auto` included (one page).",
                        page_of(ref("ForecastModel")),
                    )
                },
                any_key=True,
            )
        },
    }


def _keys() -> dict[str, Any]:
    return {
        "/v1/api-keys": {
            "post": operation(
                "createApiKey",
                "API keys",
                "Create an API key",
                "admin",
                {
                    201: _ok(
                        "The key's metadata and, this once, the full `key`.", single(ref("ApiKeyCreated"))
                    )
                },
                body=ref("ApiKeyCreate"),
                description="An `expires_at` in the past is 400. A test (`aw_test_`) key creates test keys "
                "only: asking it for a live one is 403.",
            ),
            "get": operation(
                "listApiKeys",
                "API keys",
                "List the account's keys (never the secret)",
                "admin",
                {
                    200: _ok(
                        "A page of keys; revoked ones stay listed with `revoked_at`.", page_of(ref("ApiKey"))
                    )
                },
                errors=(400,),
                parameters=PAGING,
                description="A live key lists the keys of both environments, a test key only the test keys.",
            ),
        },
        "/v1/api-keys/{key_id}": {
            "delete": operation(
                "revokeApiKey",
                "API keys",
                "Revoke a key",
                "admin",
                {204: _ok("Revoked; refused everywhere within 1 s.")},
                not_found="KeyNotFound",
                errors=(404,),
                parameters=[_path("key_id", "`key_...`")],
                description="To a test key, a live key's id is 404, as an unknown one.",
            )
        },
    }


def _ops() -> dict[str, Any]:
    def unauthenticated(
        operation_id: str, summary: str, ok: dict[int, Any], description: str = ""
    ) -> Operation:
        return {
            "operationId": operation_id,
            "tags": ["Operations"],
            "summary": summary,
            "description": description or summary,
            "security": [],
            "responses": ok,
        }

    return {
        "/healthz": {
            "get": unauthenticated(
                "healthz", "Liveness", {"200": _ok("The gateway is alive.", ref("Health"), limited=False)}
            )
        },
        "/readyz": {
            "get": unauthenticated(
                "readyz",
                "Readiness",
                {
                    "200": _ok("Catalog and ingest answer.", ref("Readiness"), limited=False),
                    "503": _ok("A required dependency does not answer.", ref("Readiness"), limited=False),
                },
                "Ready when catalog and ingest answer SERVING; forecast is reported, not required.",
            )
        },
        "/metrics": {
            "get": unauthenticated(
                "prometheusMetrics",
                "Prometheus metrics of this gateway process",
                {"200": _ok("Prometheus text exposition.", {"type": "string"}, "text/plain", limited=False)},
            )
        },
        "/v1/openapi.json": {
            "get": unauthenticated(
                "openapi",
                "This document",
                {"200": _ok("The OpenAPI 3.1 document.", {"type": "object"}, limited=False)},
            )
        },
        "/docs": {
            "get": unauthenticated(
                "docs",
                "A readable reference, rendered from this document",
                {"200": _ok("HTML.", {"type": "string"}, "text/html", limited=False)},
            )
        },
    }


def _links(targets: tuple[str, ...], parameter: str, expression: str) -> dict[str, Any]:
    return {
        target[0].upper() + target[1:]: {"operationId": target, "parameters": {parameter: expression}}
        for target in targets
    }


# How an answer's ids feed the next calls (OpenAPI links: for readers, and for stateful fuzzing).
RULE_OPS = ("getRule", "updateRule", "deleteRule")
ANOMALY_OPS = ("getAnomaly", "acknowledgeAnomaly", "resolveAnomaly")
SERIES_OPS = ("getMetric", "listPoints")
LINKS = {
    ("/v1/ingest", "post", "200"): {
        **_links(SERIES_OPS, "metric_id", "$response.body#/metric_id"),
        **_links(("getAnomalyConfig", "putAnomalyConfig"), "name_or_id", "$response.body#/metric_id"),
        **_links(("getAnomaly",), "anomaly_id", "$response.body#/anomaly_id"),
    },
    ("/v1/metrics", "get", "200"): _links(SERIES_OPS, "metric_id", "$response.body#/data/0/id"),
    ("/v1/anomalies", "get", "200"): _links(ANOMALY_OPS, "anomaly_id", "$response.body#/data/0/id"),
    ("/v1/anomalies/rules", "get", "200"): _links(RULE_OPS, "rule_id", "$response.body#/data/0/id"),
    ("/v1/anomalies/rules", "post", "201"): _links(RULE_OPS, "rule_id", "$response.body#/data/id"),
    ("/v1/api-keys", "post", "201"): _links(("revokeApiKey",), "key_id", "$response.body#/data/id"),
}


def paths() -> dict[str, Any]:
    out = {**_ingest(), **_anomalies(), **_rules(), **_metrics(), **_forecast(), **_keys(), **_ops()}
    for (path, method, status), links in LINKS.items():
        out[path][method]["responses"][status]["links"] = links
    return out

"""The reusable JSON Schemas (`components/schemas`) of the OpenAPI document: request bodies and the
resources the gateway renders (gateway/render.py and the routes), in OpenAPI 3.1's JSON Schema."""

from __future__ import annotations

from typing import Any

from gateway import fields
from gateway.render import ANOMALY_STATUS, ANOMALY_TYPE, CONFIG_FIELDS, ENVIRONMENT, SEVERITY
from gateway.request_io import MAX_OFFSET
from services.catalog.rule_match import OPERATORS as RULE_OPERATORS
from services.catalog.rules import MAX_SCOPE_TAGS, MAX_TAG_LENGTH
from services.catalog.rules import METRIC_PATTERN as RULE_METRIC
from services.common.auth import SCOPES
from services.common.errors import ERROR_CODES
from services.forecast.horizon import MAX_CONFIDENCE, MAX_HORIZON_STEPS, MIN_CONFIDENCE
from services.ingest.pipeline import MAX_POINTS
from services.ingest.validation import MAX_NAME, MAX_SOURCE, MAX_TAG_TEXT, MAX_TAGS, METRIC_NAME

Schema = dict[str, Any]

SEVERITIES = list(SEVERITY.values())
ANOMALY_TYPES = list(ANOMALY_TYPE.values())
STATUSES = list(ANOMALY_STATUS.values())
ROOT_CAUSES = list(fields.ROOT_CAUSES)
OPERATORS = list(RULE_OPERATORS)
SENSITIVITIES = ["low", "medium", "high"]
SEASONALITIES = ["none", "daily", "weekly", "auto"]
ENVIRONMENTS = list(ENVIRONMENT.values())
DURATION_PATTERN = r"^\s*\d+(\.\d+)?\s*[smhdw]?\s*$"
# Steps are whole and a duration has a unit; either must be above zero (a nonzero digit somewhere).
_POSITIVE = r"(\d*[1-9]\d*|\d*[1-9]\d*\.\d+|\d+\.\d*[1-9]\d*)"
HORIZON_PATTERN = rf"^\s*(\d*[1-9]\d*|{_POSITIVE}\s*[smhdwSMHDW])\s*$"
# Text the stores can hold: the gateway refuses NUL in every string it takes (body, query, path).
NO_NUL = r"^[^\x00]*$"
MAX_NOTE = 2000

# Error codes the gateway itself adds to the services' table (gateway/errors.py).
GATEWAY_CODES = {
    "NOT_FOUND": 404,
    "METHOD_NOT_ALLOWED": 405,
    "PAYLOAD_TOO_LARGE": 413,
    "UNSUPPORTED_MEDIA_TYPE": 415,
    "RATE_LIMITED": 429,
    "INTERNAL_ERROR": 500,
}
INTERNAL_ONLY_CODES = {"WRONG_SHARD", "ACCOUNT_NOT_FOUND"}  # between services; never reach a client


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(schema: Schema) -> Schema:
    """`schema` or null (3.1 style: a type list, or anyOf for a $ref)."""
    if "$ref" in schema or "type" not in schema:
        return {"anyOf": [schema, {"type": "null"}]}
    types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
    out = {**schema, "type": [*types, "null"]}
    if "enum" in out:
        out["enum"] = [*out["enum"], None]
    return out


def obj(
    properties: dict[str, Schema],
    required: list[str] | tuple[str, ...] = (),
    closed: bool = False,
    description: str | None = None,
) -> Schema:
    schema: Schema = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    if closed:
        schema["additionalProperties"] = False
    if description:
        schema["description"] = description
    return schema


def codes_for_status(status: int) -> list[str]:
    """The contract's error codes a response with this HTTP status can carry."""
    table = {code: http for code, (_, http) in ERROR_CODES.items() if code not in INTERNAL_ONLY_CODES}
    table.update(GATEWAY_CODES)
    return sorted(code for code, http in table.items() if http == status)


TIME = {"type": "string", "format": "date-time", "description": "ISO 8601 UTC with `Z`."}
TIME_OR_NULL = nullable(TIME)
TEXT = {"type": "string", "pattern": NO_NUL}
TAGS = {
    "type": "object",
    "propertyNames": {"pattern": NO_NUL},
    "additionalProperties": TEXT,
    "description": "Tag key to tag value.",
}
INPUT_TIME = {
    "anyOf": [
        {
            "type": "string",
            "minLength": 1,
            "description": "ISO 8601 with a zone; without one it is UTC; a date alone is midnight UTC.",
        },
        {"type": "number", "minimum": 0, "description": "Unix seconds (integer or float)."},
    ]
}
COUNTS = {"type": "object", "additionalProperties": {"type": "integer", "minimum": 0}}


def _error() -> Schema:
    codes = sorted(set(ERROR_CODES) - INTERNAL_ONLY_CODES | set(GATEWAY_CODES))
    return obj(
        {
            "error": obj(
                {
                    "code": {"type": "string", "enum": codes, "description": "Machine-readable error code."},
                    "message": {"type": "string", "description": "What went wrong, for people."},
                    "details": {
                        "type": "object",
                        "description": "The offending `field` and, where it helps, a `suggestion`.",
                    },
                },
                ["code", "message", "details"],
            )
        },
        ["error"],
        description="The error envelope of every /v1 error.",
    )


def _point() -> Schema:
    return obj(
        {
            "metric": {
                "type": "string",
                "minLength": 1,
                "maxLength": MAX_NAME,
                "pattern": METRIC_NAME.pattern,
                "description": "Series name: ASCII letters, digits and `._-:/`.",
            },
            "value": {"type": "number", "description": "A finite number."},
            "timestamp": {
                **INPUT_TIME,
                "description": "Not more than 60 s in the future, not older than the "
                "retention window (default 30 days).",
            },
            "tags": {
                **TAGS,
                "maxProperties": MAX_TAGS,
                "propertyNames": {"minLength": 1, "maxLength": MAX_TAG_TEXT, "pattern": NO_NUL},
                "additionalProperties": {**TEXT, "maxLength": MAX_TAG_TEXT},
            },
            "source": {"type": "string", "maxLength": MAX_SOURCE},
        },
        ["metric", "value", "timestamp"],
        closed=True,
        description="One point of a series (name plus tags).",
    )


def _point_result() -> Schema:
    return obj(
        {
            "status": {
                "type": "string",
                "enum": ["ingested", "duplicate"],
                "description": "`duplicate`: an exact repeat of a stored point, which changed nothing.",
            },
            "metric_id": nullable(
                {"type": "string", "description": "`met_...`; null for an X-Test-Only post."}
            ),
            "anomaly_score": nullable({"type": "number", "minimum": 0, "maximum": 1}),
            "severity": nullable({"type": "string", "enum": SEVERITIES}),
            "type": nullable({"type": "string", "enum": ANOMALY_TYPES}),
            "baseline": nullable(
                obj({"mean": {"type": "number"}, "std": {"type": "number"}}, ["mean", "std"])
            ),
            "expected_range": nullable(
                {
                    "type": "array",
                    "items": {"type": "number"},
                    "minItems": 2,
                    "maxItems": 2,
                    "description": "[lower, upper]",
                }
            ),
            "anomaly_id": nullable(
                {"type": "string", "description": "`anom_...` of the anomaly the point opened or extended."}
            ),
            "learning": {"type": "boolean", "description": "True for the first `min_data_points` points."},
            "scored": {
                "type": "boolean",
                "description": "False when detection was down: the point is kept and scored later.",
            },
        },
        [
            "status",
            "metric_id",
            "anomaly_score",
            "severity",
            "type",
            "baseline",
            "expected_range",
            "anomaly_id",
            "learning",
        ],
    )


def _batch_response() -> Schema:
    accepted = _point_result()
    accepted["properties"] = {
        "index": {"type": "integer", "minimum": 0},
        "status": {"const": 200},
        "outcome": accepted["properties"].pop("status"),
        **accepted["properties"],
    }
    accepted["required"] = ["index", "status", "outcome", *accepted["required"][1:]]
    rejected = obj(
        {
            "index": {"type": "integer", "minimum": 0},
            "status": {"const": 400},
            "error": {
                "type": "string",
                "description": "The per-point message, e.g. `invalid metric - "
                "a b - invalid characters in name`.",
            },
        },
        ["index", "status", "error"],
    )
    return obj(
        {
            "status": {"type": "string", "enum": ["ingested", "partial", "rejected"]},
            "accepted": {"type": "integer", "minimum": 0},
            "rejected": {"type": "integer", "minimum": 0},
            "results": {
                "type": "array",
                "items": {"oneOf": [accepted, rejected]},
                "description": "One result per point, in order.",
            },
        },
        ["status", "accepted", "rejected", "results"],
    )


def _metric() -> Schema:
    optional_number = nullable({"type": "number"})
    stats = obj(
        {
            "anomalies_24h": {"type": "integer", "minimum": 0},
            **{k: optional_number for k in ("mean", "std", "min", "max", "p50", "p95", "p99", "last_value")},
            "last_timestamp": TIME_OR_NULL,
        },
        ["anomalies_24h", "mean", "std", "min", "max", "p50", "p95", "p99", "last_value", "last_timestamp"],
        description="Over the last 24 h of data.",
    )
    freshness = obj(
        {
            "status": {"type": "string", "enum": ["fresh", "stale"]},
            "expected_interval_seconds": optional_number,
            "last_seen_at": TIME_OR_NULL,
        },
        ["status", "expected_interval_seconds", "last_seen_at"],
        description="Stale when `now - last_seen` exceeds 3 inferred steps (at least 60 s).",
    )
    return obj(
        {
            "id": {"type": "string", "description": "`met_...`"},
            "name": {"type": "string"},
            "tags": TAGS,
            "first_seen": TIME_OR_NULL,
            "last_seen": TIME_OR_NULL,
            "step_seconds": nullable(
                {"type": "number", "description": "Inferred from the series' timestamps."}
            ),
            "learning": {"type": "boolean"},
            "point_count": {"type": "integer", "minimum": 0},
            "stats": stats,
            "freshness": freshness,
        },
        ["id", "name", "tags", "first_seen", "last_seen", "step_seconds", "learning"],
        description="A series. `stats` and `freshness` are given by `GET /v1/metrics/{id}`.",
    )


def _config_fields(for_update: bool) -> dict[str, Schema]:
    fields: dict[str, Schema] = {
        "enabled": {
            "type": "boolean",
            "default": True,
            "description": "False stops statistical detection only (rules have their own `enabled`).",
        },
        "spike_threshold": {
            "type": "number",
            "exclusiveMinimum": 1,
            "default": 3.0,
            "description": "A point at or above this times the baseline is a spike.",
        },
        "drop_threshold": {
            "type": "number",
            "exclusiveMinimum": 0,
            "exclusiveMaximum": 1,
            "default": 0.3,
            "description": "A point at or below this times the baseline is a drop.",
        },
        "min_data_points": {
            "type": "integer",
            "minimum": 10,
            "maximum": 10_000,
            "default": 100,
            "description": "Points a series learns from before it is scored.",
        },
        "comparison_window": {
            "type": "string",
            "pattern": DURATION_PATTERN,
            "default": "7d",
            "description": "History the baseline compares with: `1h` up to the retention window.",
        },
        "sensitivity": {"type": "string", "enum": SENSITIVITIES, "default": "medium"},
        "seasonality": {"type": "string", "enum": SEASONALITIES, "default": "auto"},
    }
    assert tuple(fields) == CONFIG_FIELDS
    if for_update:
        return {name: nullable(schema) for name, schema in fields.items()}
    return {name: {k: v for k, v in schema.items() if k != "default"} for name, schema in fields.items()}


def _anomaly() -> Schema:
    return obj(
        {
            "id": {"type": "string", "description": "`anom_...`"},
            "metric": {"type": "string"},
            "metric_id": {"type": "string"},
            "tags": TAGS,
            "type": {"type": "string", "enum": ANOMALY_TYPES},
            "severity": {"type": "string", "enum": SEVERITIES},
            "status": {"type": "string", "enum": STATUSES},
            "score": {"type": "number", "description": "The episode's highest score."},
            "current_value": nullable({"type": "number", "description": "The latest anomalous value."}),
            "peak_value": nullable({"type": "number", "description": "The most extreme anomalous value."}),
            "baseline_value": nullable({"type": "number"}),
            "expected_range": nullable(
                {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2}
            ),
            "deviation_percent": nullable({"type": "number"}),
            "description": {
                "type": "string",
                "description": "e.g. `api.requests rose to 1500, 275% above its expected 400`",
            },
            "detected_at": {**TIME, "description": "Server time at which the first point was scored."},
            "started_at": {
                **TIME_OR_NULL,
                "description": "Timestamp of the episode's first anomalous point.",
            },
            "last_seen_at": {**TIME_OR_NULL, "description": "Timestamp of its latest anomalous point."},
            "ended_at": {
                **TIME_OR_NULL,
                "description": "When the series was back to normal; null while it lasts.",
            },
            "rule_id": nullable({"type": "string", "description": "`rule_...` for `threshold` anomalies."}),
            "acknowledged_at": TIME_OR_NULL,
            "acknowledged_by": nullable({"type": "string", "description": "Key id."}),
            "resolved_at": TIME_OR_NULL,
            "resolved_by": nullable({"type": "string", "description": "Key id."}),
            "note": nullable({"type": "string", "description": "The latest note given."}),
            "root_cause": nullable({"type": "string", "enum": ROOT_CAUSES}),
            "events": {"type": "array", "items": ref("AnomalyEvent")},
            "point_count": {"type": "integer", "minimum": 0},
        },
        ["id", "metric", "metric_id", "tags", "type", "severity", "status", "score", "detected_at"],
        description="An episode: consecutive anomalous points of one series.",
    )


def _rule(for_input: bool, partial: bool = False) -> Schema:
    condition_fields = {
        "metric": {
            "type": "string",
            "minLength": 1,
            "maxLength": MAX_NAME,
            "pattern": f"^{RULE_METRIC.pattern}$",
            "description": "Exact name or a glob such as `api.*`: ASCII letters, digits, `._-:/` and `*?[]`.",
        },
        "operator": {"type": "string", "enum": OPERATORS},
        "threshold": {"type": "number"},
    }
    if partial:
        condition_fields = {k: nullable(v) for k, v in condition_fields.items()}
    condition = obj(
        condition_fields, [] if partial else ["metric", "operator", "threshold"], closed=for_input
    )
    scope_tags = {
        **TAGS,
        "maxProperties": MAX_SCOPE_TAGS,
        "propertyNames": {"minLength": 1, "maxLength": MAX_TAG_LENGTH, "pattern": NO_NUL},
        "additionalProperties": {**TEXT, "maxLength": MAX_TAG_LENGTH},
    }
    scope = {
        "oneOf": [{"const": "global"}, obj({"tags": scope_tags}, ["tags"], closed=True)],
        "description": '`global`, or `{"tags": {...}}`: series with every listed tag and value.',
    }
    severity = {
        "type": "string",
        "enum": SEVERITIES + (["low", "medium", "high"] if for_input else []),
        "description": "MeshAI's `low`/`medium`/`high` are stored as `info`/`warning`/`critical`."
        if for_input
        else "How serious the anomalies it opens are.",
    }
    properties: dict[str, Schema] = {
        "name": {**TEXT, "minLength": 1, "maxLength": 255, "description": "Unique per account."},
        "description": {**TEXT, "maxLength": MAX_NOTE},
        "condition": condition,
        "severity": severity,
        "scope": scope,
        "enabled": {"type": "boolean"},
    }
    if for_input:  # null is the same as absent
        if partial:
            return obj(
                {k: nullable(v) for k, v in properties.items()},
                closed=True,
                description="The fields to change; `condition` merges.",
            )
        properties["enabled"] = {"type": "boolean", "default": True}
        properties["severity"] = {**severity, "default": "warning"}
        properties["scope"] = {**scope, "default": "global"}
        return obj(
            {k: v if k in ("name", "condition") else nullable(v) for k, v in properties.items()},
            ["name", "condition"],
            closed=True,
        )
    return obj(
        {
            "id": {"type": "string", "description": "`rule_...`"},
            **properties,
            "created_at": TIME,
            "updated_at": TIME,
        },
        [
            "id",
            "name",
            "description",
            "condition",
            "severity",
            "scope",
            "enabled",
            "created_at",
            "updated_at",
        ],
    )


def _forecast_request() -> Schema:
    fields = {
        "metric": {"type": "string", "minLength": 1, "maxLength": MAX_NAME, "description": "Metric name."},
        "metric_id": {**TEXT, "minLength": 1, "description": "`met_...`; wins over `metric`."},
        "tags": {**TAGS, "description": "Chooses one series when a name has several."},
        "horizon": {
            "anyOf": [
                {"type": "string", "pattern": HORIZON_PATTERN},
                {"type": "integer", "minimum": 1, "maximum": MAX_HORIZON_STEPS},
            ],
            "description": "A duration (`30m`, `24h`, `7d`) or a number of steps; rounded up to whole "
            "steps; at most 5,000 steps.",
        },
        "model": {
            **TEXT,
            "default": "auto",
            "description": "A name from `GET /v1/forecast/models`.",
        },
        "confidence": {
            "type": "number",
            "minimum": MIN_CONFIDENCE,
            "maximum": MAX_CONFIDENCE,
            "default": 0.95,
        },
    }
    # null is the same as absent
    return obj(
        {k: v if k == "horizon" else nullable(v) for k, v in fields.items()},
        ["horizon"],
        closed=True,
        description="Either `metric` or `metric_id` is required.",
    )


def _forecast_response() -> Schema:
    step = obj(
        {
            "timestamp": TIME,
            "value": {"type": "number"},
            "lower": {"type": "number"},
            "upper": {"type": "number"},
        },
        ["timestamp", "value", "lower", "upper"],
    )
    return obj(
        {
            "forecast": {"type": "array", "items": step, "description": "One point per series step."},
            "model": {"type": "string", "description": "The model used."},
            "confidence": {"type": "number"},
            "metric_id": {"type": "string"},
            "step_seconds": {"type": "number"},
        },
        ["forecast", "model", "confidence", "metric_id", "step_seconds"],
    )


def _api_key(created: bool) -> Schema:
    schema = obj(
        {
            "id": {"type": "string", "description": "`key_...`"},
            "name": {"type": "string"},
            "prefix": {"type": "string", "description": "The key's first 12 characters."},
            "scopes": {"type": "array", "items": {"type": "string", "enum": list(SCOPES)}},
            "environment": {"type": "string", "enum": ENVIRONMENTS},
            "created_at": TIME_OR_NULL,
            "expires_at": TIME_OR_NULL,
            "revoked_at": TIME_OR_NULL,
            "last_used_at": TIME_OR_NULL,
        },
        ["id", "name", "prefix", "scopes", "environment", "created_at", "expires_at", "revoked_at"],
    )
    if created:
        schema["properties"]["key"] = {
            "type": "string",
            "pattern": "^aw_(live|test)_",
            "description": "The full key, shown this once.",
        }
        schema["required"].append("key")
    return schema


def _flux_partial() -> Schema:
    names = {"type": "array", "items": {"type": "string"}}
    count = {"type": "integer", "minimum": 0}
    return obj(
        {
            "code": {"const": 207},
            "data": {
                "type": "array",
                "items": obj(
                    {
                        "metric": {"type": "string"},
                        "status": {"enum": [204, 400]},
                        "error": {"type": "string"},
                    },
                    ["metric", "status"],
                ),
            },
            "error": {"type": "string"},
            "message": {"type": "string"},
            "rejected metrics": names,
            "rejected metrics count": count,
            "processed metrics": names,
            "processed metrics count": count,
            "submitted metrics count": count,
        },
        [
            "code",
            "data",
            "error",
            "message",
            "rejected metrics",
            "processed metrics",
            "submitted metrics count",
        ],
        description="Anomify's partial-success body (some metrics over the plan's series quota).",
    )


def page_of(item: Schema, meta: Schema | None = None) -> Schema:
    properties = {"data": {"type": "array", "items": item}, "pagination": ref("Pagination")}
    if meta:
        properties["meta"] = meta
    return obj(properties, ["data", "pagination"] + (["meta"] if meta else []))


def single(item: Schema) -> Schema:
    return obj({"data": item}, ["data"])


def components() -> dict[str, Schema]:
    return {
        "Error": _error(),
        "FluxError": obj(
            {"code": {"type": "integer"}, "message": {"type": "string"}},
            ["code", "message"],
            description="Anomify's error body on /flux.",
        ),
        "Pagination": obj(
            {
                "total": {"type": "integer", "minimum": 0},
                "limit": {"type": "integer", "minimum": 1, "maximum": 1000},
                "offset": {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET},
                "has_more": {"type": "boolean"},
            },
            ["total", "limit", "offset", "has_more"],
        ),
        "Point": _point(),
        "PointBatch": obj(
            {"points": {"type": "array", "items": ref("Point"), "minItems": 1, "maxItems": MAX_POINTS}},
            ["points"],
            closed=True,
        ),
        "PointResult": _point_result(),
        "BatchResult": _batch_response(),
        "TestPost": obj(
            {
                "metric": {"type": "string"},
                "count": {"type": "integer", "minimum": 0},
                "last_posted_at": TIME,
            },
            ["metric", "count", "last_posted_at"],
        ),
        "FluxPost": obj(
            {
                "key": {"type": "string", "description": "The API key (scope `ingest`)."},
                "metrics": {
                    "type": "array",
                    "maxItems": MAX_POINTS,
                    "items": obj(
                        {
                            "metric": _point()["properties"]["metric"],
                            "timestamp": {"type": "integer"},
                            "value": {"type": "number"},
                            "tags": _point()["properties"]["tags"],
                        },
                        ["metric", "timestamp", "value"],
                        closed=True,
                    ),
                },
            },
            ["key", "metrics"],
            closed=True,
        ),
        "FluxPartial": _flux_partial(),
        "Metric": _metric(),
        "DataPoint": obj({"timestamp": TIME, "value": {"type": "number"}}, ["timestamp", "value"]),
        "AnomalyConfig": obj(
            {
                "metric": {"type": "string"},
                "metric_id": nullable({"type": "string"}),
                **_config_fields(for_update=False),
                "overrides": obj(
                    _config_fields(for_update=False), description="The fields set at this level."
                ),
            },
            ["metric", "metric_id", *CONFIG_FIELDS, "overrides"],
            description="The effective configuration of a name or a series.",
        ),
        "AnomalyConfigUpdate": obj(
            _config_fields(for_update=True),
            closed=True,
            description="The fields to set; the others are kept.",
        ),
        "AnomalyEvent": obj(
            {
                "action": {"type": "string", "enum": ["acknowledge", "resolve"]},
                "at": TIME,
                "by": {"type": "string"},
                "note": nullable({"type": "string"}),
            },
            ["action", "at", "by"],
        ),
        "Anomaly": _anomaly(),
        "AnomalyDetail": {
            "allOf": [
                ref("Anomaly"),
                obj(
                    {
                        "history": {
                            "type": "array",
                            "items": ref("DataPoint"),
                            "description": "The series' points around the episode.",
                        },
                        "baseline_history": {
                            "type": "array",
                            "items": ref("DataPoint"),
                            "description": "The same span one comparison period earlier.",
                        },
                    },
                    ["history", "baseline_history"],
                ),
            ]
        },
        "StatusCounts": obj(
            {k: {"type": "integer", "minimum": 0} for k in ("total", *STATUSES)}, ["total", *STATUSES]
        ),
        "AcknowledgeRequest": obj({"note": nullable({**TEXT, "maxLength": MAX_NOTE})}, closed=True),
        "ResolveRequest": obj(
            {
                "note": nullable({**TEXT, "maxLength": MAX_NOTE}),
                "root_cause": nullable({"type": "string", "enum": ROOT_CAUSES}),
            },
            closed=True,
        ),
        "AnomalyStats": obj(
            {
                "total": {"type": "integer", "minimum": 0},
                "by_status": COUNTS,
                "by_severity": COUNTS,
                "by_type": COUNTS,
                "by_metric": COUNTS,
                "by_root_cause": COUNTS,
                "mean_time_to_acknowledge": nullable({"type": "number", "description": "Seconds."}),
                "mean_time_to_resolve": nullable({"type": "number", "description": "Seconds."}),
            },
            [
                "total",
                "by_status",
                "by_severity",
                "by_type",
                "by_metric",
                "by_root_cause",
                "mean_time_to_acknowledge",
                "mean_time_to_resolve",
            ],
        ),
        "AnomalySummary": obj(
            {"total": {"type": "integer", "minimum": 0}, "by_status": COUNTS, "by_type": COUNTS},
            ["total", "by_status", "by_type"],
        ),
        "Rule": _rule(for_input=False),
        "RuleCreate": _rule(for_input=True),
        "RulePatch": _rule(for_input=True, partial=True),
        "ForecastRequest": _forecast_request(),
        "Forecast": _forecast_response(),
        "ForecastModel": obj(
            {
                "name": {"type": "string"},
                "available": {"type": "boolean"},
                "description": {"type": "string"},
                "unavailable_reason": nullable({"type": "string"}),
                "family": {"type": "string", "enum": ["statistical", "foundation", "selector"]},
            },
            ["name", "available"],
        ),
        "ApiKey": _api_key(created=False),
        "ApiKeyCreated": _api_key(created=True),
        "ApiKeyCreate": obj(
            {
                "name": nullable({**TEXT, "maxLength": 255}),
                "scopes": {"type": "array", "items": {"type": "string", "enum": list(SCOPES)}, "minItems": 1},
                "environment": nullable(
                    {
                        "type": "string",
                        "enum": ENVIRONMENTS,
                        "description": "Defaults to the calling key's environment.",
                    }
                ),
                "expires_at": nullable(
                    {"type": "string", "format": "date-time", "description": "ISO 8601, in the future."}
                ),
            },
            ["scopes"],
            closed=True,
        ),
        "Health": obj({"status": {"const": "ok"}}, ["status"]),
        "Readiness": obj(
            {
                "status": {"type": "string", "enum": ["ready", "not_ready"]},
                "dependencies": {
                    "type": "object",
                    "additionalProperties": {
                        "type": "string",
                        "enum": ["serving", "not_serving", "unreachable"],
                    },
                },
            },
            ["status", "dependencies"],
        ),
    }

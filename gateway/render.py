"""Protobuf messages to the contract's JSON shapes (one function per resource)."""
from __future__ import annotations

from typing import Any

from anomalywatch.common.v1 import common_pb2
from anomalywatch.ingest.v1 import ingest_pb2
from services.common.timeutil import iso_of

SEVERITY = {common_pb2.SEVERITY_INFO: "info", common_pb2.SEVERITY_WARNING: "warning",
            common_pb2.SEVERITY_CRITICAL: "critical"}
ANOMALY_TYPE = {common_pb2.ANOMALY_TYPE_SPIKE: "spike", common_pb2.ANOMALY_TYPE_DROP: "drop",
                common_pb2.ANOMALY_TYPE_TREND: "trend", common_pb2.ANOMALY_TYPE_LEVEL_SHIFT: "level_shift",
                common_pb2.ANOMALY_TYPE_THRESHOLD: "threshold",
                common_pb2.ANOMALY_TYPE_MISSING_DATA: "missing_data"}
ENVIRONMENT = {common_pb2.ENVIRONMENT_LIVE: "live", common_pb2.ENVIRONMENT_TEST: "test"}


def time_of(message: Any, field: str) -> str | None:
    return iso_of(getattr(message, field)) if message.HasField(field) else None


def optional(message: Any, field: str) -> Any:
    return getattr(message, field) if message.HasField(field) else None


def point_result(result: ingest_pb2.PointResult) -> dict[str, Any]:
    """One accepted point as the single-point ingest answer (and each batch result) shows it."""
    scored = result.scored
    return {
        "status": "duplicate" if result.status == ingest_pb2.POINT_STATUS_DUPLICATE else "ingested",
        "metric_id": result.metric_id or None,
        "anomaly_score": round(result.anomaly_score, 6) if scored else None,
        "severity": SEVERITY.get(result.severity),
        "type": ANOMALY_TYPE.get(result.type),
        "baseline": {"mean": result.baseline.mean, "std": result.baseline.std} if scored else None,
        "expected_range": [result.expected_range.lower, result.expected_range.upper] if scored else None,
        "anomaly_id": result.anomaly_id or None,
        "learning": result.learning,
        "scored": scored,
    }


def metric(m: Any) -> dict[str, Any]:
    body = {"id": m.id, "name": m.name, "tags": dict(m.tags), "first_seen": time_of(m, "first_seen_time"),
            "last_seen": time_of(m, "last_seen_time"), "step_seconds": m.step_seconds or None,
            "learning": m.learning, "point_count": m.point_count}
    if m.HasField("stats"):
        s = m.stats
        body["stats"] = {"anomalies_24h": s.anomalies_24h,
                         **{k: optional(s, k) for k in ("mean", "std", "min", "max", "p50", "p95", "p99",
                                                        "last_value")},
                         "last_timestamp": time_of(s, "last_time")}
    if m.HasField("freshness"):
        f = m.freshness
        body["freshness"] = {"status": f.status, "expected_interval_seconds": f.expected_interval_seconds or None,
                             "last_seen_at": time_of(f, "last_seen_time")}
    return body


CONFIG_FIELDS = ("enabled", "spike_threshold", "drop_threshold", "min_data_points", "comparison_window",
                 "sensitivity", "seasonality")


def anomaly_config(answer: Any) -> dict[str, Any]:
    body = {"metric": answer.metric, "metric_id": answer.metric_id or None}
    body.update({f: optional(answer.effective, f) for f in CONFIG_FIELDS})
    body["overrides"] = {f: getattr(answer.overrides, f) for f in CONFIG_FIELDS if answer.overrides.HasField(f)}
    return body


def api_key(k: Any) -> dict[str, Any]:
    return {"id": k.id, "name": k.name, "prefix": k.prefix, "scopes": list(k.scopes),
            "environment": ENVIRONMENT.get(k.environment), "created_at": time_of(k, "create_time"),
            "expires_at": time_of(k, "expire_time"), "revoked_at": time_of(k, "revoke_time"),
            "last_used_at": time_of(k, "last_used_time")}

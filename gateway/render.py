"""Protobuf messages to the contract's JSON shapes (one function per resource)."""
from __future__ import annotations

from typing import Any

from anomalywatch.catalog.v1 import anomalies_pb2
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
        body["freshness"] = {"status": f.status,
                             "expected_interval_seconds": f.expected_interval_seconds or None,
                             "last_seen_at": time_of(f, "last_seen_time")}
    return body


CONFIG_FIELDS = ("enabled", "spike_threshold", "drop_threshold", "min_data_points", "comparison_window",
                 "sensitivity", "seasonality")


def anomaly_config(answer: Any) -> dict[str, Any]:
    body = {"metric": answer.metric, "metric_id": answer.metric_id or None}
    body.update({f: optional(answer.effective, f) for f in CONFIG_FIELDS})
    body["overrides"] = {f: getattr(answer.overrides, f) for f in CONFIG_FIELDS
                         if answer.overrides.HasField(f)}
    return body


def api_key(k: Any) -> dict[str, Any]:
    return {"id": k.id, "name": k.name, "prefix": k.prefix, "scopes": list(k.scopes),
            "environment": ENVIRONMENT.get(k.environment), "created_at": time_of(k, "create_time"),
            "expires_at": time_of(k, "expire_time"), "revoked_at": time_of(k, "revoke_time"),
            "last_used_at": time_of(k, "last_used_time")}


ANOMALY_STATUS = {anomalies_pb2.ANOMALY_STATUS_ACTIVE: "active",
                  anomalies_pb2.ANOMALY_STATUS_ACKNOWLEDGED: "acknowledged",
                  anomalies_pb2.ANOMALY_STATUS_RESOLVED: "resolved"}


def data_points(points: Any) -> list[dict[str, Any]]:
    return [{"timestamp": time_of(p, "time"), "value": p.value} for p in points]


def anomaly(a: Any) -> dict[str, Any]:
    return {
        "id": a.id, "metric": a.metric, "metric_id": a.metric_id, "tags": dict(a.tags),
        "type": ANOMALY_TYPE.get(a.type), "severity": SEVERITY.get(a.severity),
        "status": ANOMALY_STATUS.get(a.status), "score": round(a.score, 6),
        "current_value": a.current_value, "peak_value": a.peak_value,
        "baseline_value": optional(a, "baseline_value"),
        "expected_range": ([a.expected_range.lower, a.expected_range.upper] if a.HasField("expected_range")
                           else None),
        "deviation_percent": optional(a, "deviation_percent"), "description": a.description,
        "detected_at": time_of(a, "detected_time"), "started_at": time_of(a, "start_time"),
        "last_seen_at": time_of(a, "last_seen_time"), "ended_at": time_of(a, "end_time"),
        "point_count": a.point_count, "rule_id": a.rule_id or None,
        "acknowledged_at": time_of(a, "acknowledge_time"), "acknowledged_by": a.acknowledged_by or None,
        "resolved_at": time_of(a, "resolve_time"), "resolved_by": a.resolved_by or None,
        "note": a.note or None, "root_cause": a.root_cause or None,
        "events": [{"action": e.action, "at": time_of(e, "time"), "by": e.by, "note": e.note or None}
                   for e in a.events],
    }


def anomaly_detail(answer: Any) -> dict[str, Any]:
    """One anomaly with the series around it and one comparison period earlier."""
    return {**anomaly(answer.anomaly), "history": data_points(answer.history),
            "baseline_history": data_points(answer.baseline_history)}


def _with_zeros(counts: Any, names: Any) -> dict[str, int]:
    """Counts over a fixed vocabulary, every name present (0 when none)."""
    return {name: int(counts.get(name, 0)) for name in names}


def anomaly_meta(counts: Any) -> dict[str, int]:
    return {"total": counts.total, "active": counts.active, "acknowledged": counts.acknowledged,
            "resolved": counts.resolved}


def anomaly_stats(s: Any) -> dict[str, Any]:
    return {"total": s.total, "by_status": _with_zeros(s.by_status, ANOMALY_STATUS.values()),
            "by_severity": _with_zeros(s.by_severity, SEVERITY.values()),
            "by_type": _with_zeros(s.by_type, ANOMALY_TYPE.values()),
            "by_metric": dict(s.by_metric), "by_root_cause": dict(s.by_root_cause),
            "mean_time_to_acknowledge": optional(s, "mean_time_to_acknowledge_seconds"),
            "mean_time_to_resolve": optional(s, "mean_time_to_resolve_seconds")}


def anomaly_summary(s: Any) -> dict[str, Any]:
    return {"total": s.total, "by_status": _with_zeros(s.by_status, ANOMALY_STATUS.values()),
            "by_type": _with_zeros(s.by_type, ANOMALY_TYPE.values())}


def rule(r: Any) -> dict[str, Any]:
    c = r.condition
    return {"id": r.id, "name": r.name, "description": r.description,
            "condition": {"metric": c.metric, "operator": c.operator, "threshold": c.threshold},
            "severity": SEVERITY.get(r.severity),
            "scope": {"tags": dict(r.scope_tags)} if r.scope_tags else "global",
            "enabled": r.enabled, "created_at": time_of(r, "create_time"),
            "updated_at": time_of(r, "update_time")}


def forecast(answer: Any) -> dict[str, Any]:
    """The forecast action's unwrapped answer."""
    points = [{"timestamp": time_of(p, "time"), "value": p.value, "lower": p.lower, "upper": p.upper}
              for p in answer.forecast]
    return {"forecast": points,
            "model": answer.model, "confidence": answer.confidence, "metric_id": answer.metric_id,
            "step_seconds": answer.step_seconds}


def forecast_model(m: Any) -> dict[str, Any]:
    return {"name": m.name, "available": m.available, "family": m.family, "description": m.description,
            "unavailable_reason": m.unavailable_reason or None}

"""Catalog rows to protobuf messages and back (shared by the catalog servicers)."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from anomalywatch.catalog.v1 import accounts_pb2, metrics_pb2
from anomalywatch.common.v1 import common_pb2
from services.catalog import configs
from services.catalog.configs import Scope
from services.catalog.models import ApiKey, Series
from services.catalog.series import tags_of
from services.common.errors import ServiceError
from services.common.timeutil import to_timestamp

ENV_TO_PROTO = {"live": common_pb2.ENVIRONMENT_LIVE, "test": common_pb2.ENVIRONMENT_TEST}
ENV_FROM_PROTO = {v: k for k, v in ENV_TO_PROTO.items()}
SEVERITY_TO_PROTO = {"info": common_pb2.SEVERITY_INFO, "warning": common_pb2.SEVERITY_WARNING,
                     "critical": common_pb2.SEVERITY_CRITICAL}
TYPE_TO_PROTO = {"spike": common_pb2.ANOMALY_TYPE_SPIKE, "drop": common_pb2.ANOMALY_TYPE_DROP,
                 "trend": common_pb2.ANOMALY_TYPE_TREND, "level_shift": common_pb2.ANOMALY_TYPE_LEVEL_SHIFT,
                 "threshold": common_pb2.ANOMALY_TYPE_THRESHOLD,
                 "missing_data": common_pb2.ANOMALY_TYPE_MISSING_DATA}
SEVERITY_FROM_PROTO = {v: k for k, v in SEVERITY_TO_PROTO.items()}
TYPE_FROM_PROTO = {v: k for k, v in TYPE_TO_PROTO.items()}


def enum_name(names: Mapping[int, str], value: int, field: str) -> str:
    """The name of an enum number, "" for 0 (unspecified) unless `names` names it. A number this
    release does not know is refused: taking it for unspecified would hide the caller's mistake."""
    name = names.get(value)
    if name is not None:
        return name
    if value == 0:
        return ""
    raise ServiceError("VALIDATION_ERROR", f"unknown {field} {value}", {"field": field})


def scope_from_proto(scope: common_pb2.Scope) -> Scope:
    if not scope.account_id or scope.environment not in ENV_FROM_PROTO:
        raise ServiceError("VALIDATION_ERROR", "scope needs an account and an environment",
                           {"field": "scope"})
    return Scope(scope.account_id, ENV_FROM_PROTO[scope.environment])


def scope_to_proto(scope: Scope) -> common_pb2.Scope:
    return common_pb2.Scope(account_id=scope.account_id, environment=ENV_TO_PROTO[scope.environment])


def api_key(row: ApiKey) -> accounts_pb2.ApiKey:
    message = accounts_pb2.ApiKey(id=row.id, account_id=row.account_id, name=row.name, prefix=row.prefix,
                                  scopes=row.scopes.split(","), environment=ENV_TO_PROTO[row.environment],
                                  create_time=to_timestamp(row.created_at))
    for field, value in (("expire_time", row.expires_at), ("revoke_time", row.revoked_at),
                         ("last_used_time", row.last_used_at)):
        if value is not None:
            getattr(message, field).CopyFrom(to_timestamp(value))
    return message


def config_to_proto(fields: Mapping[str, Any]) -> metrics_pb2.AnomalyConfig:
    return metrics_pb2.AnomalyConfig(**{k: v for k, v in fields.items() if v is not None})


def config_from_proto(message: metrics_pb2.AnomalyConfig) -> dict[str, Any]:
    return {name: getattr(message, name) for name in configs.FIELDS if message.HasField(name)}


def metric(row: Series, learning: bool) -> metrics_pb2.Metric:
    message = metrics_pb2.Metric(id=row.id, name=row.name, tags=tags_of(row), step_seconds=row.step_seconds,
                                 learning=learning, point_count=row.point_count or 0)
    if row.first_ts is not None:
        message.first_seen_time.CopyFrom(to_timestamp(row.first_ts))
    if row.last_ts is not None:
        message.last_seen_time.CopyFrom(to_timestamp(row.last_ts))
    return message

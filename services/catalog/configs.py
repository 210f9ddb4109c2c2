"""Per-metric anomaly configuration: defaults, validation, and the name-then-series merge."""
from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from sqlalchemy import Row, bindparam, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from services.catalog.db import in_list, is_postgresql, run_prepared
from services.catalog.models import AnomalyConfigRow
from services.common.durations import parse_duration
from services.common.errors import ServiceError

FIELDS = ("enabled", "spike_threshold", "drop_threshold", "min_data_points", "comparison_window",
          "sensitivity", "seasonality")
DEFAULTS: dict[str, Any] = {
    "enabled": True, "spike_threshold": 3.0, "drop_threshold": 0.3, "min_data_points": 100,
    "comparison_window": "7d", "sensitivity": "medium", "seasonality": "auto",
}
SENSITIVITIES = ("low", "medium", "high")
SEASONALITIES = ("none", "daily", "weekly", "auto")


@dataclass(frozen=True)
class Scope:
    account_id: str
    environment: str


def validate(fields: Mapping[str, Any], retention_seconds: float) -> dict[str, Any]:
    """Checks the given fields; thresholds answer INVALID_THRESHOLD, the rest VALIDATION_ERROR."""
    clean: dict[str, Any] = {}
    for name, value in fields.items():
        if name not in FIELDS:
            raise ServiceError("VALIDATION_ERROR", f"unknown field {name}",
                               {"field": name, "allowed": list(FIELDS)})
        if value is None:
            continue
        if name == "enabled":
            if not isinstance(value, bool):
                raise ServiceError("VALIDATION_ERROR", "enabled must be true or false", {"field": name})
        elif name in ("spike_threshold", "drop_threshold"):
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise ServiceError("INVALID_THRESHOLD", f"{name} must be a finite number", {"field": name})
            value = float(value)
            if name == "spike_threshold" and value <= 1:
                raise ServiceError("INVALID_THRESHOLD", "spike_threshold must be greater than 1",
                                   {"field": name, "suggestion": "3.0 flags values at 3x the baseline"})
            if name == "drop_threshold" and not 0 < value < 1:
                raise ServiceError("INVALID_THRESHOLD", "drop_threshold must be between 0 and 1 (exclusive)",
                                   {"field": name, "suggestion": "0.3 flags values at 30% of the baseline"})
        elif name == "min_data_points":
            if isinstance(value, bool) or not isinstance(value, int) or not 10 <= value <= 10_000:
                raise ServiceError("VALIDATION_ERROR", "min_data_points must be an integer from 10 to 10000",
                                   {"field": name})
        elif name == "comparison_window":
            # Stored as written but without surrounding whitespace, in a column of 16 characters.
            value = value.strip() if isinstance(value, str) else value
            try:
                seconds = parse_duration(value) if isinstance(value, str) and len(value) <= 16 else -1
            except ValueError:
                seconds = -1
            if not 3600 <= seconds <= retention_seconds:
                raise ServiceError("VALIDATION_ERROR",
                                   "comparison_window must be a duration from 1h up to the retention window",
                                   {"field": name, "suggestion": "e.g. 24h or 7d"})
        elif name == "sensitivity" and value not in SENSITIVITIES:
            raise ServiceError("VALIDATION_ERROR", "sensitivity must be low, medium or high",
                               {"field": name, "allowed": list(SENSITIVITIES)})
        elif name == "seasonality" and value not in SEASONALITIES:
            raise ServiceError("VALIDATION_ERROR", "seasonality must be none, daily, weekly or auto",
                               {"field": name, "allowed": list(SEASONALITIES)})
        clean[name] = value
    return clean


def overrides_of(row: AnomalyConfigRow | Row | None) -> dict[str, Any]:
    if row is None:
        return {}
    return {f: getattr(row, f) for f in FIELDS if getattr(row, f) is not None}


def merge(*levels: Mapping[str, Any]) -> dict[str, Any]:
    """Defaults, then each level's set fields in order (name before series)."""
    effective = dict(DEFAULTS)
    for level in levels:
        effective.update({k: v for k, v in level.items() if v is not None})
    return effective


def load_rows(session: Session, scope: Scope,
              targets: Iterable[tuple[str, str]]) -> dict[tuple[str, str], Row]:
    """The configuration rows of (kind, target) pairs, in one query. The rows are read-only
    (`upsert` is how a configuration changes)."""
    targets = set(targets)
    if not targets:
        return {}
    rows = run_prepared(session, _rows_statement, {"account_id": scope.account_id,
                                                    "environment": scope.environment},
                        targets={target for _, target in targets})
    return {(r.target_kind, r.target): r for r in rows if (r.target_kind, r.target) in targets}


@functools.cache
def _rows_statement(on_postgresql: bool):
    # by target alone (one array parameter); a row of the other kind of a same-named target is
    # dropped by load_rows
    table = AnomalyConfigRow.__table__
    return select(table).where(table.c.account_id == bindparam("account_id"),
                               table.c.environment == bindparam("environment"),
                               in_list(table.c.target, "targets", on_postgresql))


def effective_for_series(session: Session, scope: Scope,
                         series: Iterable[tuple[str, str]]) -> dict[str, Mapping[str, Any]]:
    """Effective configuration of each (series_id, name). Read-only: the series of one
    configuration share one mapping (most have the defaults), so a caller converts each once."""
    series = list(series)
    rows = load_rows(session, scope, [("name", n) for _, n in series] + [("series", s) for s, _ in series])
    if not rows:  # the usual case: nothing set for any of them
        defaults = MappingProxyType(merge())
        return {sid: defaults for sid, _ in series}
    shared: dict[tuple, Mapping[str, Any]] = {}
    effective: dict[str, Mapping[str, Any]] = {}
    for sid, name in series:
        fields = merge(overrides_of(rows.get(("name", name))), overrides_of(rows.get(("series", sid))))
        effective[sid] = shared.setdefault(tuple(fields.items()), MappingProxyType(fields))
    return effective


def upsert(session: Session, scope: Scope, kind: str, target: str, fields: Mapping[str, Any],
           now: float) -> AnomalyConfigRow:
    """Merges `fields` into the target's row, creating it when new. Two first writers of one target
    both succeed (PostgreSQL: the second waits for the first's row, then merges into it; a plain
    INSERT failed on the duplicate key, a 500)."""
    key = {"account_id": scope.account_id, "environment": scope.environment, "target_kind": kind,
           "target": target}
    insert = postgresql.insert if is_postgresql(session) else sqlite.insert
    session.execute(insert(AnomalyConfigRow).values(**key, updated_at=now).on_conflict_do_nothing())
    row = session.get(AnomalyConfigRow, tuple(key.values()), with_for_update=True, populate_existing=True)
    for name, value in fields.items():
        setattr(row, name, value)
    row.updated_at = now
    return row

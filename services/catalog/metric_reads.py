"""Reading series: lists with name and tag filters, one series with its statistics and
freshness, and raw points."""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.catalog import configs
from services.catalog.configs import Scope
from services.catalog.models import Anomaly, PointRow, Series, SeriesTag
from services.catalog.series import number_of
from services.catalog.series_rules import check_tag_filters
from services.common.errors import ServiceError

DAY = 86400.0


def _scoped(scope: Scope):
    return (Series.account_id == scope.account_id, Series.environment == scope.environment)


def with_tags(query, series_id_column, tags: Mapping[str, str]):
    """Restricts `query` to series that have every tag with its value (one EXISTS per tag)."""
    for key, value in tags.items():
        query = query.where(select(SeriesTag.series_id).where(
            SeriesTag.series_id == series_id_column, SeriesTag.key == key, SeriesTag.value == value).exists())
    return query


def list_series(session: Session, scope: Scope, name: str, tags: Mapping[str, str], offset: int,
                limit: int) -> tuple[list[Series], int]:
    check_tag_filters(tags)
    query = select(Series).where(*_scoped(scope))
    if name:
        query = query.where(Series.name == name)
    query = with_tags(query, Series.id, tags)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(Series.name, Series.id).offset(offset).limit(limit)).all()
    return list(rows), total


def get_series(session: Session, scope: Scope, series_id: str) -> Series:
    s = session.get(Series, series_id) if isinstance(series_id, str) else None
    if s is None or s.account_id != scope.account_id or s.environment != scope.environment:
        raise ServiceError("METRIC_NOT_FOUND", f"metric {series_id} does not exist", {"metric_id": series_id})
    return s


@dataclass
class SeriesStats:
    anomalies_24h: int
    values: dict[str, float | None]
    last_ts: float | None


def stats_24h(session: Session, s: Series, now: float) -> SeriesStats:
    """Statistics over the 24 hours before the series' latest point; anomalies by detected_at."""
    anomalies = session.scalar(select(func.count()).select_from(Anomaly).where(
        Anomaly.series_id == s.id, Anomaly.detected_at >= now - DAY)) or 0
    names = ("mean", "std", "min", "max", "p50", "p95", "p99", "last_value")
    if s.last_ts is None:
        return SeriesStats(anomalies, dict.fromkeys(names), None)
    values = np.array(session.scalars(select(PointRow.value).where(
        PointRow.series_number == s.number, PointRow.ts > s.last_ts - DAY, PointRow.ts <= s.last_ts)).all(),
        dtype=float)
    if values.size == 0:
        return SeriesStats(anomalies, dict.fromkeys(names), s.last_ts)
    return SeriesStats(anomalies, {**summary(values), "min": float(values.min()), "max": float(values.max()),
                                   "last_value": s.last_value}, s.last_ts)


def summary(values: np.ndarray) -> dict[str, float]:
    """Mean, standard deviation and percentiles of finite values, all finite. Sums and squares of
    values past about 1e154 overflow (a mean of two 1e308s was inf, shown as null): then they are
    computed again on the values scaled by a power of two, which is exact, and scaled back."""
    with np.errstate(over="ignore", invalid="ignore"):
        plain = _moments(values)
    if all(map(math.isfinite, plain.values())):
        return plain
    _, exponent = np.frexp(np.abs(values).max())
    return {k: float(np.ldexp(v, exponent)) for k, v in _moments(np.ldexp(values, -exponent)).items()}


def _moments(values: np.ndarray) -> dict[str, float]:
    p50, p95, p99 = np.percentile(values, [50, 95, 99])
    return {"mean": float(values.mean()), "std": float(values.std()), "p50": float(p50),
            "p95": float(p95), "p99": float(p99)}


def learning(session: Session, scope: Scope, s: Series) -> bool:
    effective = configs.effective_for_series(session, scope, [(s.id, s.name)])[s.id]
    return (s.point_count or 0) <= effective["min_data_points"]


def list_points(session: Session, series_id: str, start: float | None, end: float | None,
                limit: int) -> tuple[list[tuple[float, float]], bool]:
    query = select(PointRow.ts, PointRow.value).where(PointRow.series_number == number_of(series_id))
    if start is not None:
        query = query.where(PointRow.ts >= start)
    if end is not None:
        query = query.where(PointRow.ts <= end)
    rows = session.execute(query.order_by(PointRow.ts).limit(limit + 1)).all()
    return [(ts, v) for ts, v in rows[:limit]], len(rows) > limit

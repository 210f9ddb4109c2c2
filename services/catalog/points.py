"""The durable write path: series resolution, chronological order, one INSERT per batch (and one
UPDATE of the series), and threshold rules evaluated in the same transaction."""
from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from services.catalog import configs, episodes
from services.catalog import series as series_registry
from services.catalog.configs import Scope
from services.catalog.db import execute_many
from services.catalog.models import PointRow, Rule
from services.catalog.rule_match import metric_matches, scope_matches, value_meets
from services.catalog.series import SeriesState
from services.common.steps import update_step
from services.common.timeutil import iso

STORED, DUPLICATE, REJECTED = "stored", "duplicate", "rejected"


class PointIn(NamedTuple):  # a tuple: one is made per point, and cheaply
    index: int
    metric: str
    tags: Mapping[str, str]
    ts: float
    value: float
    source: str = ""


@dataclass
class RuleHitOut:
    anomaly_id: str
    rule_id: str
    severity: str


@dataclass
class PointOut:
    index: int
    outcome: str
    error: str = ""
    error_code: str = ""
    series_id: str = ""
    series_point_count: int = 0
    rule_hits: list[RuleHitOut] = field(default_factory=list)
    previous_ts: float | None = None


@dataclass
class WriteResult:
    points: list[PointOut]
    # Effective anomaly configuration of every series that stored a point.
    configs: dict[str, dict]


def write_points(session: Session, scope: Scope, points: Sequence[PointIn], max_series: int | None,
                 now: float) -> WriteResult:
    keys: dict[tuple, str] = {}
    requests = [series_registry.SeriesRequest(series_registry.series_key_of(p.metric, p.tags, keys), p.metric,
                                              p.tags) for p in points]
    by_key = series_registry.resolve(session, scope, requests, max_series, now)
    stored_values = _stored_values_at_or_before(session, points, requests, by_key)

    results: list[PointOut] = []
    rows: list[tuple[str, float, float]] = []
    accepted: list[tuple[SeriesState, PointIn]] = []
    for point, request in zip(points, requests, strict=True):
        s = by_key.get(request.key)
        if s is None:
            results.append(PointOut(point.index, REJECTED,
                                    f"over quota - this plan allows {max_series} series", "OVER_QUOTA"))
            continue
        if s.last_ts is not None and point.ts <= s.last_ts:
            if stored_values.get((s.id, point.ts)) == point.value or (
                    point.ts == s.last_ts and point.value == s.last_value):
                results.append(PointOut(point.index, DUPLICATE, series_id=s.id,
                                        series_point_count=s.point_count))
            else:
                results.append(PointOut(
                    point.index, REJECTED,
                    f"invalid timestamp - {iso(point.ts)} - timestamp is not after the series' latest "
                    f"point ({iso(s.last_ts)}); points of a series must be sent in chronological order",
                    "VALIDATION_ERROR", series_id=s.id))
            continue
        previous = s.last_ts
        _advance(s, point)
        rows.append((s.id, point.ts, point.value))
        accepted.append((s, point))
        results.append(PointOut(point.index, STORED, series_id=s.id, series_point_count=s.point_count,
                                previous_ts=previous))
    if rows:
        # One executemany INSERT for the points (driver SQL: no per-row parameter processing),
        # one UPDATE for the series.
        execute_many(session, f"INSERT INTO {PointRow.__tablename__} (series_id, ts, value) "
                              "VALUES (?, ?, ?)", rows)
        series_registry.save_progress(session, {s.id: s for s, _ in accepted}.values())
    _apply_rules(session, scope, accepted, {r.index: r for r in results}, now)
    stored_series = {s.id: s.name for s, _ in accepted}
    return WriteResult(results, configs.effective_for_series(session, scope, stored_series.items()))


def _advance(s: SeriesState, point: PointIn) -> None:
    if s.first_ts is None:
        s.first_ts = point.ts
    else:
        s.step_seconds = update_step(s.step_seconds, point.ts - s.last_ts)
    s.last_ts, s.last_value = point.ts, point.value
    s.point_count = (s.point_count or 0) + 1


def _stored_values_at_or_before(session: Session, points, requests, by_key) -> dict[tuple[str, float], float]:
    """Stored values of points that could be exact repeats (at or before their series' latest)."""
    candidates = []
    for point, request in zip(points, requests, strict=True):
        s = by_key.get(request.key)
        if s is not None and s.last_ts is not None and point.ts <= s.last_ts:
            candidates.append((s.id, point.ts))
    if not candidates:
        return {}
    found = session.execute(select(PointRow.series_id, PointRow.ts, PointRow.value)
                            .where(tuple_(PointRow.series_id, PointRow.ts).in_(candidates)))
    return {(sid, ts): value for sid, ts, value in found}


def _apply_rules(session: Session, scope: Scope, accepted: list[tuple[SeriesState, PointIn]],
                 results: dict[int, PointOut], now: float) -> None:
    if not accepted:
        return
    rules = session.scalars(select(Rule).where(Rule.account_id == scope.account_id,
                                               Rule.environment == scope.environment,
                                               Rule.enabled.is_(True))).all()
    if not rules:
        return
    scopes = {r.id: json.loads(r.scope_tags_json or "{}") for r in rules}
    series_tags = {s.id: series_registry.tags_of(s) for s, _ in accepted}
    open_eps = episodes.open_episodes(session, series_tags, [r.id for r in rules])
    for s, point in accepted:
        for rule in rules:
            if not (metric_matches(rule.metric, s.name)
                    and scope_matches(scopes[rule.id], series_tags[s.id])):
                continue
            if value_meets(rule.operator, point.value, rule.threshold):
                anomaly = episodes.hit_rule(session, open_eps, s, rule, point.ts, point.value, now)
                results[point.index].rule_hits.append(RuleHitOut(anomaly.id, rule.id, rule.severity))
            else:
                episodes.end_episode(open_eps, s.id, rule.id, point.ts)

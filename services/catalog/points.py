"""The durable write path: series resolution, chronological order, one INSERT per batch (and one
UPDATE of the series), and threshold rules evaluated in the same transaction."""
from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from sqlalchemy import bindparam, select, tuple_
from sqlalchemy.orm import Session

from services.catalog import configs, episodes
from services.catalog import series as series_registry
from services.catalog.configs import Scope
from services.catalog.db import in_list, insert_rows, run_prepared
from services.catalog.models import PointRow, Rule
from services.catalog.rule_match import metric_matches, scope_matches, value_meets
from services.catalog.series import SeriesState
from services.common.steps import update_step
from services.common.timeutil import iso

STORED, DUPLICATE, REJECTED = "stored", "duplicate", "rejected"
OVER_QUOTA = "OVER_QUOTA"


class PointsIn(NamedTuple):
    """A batch in columns: each series once as (metric, tags), then per point the position of its
    series, its time and its value (what WritePointsRequest carries)."""
    series: Sequence[tuple[str, Mapping[str, str]]]
    series_index: Sequence[int]
    times: Sequence[float]
    values: Sequence[float]


@dataclass
class RuleHitOut:
    index: int  # the point's position in the batch
    anomaly_id: str
    rule_id: str
    severity: str


@dataclass
class SeriesOut:
    """A batch series after the write: its id ("" when over the quota), and its point count and
    latest point before the batch."""
    series_id: str = ""
    point_count_before: int = 0
    last_ts_before: float | None = None
    created: bool = False  # by this write


@dataclass
class WriteResult:
    outcomes: list[str]  # per point
    rejections: dict[int, tuple[str, str]]  # point position -> (error, error_code)
    rule_hits: list[RuleHitOut]
    series: list[SeriesOut]  # per batch series
    # Effective anomaly configuration of every batch series that exists.
    configs: dict[str, Mapping]

    def refused_beyond_quota(self) -> bool:
        """A point was rejected for a reason other than the series quota: an all-or-nothing write
        keeps nothing."""
        return any(code != OVER_QUOTA for _, code in self.rejections.values())


def write_points(session: Session, scope: Scope, batch: PointsIn, max_series: int | None,
                 now: float) -> WriteResult:
    requests = [series_registry.SeriesRequest(series_registry.series_key(metric, tags), metric, tags)
                for metric, tags in batch.series]
    by_key = series_registry.resolve(session, scope, requests, max_series, now)
    states = [by_key.get(r.key) for r in requests]
    series_out = [SeriesOut() if s is None else SeriesOut(s.id, s.point_count or 0, s.last_ts, s.created)
                  for s in states]
    stored_values = _stored_values_at_or_before(session, batch, states)

    outcomes: list[str] = []
    rejections: dict[int, tuple[str, str]] = {}
    rows: list[tuple[int, float, float]] = []
    accepted: list[tuple[int, SeriesState, float, float]] = []
    for i, (j, ts, value) in enumerate(zip(batch.series_index, batch.times, batch.values, strict=True)):
        s = states[j]
        if s is None:
            outcomes.append(REJECTED)
            rejections[i] = (f"over quota - this plan allows {max_series} series", OVER_QUOTA)
            continue
        if s.last_ts is not None and ts <= s.last_ts:
            if stored_values.get((s.number, ts)) == value or (ts == s.last_ts and value == s.last_value):
                outcomes.append(DUPLICATE)
            else:
                outcomes.append(REJECTED)
                rejections[i] = (
                    f"invalid timestamp - {iso(ts)} - timestamp is not after the series' latest point "
                    f"({iso(s.last_ts)}); points of a series must be sent in chronological order",
                    "VALIDATION_ERROR")
            continue
        _advance(s, ts, value)
        rows.append((s.number, ts, value))
        accepted.append((i, s, ts, value))
        outcomes.append(STORED)
    if rows:
        # One bulk append for the points (driver level: no per-row parameter processing), one
        # UPDATE for the series.
        insert_rows(session, PointRow.__tablename__, ("series_number", "ts", "value"), rows)
        series_registry.save_progress(session, {s.id: s for _, s, _, _ in accepted}.values())
    hits = _apply_rules(session, scope, accepted, now)
    known = {s.id: s.name for s in states if s is not None}
    return WriteResult(outcomes, rejections, hits, series_out,
                       configs.effective_for_series(session, scope, known.items()))


def _advance(s: SeriesState, ts: float, value: float) -> None:
    if s.first_ts is None:
        s.first_ts = ts
    else:
        s.step_seconds = update_step(s.step_seconds, ts - s.last_ts, (s.point_count or 1) - 1)
    s.last_ts, s.last_value = ts, value
    s.point_count = (s.point_count or 0) + 1


def _stored_values_at_or_before(session: Session, batch: PointsIn,
                                states: Sequence[SeriesState | None]) -> dict[tuple[int, float], float]:
    """Stored values of points that could be exact repeats (at or before their series' latest)."""
    candidates = []
    for j, ts in zip(batch.series_index, batch.times, strict=True):
        s = states[j]
        if s is not None and s.last_ts is not None and ts <= s.last_ts:
            candidates.append((s.number, ts))
    if not candidates:
        return {}
    found = session.execute(select(PointRow.series_number, PointRow.ts, PointRow.value)
                            .where(tuple_(PointRow.series_number, PointRow.ts).in_(candidates)))
    return {(number, ts): value for number, ts, value in found}


@functools.cache
def _enabled_rules_statement(_on_postgresql: bool):
    """Read-only rows (id, metric, operator, threshold, severity, scope_tags_json, ...)."""
    return select(Rule.__table__).where(Rule.account_id == bindparam("account_id"),
                                        Rule.environment == bindparam("environment"),
                                        Rule.enabled.is_(True))


@functools.cache
def _locked_rules_statement(on_postgresql: bool):
    """The enabled ones of the rules listed in `ids`, read again under a share lock, in id order."""
    return (select(Rule.__table__).where(in_list(Rule.id, "ids", on_postgresql), Rule.enabled.is_(True))
            .order_by(Rule.id).with_for_update(read=True))


def _rules_by_series(rules: list, accepted: list[tuple[int, SeriesState, float, float]],
                     series_tags: Mapping[str, Mapping[str, str]]) -> dict[str, list]:
    """The rules watching each series of the batch (by name and scope), matched once per series."""
    scopes = {r.id: json.loads(r.scope_tags_json or "{}") for r in rules}
    names = {s.id: s.name for _, s, _, _ in accepted}
    return {sid: [r for r in rules
                  if metric_matches(r.metric, name) and scope_matches(scopes[r.id], series_tags[sid])]
            for sid, name in names.items()}


def _read_again_locked(session: Session, rules: list, hit: set[str]) -> list:
    """The rules, those in `hit` read again under a share lock (dropped if gone or disabled). A
    rule is deleted, disabled or retargeted under an exclusive lock, ending its open episodes: so
    a change made meanwhile is seen here, and one made later waits for this write to commit, then
    ends the episode it opened. Taken before the episodes' row locks, in the order a change takes
    them (rule, then episodes): no deadlock."""
    fresh = {r.id: r for r in run_prepared(session, _locked_rules_statement, ids=sorted(hit))}
    return [fresh[r.id] if r.id in hit else r for r in rules if r.id not in hit or r.id in fresh]


def _apply_rules(session: Session, scope: Scope, accepted: list[tuple[int, SeriesState, float, float]],
                 now: float) -> list[RuleHitOut]:
    if not accepted:
        return []
    rules = run_prepared(session, _enabled_rules_statement,
                         {"account_id": scope.account_id, "environment": scope.environment}).all()
    if not rules:
        return []
    series_tags = {s.id: series_registry.tags_of(s) for _, s, _, _ in accepted}
    watching = _rules_by_series(rules, accepted, series_tags)
    hit = {r.id for _, s, _, value in accepted for r in watching[s.id]
           if value_meets(r.operator, value, r.threshold)}
    if hit:
        rules = _read_again_locked(session, rules, hit)
        watching = _rules_by_series(rules, accepted, series_tags)
    open_eps = episodes.open_episodes(session, series_tags, [r.id for r in rules])
    hits: list[RuleHitOut] = []
    for i, s, ts, value in accepted:
        for rule in watching[s.id]:
            if value_meets(rule.operator, value, rule.threshold):
                anomaly = episodes.hit_rule(session, open_eps, s, rule, ts, value, now)
                hits.append(RuleHitOut(i, anomaly.id, rule.id, rule.severity))
            else:
                episodes.end_episode(open_eps, s.id, rule.id, ts)
    return hits

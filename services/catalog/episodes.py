"""Anomaly episodes as the detector and the rules report them: open, extend, end.

Statistical episodes follow the detect engine's events; threshold episodes follow rule hits on
ingest; missing_data episodes follow detect's staleness timer. Re-applying the same detections
changes nothing: a series' `scored_until` guards points, and (series, source, started_at) is
unique."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from prometheus_client import Counter
from sqlalchemy import Row, select
from sqlalchemy.orm import Session

from services.catalog import series as series_registry
from services.catalog.db import one_of
from services.catalog.models import Anomaly, Rule, Series
from services.common.errors import ServiceError
from services.common.ids import new_id
from services.common.timeutil import iso

SEVERITY_RANK = {"info": 1, "warning": 2, "critical": 3}
STATISTICAL, MISSING = "stat", "missing"
# Counted where an episode row is created, so each anomaly counts once however often detect
# replays the points that opened it (detect's own counter counts per scoring pass).
ANOMALIES_CREATED = Counter(
    "aw_catalog_anomalies_opened_total", "Anomalies (episodes) opened in catalog", ["type"])
OPERATOR_WORDS = {
    "greater_than": "above", "greater_than_or_equal": "at or above", "less_than": "below",
    "less_than_or_equal": "at or below", "equal": "equal to", "not_equal": "not equal to",
}


@dataclass
class DetectionIn:
    series_id: str
    ts: float
    value: float
    score: float
    severity: str | None
    type: str | None  # spike, drop, trend, level_shift, missing_data
    mean: float
    std: float
    lower: float
    upper: float
    event: str  # none, open, continue, quiet, close
    end_ts: float | None


def fmt(value: float) -> str:
    """A value as a description writes it: a whole number in full, another to 4 significant
    digits, written out (`.4g` alone writes 12345 as 1.234e+04); scientific notation only past a
    million or below 1e-4."""
    magnitude = abs(value)
    if magnitude >= 1e6 or 0 < magnitude < 1e-4:
        return f"{value:.3e}"
    if float(value).is_integer():
        return f"{value:.0f}"
    return format(Decimal(f"{value:.4g}"), "f")


def deviation_percent(value: float, baseline: float | None) -> float | None:
    if baseline is None or baseline == 0:
        return None
    return round((value - baseline) / abs(baseline) * 100.0, 2)


def describe_statistical(metric: str, kind: str, value: float, baseline: float) -> str:
    pct = deviation_percent(value, baseline)
    direction = "rose to" if value >= baseline else "dropped to"
    label = {"level_shift": "shifted to", "trend": "drifted to"}.get(kind, direction)
    if pct is None:
        return f"{metric} {label} {fmt(value)}, away from its expected {fmt(baseline)}"
    side = "above" if pct >= 0 else "below"
    return f"{metric} {label} {fmt(value)}, {abs(pct):.0f}% {side} its expected {fmt(baseline)}"


def describe_threshold(metric: str, value: float, rule: Rule) -> str:
    return (f"{metric} is {fmt(value)}, {OPERATOR_WORDS[rule.operator]} the threshold "
            f"{fmt(rule.threshold)} of rule {rule.name}")


def open_episodes(session: Session, series_ids: Iterable[str],
                  sources: Iterable[str] | None = None) -> dict[tuple[str, str], Anomaly]:
    """Episodes not yet ended, by (series_id, source). A resolved one takes no more points: a person
    closed it, so what is still anomalous afterwards opens a new anomaly."""
    query = select(Anomaly).where(one_of(session, Anomaly.series_id, series_ids), Anomaly.ended_at.is_(None),
                                  Anomaly.status != "resolved")
    if sources is not None:
        query = query.where(Anomaly.source.in_(list(sources)))
    # locked in id order, as series rows are (series._load): no two writers wait on each other
    return {(a.series_id, a.source): a for a in session.scalars(query.order_by(Anomaly.id).with_for_update())}


def _new(series: Series, source: str, kind: str, severity: str, ts: float, value: float,
         now: float) -> Anomaly:
    ANOMALIES_CREATED.labels(kind).inc()  # the caller adds it to the session it commits
    return Anomaly(id=new_id("anom"), account_id=series.account_id, environment=series.environment,
                   series_id=series.id, metric=series.name, source=source, type=kind, severity=severity,
                   status="active", score=0.0, current_value=value, peak_value=value, detected_at=now,
                   started_at=ts, last_seen_at=ts, point_count=1)


def hit_rule(session: Session, episodes: dict[tuple[str, str], Anomaly], series: Series, rule: Rule | Row,
             ts: float, value: float, now: float) -> Anomaly:
    """Opens or extends the rule's threshold episode of the series."""
    anomaly = episodes.get((series.id, rule.id))
    if anomaly is None:
        anomaly = _new(series, rule.id, "threshold", rule.severity, ts, value, now)
        anomaly.rule_id, anomaly.score = rule.id, 1.0
        session.add(anomaly)
        episodes[(series.id, rule.id)] = anomaly
    else:
        anomaly.point_count += 1
        anomaly.last_seen_at = ts
        if abs(value - rule.threshold) > abs(anomaly.peak_value - rule.threshold):
            anomaly.peak_value = value
    anomaly.current_value = value
    anomaly.severity = rule.severity
    anomaly.baseline_value = rule.threshold
    anomaly.deviation_percent = deviation_percent(value, rule.threshold)
    anomaly.description = describe_threshold(series.name, value, rule)
    return anomaly


def end_episode(episodes: dict[tuple[str, str], Anomaly], series_id: str, source: str, ts: float) -> None:
    anomaly = episodes.pop((series_id, source), None)
    if anomaly is not None:
        anomaly.ended_at = ts


def apply_detections(session: Session, detections: list[DetectionIn], now: float) -> list[str]:
    """Applies detect's verdicts in order; answers the anomaly id each one opened or extended."""
    series_ids = {d.series_id for d in detections}
    series = series_registry.lock_by_ids(session, series_ids)  # plain rows: no ORM flush per series
    _check_against_series(detections, series)
    episodes = open_episodes(session, series_ids, (STATISTICAL, MISSING))
    advanced: dict[str, series_registry.SeriesState] = {}  # series whose scored_until moved
    answer: list[str] = []
    for d in detections:
        s = series[d.series_id]
        if d.type == "missing_data":
            answer.append(_apply_missing(session, episodes, s, d, now))
            continue
        if s.scored_until is not None and d.ts <= s.scored_until:
            # Already applied before a restart: re-applying would score the point twice.
            open_one = episodes.get((s.id, STATISTICAL))
            answer.append(open_one.id if open_one is not None and d.event in ("open", "continue") else "")
            continue
        s.scored_until = d.ts
        advanced[s.id] = s
        answer.append(_apply_statistical(session, episodes, s, d, now))
    series_registry.save_scored_until(session, advanced.values())
    return answer


def _check_against_series(detections: list[DetectionIn],
                          series: dict[str, series_registry.SeriesState]) -> None:
    """Before anything is applied: every detection is of a known series and, but for missing_data
    (noticed at the shard's time), of a stored point; a later time would move `scored_until` past
    points still to come, which would then count as scored."""
    for i, d in enumerate(detections):
        s = series.get(d.series_id)
        if s is None:
            raise ServiceError("VALIDATION_ERROR", f"detections[{i}].metric_id: no series {d.series_id}",
                               {"field": f"detections[{i}].metric_id"})
        if d.type != "missing_data" and (s.last_ts is None or d.ts > s.last_ts):
            raise ServiceError("VALIDATION_ERROR", f"detections[{i}].time is after the series' latest "
                               "stored point", {"field": f"detections[{i}].time"})


def _apply_statistical(session: Session, episodes: dict, s: Series, d: DetectionIn, now: float) -> str:
    current = episodes.get((s.id, STATISTICAL))
    if d.event == "close":
        end_episode(episodes, s.id, STATISTICAL, d.end_ts if d.end_ts is not None else d.ts)
        return ""
    if d.event not in ("open", "continue"):
        return ""
    if d.event == "open" or current is None:
        if current is not None:  # a stale episode the engine no longer knows about
            end_episode(episodes, s.id, STATISTICAL, d.ts)
        current = _new(s, STATISTICAL, d.type or "spike", d.severity or "info", d.ts, d.value, now)
        session.add(current)
        episodes[(s.id, STATISTICAL)] = current
    else:
        current.point_count += 1
        current.last_seen_at = d.ts
        if abs(d.value - d.mean) > abs(current.peak_value - (current.baseline_value or d.mean)):
            current.peak_value = d.value
        if SEVERITY_RANK.get(d.severity or "", 0) > SEVERITY_RANK.get(current.severity, 0):
            current.severity = d.severity
    current.score = max(current.score, d.score)
    current.current_value = d.value
    current.baseline_value = d.mean
    current.expected_lower, current.expected_upper = d.lower, d.upper
    current.deviation_percent = deviation_percent(d.value, d.mean)
    current.description = describe_statistical(s.name, current.type, d.value, d.mean)
    return current.id


def _apply_missing(session: Session, episodes: dict, s: Series, d: DetectionIn, now: float) -> str:
    if d.event == "close":
        end_episode(episodes, s.id, MISSING, d.end_ts if d.end_ts is not None else d.ts)
        return ""
    if d.event != "open" or (s.id, MISSING) in episodes:
        return ""
    anomaly = _new(s, MISSING, "missing_data", d.severity or "warning", d.ts,
                   s.last_value if s.last_value is not None else d.value, now)
    anomaly.score = 1.0
    anomaly.description = (f"{s.name} stopped reporting: no point since {iso(s.last_ts)}"
                           if s.last_ts is not None else f"{s.name} stopped reporting")
    session.add(anomaly)
    episodes[(s.id, MISSING)] = anomaly
    return anomaly.id

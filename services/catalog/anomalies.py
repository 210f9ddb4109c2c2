"""Anomaly reads and the human lifecycle (acknowledge, resolve), scoped by account and environment.

Lists, counts and statistics are SQL aggregates: over anomaly_counts (counts per scope, status,
severity and type, kept by triggers) when the filter allows, else over the anomaly indexes, each of
which also carries status. Nothing here loads more rows than a page (or a chart's worth of points)
into Python."""
from __future__ import annotations

import functools
import json
from collections import defaultdict, namedtuple
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from sqlalchemy import Integer, Select, bindparam, func, select
from sqlalchemy.orm import Session

from anomalywatch.catalog.v1 import anomalies_pb2
from anomalywatch.common.v1 import common_pb2
from services.catalog import configs
from services.catalog.configs import Scope
from services.catalog.convert import SEVERITY_TO_PROTO, TYPE_TO_PROTO
from services.catalog.models import Anomaly, AnomalyCount, AnomalyEvent, PointRow, Series, SeriesTag
from services.catalog.series import number_of
from services.catalog.series_rules import check_tag_filters
from services.common.errors import ServiceError
from services.common.timeutil import set_timestamp, to_timestamp
from services.ingest.validation import storable

STATUSES = ("active", "acknowledged", "resolved")
SEVERITIES = ("info", "warning", "critical")
TYPES = ("spike", "drop", "trend", "level_shift", "threshold", "missing_data")
ROOT_CAUSES = ("marketing_campaign", "deployment", "external_service", "expected_behavior", "bug",
               "infrastructure", "other")
# Status filter words meaning "every status" and the MeshAI synonym of `active`.
ANY_STATUS = ("", "any", "all")
STATUS_ALIASES = {"open": "active"}
STATUS_TO_PROTO = {"active": anomalies_pb2.ANOMALY_STATUS_ACTIVE,
                   "acknowledged": anomalies_pb2.ANOMALY_STATUS_ACKNOWLEDGED,
                   "resolved": anomalies_pb2.ANOMALY_STATUS_RESOLVED}
STATUS_FROM_PROTO = {v: k for k, v in STATUS_TO_PROTO.items()}
MAX_NOTE = 2000
MAX_HISTORY = 500
HISTORY_MARGIN_STEPS = 10
# Margin around an episode of a series whose step is not known yet (fewer than two points).
DEFAULT_MARGIN_SECONDS = 600.0
DAY, WEEK = 86400.0, 7 * 86400.0
# by_metric lists the most frequent metrics only: an account may have very many names.
MAX_BY_METRIC = 1000
# A tag filter matching at most this many anomalies is paged by sorting them all (see page_ids_query).
FEW_TO_SORT = 20_000


@dataclass(frozen=True)
class AnomalyFilters:
    """A list filter; empty fields do not filter. `status` is a status name or any/all/empty."""
    status: str = ""
    severity: str = ""
    type: str = ""
    metric: str = ""
    metric_id: str = ""
    tags: Mapping[str, str] = field(default_factory=dict)
    start: float | None = None  # inclusive, on detected_at
    end: float | None = None  # inclusive, on detected_at


@dataclass
class AnomalyDetail:
    row: Anomaly
    tags: dict[str, str]
    events: list[EventRecord]
    history: list[tuple[float, float]]
    baseline_history: list[tuple[float, float]]


@dataclass
class AnomalyStats:
    total: int
    by_status: dict[str, int]
    by_severity: dict[str, int]
    by_type: dict[str, int]
    by_metric: dict[str, int]
    by_root_cause: dict[str, int]
    mean_time_to_acknowledge: float | None  # seconds
    mean_time_to_resolve: float | None  # seconds
    acknowledged_count: int  # anomalies with an acknowledged_at (resolved ones included)
    resolved_count: int


@dataclass
class AnomalySummary:
    total: int
    by_status: dict[str, int]
    by_type: dict[str, int]


def _invalid(field_name: str, message: str, allowed: Iterable[str] | None = None) -> ServiceError:
    details: dict = {"field": field_name}
    if allowed is not None:
        details["allowed"] = list(allowed)
    return ServiceError("VALIDATION_ERROR", message, details)


def normalize_status(status: str) -> str:
    """A status filter word as stored (`open` is `active`); empty for every status."""
    word = STATUS_ALIASES.get(status, status)
    if word in ANY_STATUS:
        return ""
    if word not in STATUSES:
        raise _invalid("status", f"unknown status {status!r}", (*STATUSES, "open", "all"))
    return word


def _check_filters(filters: AnomalyFilters) -> None:
    check_tag_filters(filters.tags)
    if filters.severity and filters.severity not in SEVERITIES:
        raise _invalid("severity", f"unknown severity {filters.severity!r}", SEVERITIES)
    if filters.type and filters.type not in TYPES:
        raise _invalid("type", f"unknown type {filters.type!r}", TYPES)
    if filters.start is not None and filters.end is not None and filters.start > filters.end:
        raise _invalid("from", "`from` must not be after `to`")


def _scoped(scope: Scope):
    return (Anomaly.account_id == scope.account_id, Anomaly.environment == scope.environment)


# The list's statements are built once per filter *shape* (which filters are set, how many tags),
# with every value a bound parameter (filter_params): building a statement and its cache key cost
# more of a list call than running its queries.
_SCOPE = (Anomaly.account_id == bindparam("account_id"), Anomaly.environment == bindparam("environment"))


@dataclass(frozen=True)
class FilterShape:
    """Which filters a list sets: the statements of one shape differ only in the values they bind."""
    status: bool
    severity: bool
    type: bool
    metric: bool
    metric_id: bool
    start: bool
    end: bool
    tags: int

    @classmethod
    def of(cls, filters: AnomalyFilters) -> FilterShape:
        return cls(bool(normalize_status(filters.status)), bool(filters.severity), bool(filters.type),
                   bool(filters.metric), bool(filters.metric_id), filters.start is not None,
                   filters.end is not None, len(filters.tags))

    @property
    def kept_counts(self) -> bool:
        """Whether anomaly_counts answers the counts: no filter but status, severity, type."""
        return not (self.metric or self.metric_id or self.start or self.end or self.tags)


def filter_params(scope: Scope, filters: AnomalyFilters) -> dict[str, object]:
    """The values the statements of `filters`' shape bind (names as `_filtered` binds them)."""
    params: dict[str, object] = {
        "account_id": scope.account_id, "environment": scope.environment,
        "status": normalize_status(filters.status), "severity": filters.severity, "type": filters.type,
        "metric": filters.metric, "metric_id": filters.metric_id, "start": filters.start, "end": filters.end}
    for i, (key, value) in enumerate(sorted(filters.tags.items())):
        params[f"tag_key_{i}"], params[f"tag_value_{i}"] = key, value
    return params


def _filtered(query: Select, shape: FilterShape) -> Select:
    """Every filter of the shape except status."""
    if shape.severity:
        query = query.where(Anomaly.severity == bindparam("severity"))
    if shape.type:
        query = query.where(Anomaly.type == bindparam("type"))
    if shape.metric:
        query = query.where(Anomaly.metric == bindparam("metric"))
    if shape.metric_id:
        query = query.where(Anomaly.series_id == bindparam("metric_id"))
    if shape.start:
        query = query.where(Anomaly.detected_at >= bindparam("start"))
    if shape.end:
        query = query.where(Anomaly.detected_at <= bindparam("end"))
    # One IN (series with the tag) per tag: both databases turn it into index look-ups of the few
    # matching series, where a correlated EXISTS makes SQLite probe series_tags once per anomaly.
    for i in range(shape.tags):
        query = query.where(Anomaly.series_id.in_(
            select(SeriesTag.series_id).where(SeriesTag.key == bindparam(f"tag_key_{i}"),
                                              SeriesTag.value == bindparam(f"tag_value_{i}"))))
    return query


def filtered_query(shape: FilterShape) -> Select:
    """Anomalies of the scope matching every filter of the shape except status."""
    return _filtered(select(Anomaly).where(*_SCOPE), shape)


def page_query(shape: FilterShape) -> Select:
    """The list query without offset and limit: the whole filter, newest first, id breaking ties."""
    query = filtered_query(shape)
    if shape.status:
        query = query.where(Anomaly.status == bindparam("status"))
    return query.order_by(Anomaly.detected_at.desc(), Anomaly.id.desc())


def status_counts(session: Session, scope: Scope, filters: AnomalyFilters) -> dict[str, int]:
    """Every status with its count over the anomalies matching `filters` but its status part (zeros
    included): the `meta` of a list."""
    return _status_counts(session, FilterShape.of(filters), filter_params(scope, filters))


def _status_counts(session: Session, shape: FilterShape, params: dict[str, object]) -> dict[str, int]:
    row = session.execute(status_counts_query(shape), params).first()
    return {status: int(row[i] or 0) if row else 0 for i, status in enumerate(STATUSES)}


@functools.lru_cache(maxsize=256)
def status_counts_query(shape: FilterShape) -> Select:
    """The query of status_counts: one row of a count per status (in STATUSES' order), or none when
    nothing matches. Filtered by severity and type at most: conditional sums of the kept
    anomaly_counts. Any other filter selects fewer anomalies through its index: conditional counts,
    which that index answers alone since each carries status (a GROUP BY status there would make
    SQLite sort the rows, or walk the status index and read the row of every anomaly of the scope),
    grouped by the scope (fixed by the filter)."""
    if shape.kept_counts:
        query = select(*(func.sum(AnomalyCount.n).filter(AnomalyCount.status == status)
                         for status in STATUSES)).where(
            AnomalyCount.account_id == bindparam("account_id"),
            AnomalyCount.environment == bindparam("environment"))
        if shape.severity:
            query = query.where(AnomalyCount.severity == bindparam("severity"))
        if shape.type:
            query = query.where(AnomalyCount.type == bindparam("type"))
        return query
    return (filtered_query(shape)
            .with_only_columns(*(func.count().filter(Anomaly.status == status) for status in STATUSES))
            .group_by(Anomaly.account_id, Anomaly.environment))


def _kept_scope(scope: Scope):
    return (AnomalyCount.account_id == scope.account_id, AnomalyCount.environment == scope.environment)


def list_anomalies(session: Session, scope: Scope, filters: AnomalyFilters, offset: int,
                   limit: int) -> tuple[list[AnomalyRecord], int, dict[str, int]]:
    """A page of anomalies, newest first by detected_at then id; the
    number matching the whole filter; and counts by status for the filter without its status part
    (the `meta` of a list)."""
    _check_filters(filters)
    shape, params = FilterShape.of(filters), filter_params(scope, filters)
    counts = _status_counts(session, shape, params)
    total = counts[params["status"]] if shape.status else sum(counts.values())
    if offset >= total:
        return [], total, counts
    # Deferred join: find the page's ids on an index alone, then read just those rows; a deep
    # offset then skips index entries instead of whole rows.
    rows = session.execute(page_rows_query(shape, sorts_all(shape, total)),
                           {**params, "offset": offset, "limit": limit})
    return [AnomalyRecord._make(row) for row in rows], total, counts


# A page's anomalies and their events as plain records of their tables' columns, read by attribute:
# the ORM's identity map and instrumented attributes, or a Row's attribute look-up, cost more than
# the queries that read them.
AnomalyRecord = namedtuple("AnomalyRecord", Anomaly.__table__.c.keys())
EventRecord = namedtuple("EventRecord", AnomalyEvent.__table__.c.keys())


@functools.lru_cache(maxsize=256)
def page_rows_query(shape: FilterShape, sort_all: bool) -> Select:
    """The rows of a page (page_ids_query), newest first: the anomalies table's columns."""
    page_ids = page_ids_query(shape, sort_all).scalar_subquery()
    return (select(*Anomaly.__table__.c).where(Anomaly.id.in_(page_ids))
            .order_by(Anomaly.detected_at.desc(), Anomaly.id.desc()))


def sorts_all(shape: FilterShape, total: int) -> bool:
    """Whether a page of `total` matching anomalies is found by sorting them all (page_ids_query)."""
    return shape.tags > 0 and total <= FEW_TO_SORT


@functools.lru_cache(maxsize=256)
def page_ids_query(shape: FilterShape, sort_all: bool) -> Select:
    """The ids of a page (offset and limit bound), from the (scope, [filter column,] detected_at, id)
    index that gives the order. A tag filter has no such index (it matches several series): when it
    matches few anomalies (`sort_all`) they are all read from the (scope, series_id, ...) index and
    sorted, where walking the detected_at order would read the row of every anomaly of the scope
    for a rare tag. Ordering by `detected_at + 0`, an expression no index is ordered by, makes both
    databases do that."""
    query = page_query(shape).with_only_columns(Anomaly.id)
    if sort_all:
        query = query.order_by(None).order_by((Anomaly.detected_at + 0).desc(), Anomaly.id.desc())
    return query.offset(bindparam("offset", type_=Integer)).limit(bindparam("limit", type_=Integer))


_TAGS_OF_SERIES = select(Series.id, Series.tags_json).where(Series.id.in_(bindparam("ids", expanding=True)))
_EVENTS_OF_ANOMALIES = (select(*AnomalyEvent.__table__.c)
                        .where(AnomalyEvent.anomaly_id.in_(bindparam("ids", expanding=True)))
                        .order_by(AnomalyEvent.at, AnomalyEvent.id))


def tags_and_events(session: Session, rows: Iterable[Anomaly | AnomalyRecord]) -> tuple[
        dict[str, dict[str, str]], dict[str, list[EventRecord]]]:
    """The tags of the rows' series by series id and their events by anomaly id (two queries)."""
    rows = list(rows)
    if not rows:
        return {}, {}
    tags = {sid: json.loads(text or "{}") for sid, text in session.execute(
        _TAGS_OF_SERIES, {"ids": list({r.series_id for r in rows})})}
    events: dict[str, list[EventRecord]] = defaultdict(list)
    for row in session.execute(_EVENTS_OF_ANOMALIES, {"ids": [r.id for r in rows]}):
        event = EventRecord._make(row)
        events[event.anomaly_id].append(event)
    return tags, dict(events)


def find(session: Session, scope: Scope, anomaly_id: str, for_update: bool = False) -> Anomaly:
    """The anomaly of this scope; another account's or environment's id is not found, like an
    unknown one."""
    query = select(Anomaly).where(Anomaly.id == anomaly_id, *_scoped(scope))
    row = session.scalars(query.with_for_update() if for_update else query).one_or_none()
    if row is None:
        raise ServiceError("ANOMALY_NOT_FOUND", f"anomaly {anomaly_id} does not exist",
                           {"anomaly_id": anomaly_id})
    return row


def history_window(row: Anomaly, step_seconds: float, since: float | None = None) -> tuple[float, float]:
    """The span shown around an episode: a margin of the episode's length but at least ten steps
    on each side, narrowed so that a regular series fits in MAX_HISTORY points. `since` moves the
    episode's start earlier (a missing_data episode starts when the outage was noticed, some steps
    after the last point it is about)."""
    start = row.started_at if since is None else min(since, row.started_at)
    end = row.ended_at if row.ended_at is not None else row.last_seen_at
    length = max(end - start, 0.0)
    if step_seconds <= 0:
        margin = max(length, DEFAULT_MARGIN_SECONDS)
    else:
        margin = max(length, HISTORY_MARGIN_STEPS * step_seconds)
        room = (MAX_HISTORY - 1) * step_seconds - length
        margin = min(margin, max(room / 2, 0.0))
    return start - margin, end + margin


def last_point_before(session: Session, series_id: str, ts: float) -> float | None:
    """The time of the series' latest point at or before `ts`."""
    return session.scalar(select(func.max(PointRow.ts)).where(
        PointRow.series_number == number_of(series_id), PointRow.ts <= ts))


def points_between(session: Session, series_id: str, lo: float, hi: float,
                   limit: int = MAX_HISTORY) -> list[tuple[float, float]]:
    """The series' points in [lo, hi], oldest first; when there are more than `limit`, the latest
    ones (they contain the episode's end and what followed)."""
    rows = session.execute(select(PointRow.ts, PointRow.value).where(
        PointRow.series_number == number_of(series_id), PointRow.ts >= lo, PointRow.ts <= hi)
        .order_by(PointRow.ts.desc()).limit(limit)).all()
    return [(ts, value) for ts, value in reversed(rows)]


def comparison_period(seasonality: str) -> float:
    """How far back the baseline history lies: a week for weekly series, else a day."""
    return WEEK if seasonality == "weekly" else DAY


def get_anomaly(session: Session, scope: Scope, anomaly_id: str) -> AnomalyDetail:
    """One anomaly with its tags, events, the series around it and one comparison period earlier."""
    row = find(session, scope, anomaly_id)
    series = session.get(Series, row.series_id)
    tags, events = tags_and_events(session, [row])
    step = series.step_seconds if series is not None else 0.0
    # An outage is shown from the series' last point before it: the points it stopped after.
    since = last_point_before(session, row.series_id, row.started_at) if row.type == "missing_data" else None
    lo, hi = history_window(row, step or 0.0, since)
    seasonality = configs.effective_for_series(session, scope, [(row.series_id, row.metric)])[row.series_id][
        "seasonality"]
    back = comparison_period(seasonality)
    return AnomalyDetail(row=row, tags=tags.get(row.series_id, {}), events=events.get(row.id, []),
                         history=points_between(session, row.series_id, lo, hi),
                         baseline_history=points_between(session, row.series_id, lo - back, hi - back))


def _check_note(note: str | None) -> str | None:
    if note is None or note == "":
        return None
    if not isinstance(note, str):
        raise _invalid("note", "note must be a string")
    if len(note) > MAX_NOTE:
        raise _invalid("note", f"note must be at most {MAX_NOTE} characters")
    if not storable(note):  # PostgreSQL refuses NUL; SQLite would keep it
        raise _invalid("note", "note must be valid UTF-8 without NUL characters")
    return note


def _record(session: Session, row: Anomaly, action: str, key_id: str, note: str | None, now: float) -> None:
    session.add(AnomalyEvent(anomaly_id=row.id, action=action, at=now, by=key_id, note=note))
    if note is not None:
        row.note = note


def acknowledge(session: Session, scope: Scope, anomaly_id: str, key_id: str, note: str | None,
                now: float) -> Anomaly:
    """Acknowledges an active anomaly. An acknowledged one is answered unchanged (no new event);
    a resolved one is ALREADY_RESOLVED."""
    note = _check_note(note)
    row = find(session, scope, anomaly_id, for_update=True)
    if row.status == "resolved":
        raise ServiceError("ALREADY_RESOLVED", f"anomaly {anomaly_id} is already resolved",
                           {"anomaly_id": anomaly_id, "status": "resolved"})
    if row.status == "acknowledged":
        return row
    row.status, row.acknowledged_at, row.acknowledged_by = "acknowledged", now, key_id
    _record(session, row, "acknowledge", key_id, note, now)
    return row


def resolve(session: Session, scope: Scope, anomaly_id: str, key_id: str, note: str | None,
            root_cause: str | None, now: float) -> Anomaly:
    """Resolves an active or acknowledged anomaly, with an optional root cause."""
    note = _check_note(note)
    if root_cause and root_cause not in ROOT_CAUSES:
        raise _invalid("root_cause", f"unknown root_cause {root_cause!r}", ROOT_CAUSES)
    row = find(session, scope, anomaly_id, for_update=True)
    if row.status == "resolved":
        raise ServiceError("ALREADY_RESOLVED", f"anomaly {anomaly_id} is already resolved",
                           {"anomaly_id": anomaly_id, "status": "resolved"})
    row.status, row.resolved_at, row.resolved_by = "resolved", now, key_id
    row.root_cause = root_cause or None
    _record(session, row, "resolve", key_id, note, now)
    return row


def _fold(rows, *positions: int) -> list[dict[str, int]]:
    """Per position, {value: summed count} over grouped rows whose count is the last column."""
    folded: list[dict[str, int]] = [defaultdict(int) for _ in positions]
    for row in rows:
        for target, position in zip(folded, positions, strict=True):
            if row[position] is not None:
                target[row[position]] += int(row[-1])
    return [dict(f) for f in folded]


def stats(session: Session, scope: Scope, start: float | None, end: float | None) -> AnomalyStats:
    """Aggregates over anomalies detected in [start, end] (None: unbounded), in two scans: one row of
    the time sums and a conditional count per status, severity, type and root cause, which the
    (scope, detected_at, ...) index answers alone and without the sort a GROUP BY of those columns
    needs; and one GROUP BY metric."""
    window = AnomalyFilters(start=start, end=end)
    _check_filters(window)
    base, params = filtered_query(FilterShape.of(window)), filter_params(scope, window)
    dimensions = ((Anomaly.status, STATUSES), (Anomaly.severity, SEVERITIES), (Anomaly.type, TYPES),
                  (Anomaly.root_cause, ROOT_CAUSES))
    counted = [(column, value) for column, values in dimensions for value in values]
    row = session.execute(base.with_only_columns(
        func.sum(Anomaly.acknowledged_at - Anomaly.detected_at), func.count(Anomaly.acknowledged_at),
        func.sum(Anomaly.resolved_at - Anomaly.detected_at), func.count(Anomaly.resolved_at),
        *(func.count().filter(column == value) for column, value in counted)), params).one()
    ack_sum, ack_count, res_sum, res_count = row[0] or 0.0, int(row[1]), row[2] or 0.0, int(row[3])
    by: dict[str, dict[str, int]] = defaultdict(dict)
    for (column, value), n in zip(counted, row[4:], strict=True):
        if n:
            by[column.key][value] = int(n)
    by_status = {status: by["status"].get(status, 0) for status in STATUSES}
    by_metric_query = (base.with_only_columns(Anomaly.metric, func.count()).group_by(Anomaly.metric)
                       .order_by(func.count().desc(), Anomaly.metric).limit(MAX_BY_METRIC))
    return AnomalyStats(
        total=sum(by_status.values()), by_status=by_status, by_severity=by["severity"], by_type=by["type"],
        by_metric={name: int(n) for name, n in session.execute(by_metric_query, params)},
        by_root_cause=by["root_cause"],
        mean_time_to_acknowledge=ack_sum / ack_count if ack_count else None, acknowledged_count=ack_count,
        mean_time_to_resolve=res_sum / res_count if res_count else None, resolved_count=res_count)


def summary(session: Session, scope: Scope) -> AnomalySummary:
    """Counts by status and by type: sums of the kept anomaly_counts, not a read of every anomaly."""
    by_status, by_type = _fold(session.execute(
        select(AnomalyCount.status, AnomalyCount.type, func.sum(AnomalyCount.n)).where(*_kept_scope(scope))
        .group_by(AnomalyCount.status, AnomalyCount.type)), 0, 1)
    by_status = {status: by_status.get(status, 0) for status in STATUSES}
    return AnomalySummary(total=sum(by_status.values()), by_status=by_status,
                          by_type={kind: n for kind, n in by_type.items() if n})


def _set_time(message, name: str, seconds: float | None) -> None:
    if seconds is not None:
        set_timestamp(getattr(message, name), seconds)


def render_anomaly(row: Anomaly | AnomalyRecord, tags: Mapping[str, str],
                   events: Iterable[AnomalyEvent | EventRecord]) -> anomalies_pb2.Anomaly:
    message = anomalies_pb2.Anomaly(
        id=row.id, metric=row.metric, metric_id=row.series_id, tags=dict(tags),
        type=TYPE_TO_PROTO.get(row.type, common_pb2.ANOMALY_TYPE_UNSPECIFIED),
        severity=SEVERITY_TO_PROTO.get(row.severity, common_pb2.SEVERITY_UNSPECIFIED),
        status=STATUS_TO_PROTO.get(row.status, anomalies_pb2.ANOMALY_STATUS_UNSPECIFIED),
        score=row.score or 0.0, current_value=row.current_value, peak_value=row.peak_value,
        description=row.description or "", rule_id=row.rule_id or "",
        acknowledged_by=row.acknowledged_by or "", resolved_by=row.resolved_by or "",
        note=row.note or "", root_cause=row.root_cause or "", point_count=row.point_count or 0,
        events=[anomalies_pb2.AnomalyEvent(action=e.action, time=to_timestamp(e.at), by=e.by,
                                           note=e.note or "") for e in events])
    if row.expected_lower is not None and row.expected_upper is not None:
        message.expected_range.lower, message.expected_range.upper = row.expected_lower, row.expected_upper
    if row.baseline_value is not None:
        message.baseline_value = row.baseline_value
    if row.deviation_percent is not None:
        message.deviation_percent = row.deviation_percent
    for name, seconds in (("detected_time", row.detected_at), ("start_time", row.started_at),
                          ("last_seen_time", row.last_seen_at), ("end_time", row.ended_at),
                          ("acknowledge_time", row.acknowledged_at), ("resolve_time", row.resolved_at)):
        _set_time(message, name, seconds)
    return message


def render_points(points: Iterable[tuple[float, float]]) -> list[common_pb2.DataPoint]:
    return [common_pb2.DataPoint(time=to_timestamp(ts), value=value) for ts, value in points]

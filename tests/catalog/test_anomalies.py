"""Anomaly reads and lifecycle on SQLite and PostgreSQL: filters, order, counts, scoping, history,
acknowledge/resolve, stats and summary."""
from __future__ import annotations

import itertools
import random

import pytest
from sqlalchemy import event, select

from anomalywatch.catalog.v1 import anomalies_pb2
from anomalywatch.common.v1 import common_pb2
from services.catalog import anomalies
from services.catalog.anomalies import AnomalyFilters
from services.catalog.models import Anomaly, AnomalyEvent
from services.common.errors import ServiceError

from .conftest import T0


def ids(rows):
    return [r.id for r in rows]


def listing(db, scope, offset=0, limit=50, **filters):
    with db.read() as session:
        return anomalies.list_anomalies(session, scope, AnomalyFilters(**filters), offset, limit)


@pytest.fixture
def world(seed):
    """One account with two series (api.requests host=a/region=eu, orders.count host=b), five
    anomalies in its live environment, one in its test environment, one in another account."""
    scope = seed.scope()
    api = seed.series(scope, "api.requests", {"host": "a", "region": "eu"})
    orders = seed.series(scope, "orders.count", {"host": "b"})
    a = {
        "a1": seed.anomaly(scope, api, detected_at=T0 + 100, type="spike", severity="critical"),
        "a2": seed.anomaly(scope, api, detected_at=T0 + 200, type="drop", severity="warning",
                           status="acknowledged", acknowledged_at=T0 + 260, acknowledged_by="key_x"),
        "a3": seed.anomaly(scope, orders, "orders.count", detected_at=T0 + 300, type="drop", severity="info",
                           status="resolved", acknowledged_at=T0 + 400, resolved_at=T0 + 500,
                           root_cause="bug"),
        "a4": seed.anomaly(scope, orders, "orders.count", detected_at=T0 + 400, type="threshold",
                           severity="critical", source="rule_x", rule_id="rule_x"),
        "a5": seed.anomaly(scope, api, detected_at=T0 + 400, type="trend", severity="info", status="resolved",
                           resolved_at=T0 + 1000, root_cause="deployment"),
    }
    test_scope = seed.scope("test", scope.account_id)
    a["test"] = seed.anomaly(test_scope, seed.series(test_scope), detected_at=T0 + 50)
    other = seed.scope()
    a["other"] = seed.anomaly(other, seed.series(other), detected_at=T0 + 50)
    return scope, api, orders, a


def test_list_is_newest_first_with_id_tiebreak_and_scoped(db, world):
    scope, _, _, a = world
    rows, total, counts = listing(db, scope)
    tied = sorted([a["a4"], a["a5"]], reverse=True)
    assert ids(rows) == [*tied, a["a3"], a["a2"], a["a1"]]
    assert total == 5
    assert counts == {"active": 2, "acknowledged": 1, "resolved": 2}


@pytest.mark.parametrize(("filters", "expected"), [
    ({"status": "active"}, ["a1", "a4"]),
    ({"status": "open"}, ["a1", "a4"]),
    ({"status": "all"}, ["a1", "a2", "a3", "a4", "a5"]),
    ({"severity": "critical"}, ["a1", "a4"]),
    ({"type": "drop"}, ["a2", "a3"]),
    ({"metric": "orders.count"}, ["a3", "a4"]),
    ({"tags": {"host": "a"}}, ["a1", "a2", "a5"]),
    ({"tags": {"host": "a", "region": "eu"}}, ["a1", "a2", "a5"]),
    ({"tags": {"host": "a", "region": "us"}}, []),
    ({"start": T0 + 200, "end": T0 + 300}, ["a2", "a3"]),
    ({"start": T0 + 300}, ["a3", "a4", "a5"]),
    ({"status": "resolved", "type": "trend"}, ["a5"]),
])
def test_filters(db, world, filters, expected):
    scope, _, _, a = world
    rows, total, _ = listing(db, scope, **filters)
    assert sorted(ids(rows)) == sorted(a[k] for k in expected)
    assert total == len(expected)


def test_metric_id_filter_and_counts_ignore_the_status_part(db, world):
    scope, api, _, a = world
    rows, total, counts = listing(db, scope, metric_id=api, status="resolved")
    assert ids(rows) == [a["a5"]] and total == 1
    assert counts == {"active": 1, "acknowledged": 1, "resolved": 1}


def test_paging_offsets_are_stable_and_past_the_end_is_empty(db, world):
    scope, _, _, _ = world
    everything, _, _ = listing(db, scope)
    pages = [listing(db, scope, offset=o, limit=2)[0] for o in (0, 2, 4)]
    assert [ids(p) for p in pages] == [ids(everything[0:2]), ids(everything[2:4]), ids(everything[4:])]
    rows, total, _ = listing(db, scope, offset=10, limit=2)
    assert rows == [] and total == 5


@pytest.mark.parametrize(("filters", "field"), [
    ({"status": "closed"}, "status"), ({"severity": "high"}, "severity"), ({"type": "cost_spike"}, "type"),
    ({"start": T0 + 10, "end": T0}, "from"),
])
def test_bad_filters_name_the_field(db, world, filters, field):
    scope = world[0]
    with pytest.raises(ServiceError) as caught:
        listing(db, scope, **filters)
    assert caught.value.code == "VALIDATION_ERROR" and caught.value.details["field"] == field


def test_list_issues_a_bounded_number_of_queries(db, world):
    scope = world[0]
    statements = []

    @event.listens_for(db.read_engine, "before_cursor_execute")
    def count(conn, cursor, statement, params, context, executemany):
        statements.append(statement)

    with db.read() as session:
        rows, _, _ = anomalies.list_anomalies(session, scope, AnomalyFilters(tags={"host": "a"}), 0, 50)
        anomalies.tags_and_events(session, rows)
    selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert len(selects) == 4  # counts, page, tags, events: never one per row
    assert "GROUP BY" in selects[0].upper()


def test_another_account_or_environment_is_not_found_like_an_unknown_id(db, world):
    scope, _, _, a = world
    for anomaly_id in (a["other"], a["test"], "anom_doesnotexist00"):
        for action in (lambda s, i=anomaly_id: anomalies.get_anomaly(s, scope, i),
                       lambda s, i=anomaly_id: anomalies.acknowledge(s, scope, i, "key_1", None, T0),
                       lambda s, i=anomaly_id: anomalies.resolve(s, scope, i, "key_1", None, None, T0)):
            with pytest.raises(ServiceError) as caught, db.transaction() as session:
                action(session)
            assert caught.value.code == "ANOMALY_NOT_FOUND"
            assert caught.value.details == {"anomaly_id": anomaly_id}


def test_acknowledge_then_again_then_resolve_then_again(db, world):
    scope, _, _, a = world
    with db.transaction() as session:
        row = anomalies.acknowledge(session, scope, a["a1"], "key_1", "looking", T0 + 1000)
        assert (row.status, row.acknowledged_at, row.acknowledged_by, row.note) == (
            "acknowledged", T0 + 1000, "key_1", "looking")
    with db.transaction() as session:
        row = anomalies.acknowledge(session, scope, a["a1"], "key_2", "again", T0 + 2000)
        assert (row.acknowledged_at, row.acknowledged_by, row.note) == (T0 + 1000, "key_1", "looking")
    with db.transaction() as session:
        row = anomalies.resolve(session, scope, a["a1"], "key_2", "fixed it", "deployment", T0 + 3000)
        assert (row.status, row.resolved_at, row.resolved_by, row.root_cause, row.note) == (
            "resolved", T0 + 3000, "key_2", "deployment", "fixed it")
    for action in (lambda s: anomalies.resolve(s, scope, a["a1"], "key_3", None, None, T0 + 4000),
                   lambda s: anomalies.acknowledge(s, scope, a["a1"], "key_3", None, T0 + 4000)):
        with pytest.raises(ServiceError) as caught, db.transaction() as session:
            action(session)
        assert caught.value.code == "ALREADY_RESOLVED"
    with db.read() as session:
        detail = anomalies.get_anomaly(session, scope, a["a1"])
        assert [(e.action, e.at, e.by, e.note) for e in detail.events] == [
            ("acknowledge", T0 + 1000, "key_1", "looking"), ("resolve", T0 + 3000, "key_2", "fixed it")]
        assert detail.row.acknowledged_at == T0 + 1000  # kept through resolution, for MTTA


def test_resolve_straight_from_active_without_note_keeps_the_previous_note(db, world):
    scope, _, _, a = world
    with db.transaction() as session:
        anomalies.acknowledge(session, scope, a["a4"], "key_1", "on it", T0 + 500)
    with db.transaction() as session:
        row = anomalies.resolve(session, scope, a["a4"], "key_1", "", "", T0 + 600)
        assert (row.note, row.root_cause) == ("on it", None)
    with db.transaction() as session:
        row = anomalies.resolve(session, scope, a["a1"], "key_1", None, None, T0 + 700)
        assert (row.status, row.acknowledged_at) == ("resolved", None)


@pytest.mark.parametrize(("note", "root_cause", "field"), [
    ("x" * 2001, None, "note"), (None, "aliens", "root_cause"), (None, "Bug", "root_cause")])
def test_resolve_validation_changes_nothing(db, world, note, root_cause, field):
    scope, _, _, a = world
    with pytest.raises(ServiceError) as caught, db.transaction() as session:
        anomalies.resolve(session, scope, a["a1"], "key_1", note, root_cause, T0)
    assert caught.value.code == "VALIDATION_ERROR" and caught.value.details["field"] == field
    if field == "root_cause":
        assert caught.value.details["allowed"] == list(anomalies.ROOT_CAUSES)
    with db.read() as session:
        assert session.get(Anomaly, a["a1"]).status == "active"
        assert session.scalars(select(AnomalyEvent).where(AnomalyEvent.anomaly_id == a["a1"])).all() == []


def test_a_note_of_exactly_2000_characters_is_accepted(db, world):
    scope, _, _, a = world
    with db.transaction() as session:
        assert anomalies.acknowledge(session, scope, a["a1"], "key_1", "n" * 2000, T0).note == "n" * 2000


def test_history_surrounds_the_episode_and_baseline_is_one_day_earlier(db, seed):
    scope = seed.scope()
    sid = seed.series(scope, "api.requests", step=60.0)
    start = T0 + 86400 * 2
    # Two days and a bit of one-minute points; the episode lasts 5 minutes.
    seed.points(sid, [(T0 + i * 60.0, float(i)) for i in range(3 * 1440)])
    anomaly_id = seed.anomaly(scope, sid, detected_at=start + 5, started_at=start, last_seen_at=start + 240,
                              ended_at=start + 300)
    with db.read() as session:
        detail = anomalies.get_anomaly(session, scope, anomaly_id)
    times = [t for t, _ in detail.history]
    # margin = max(10 steps, episode length 300 s) = 600 s each side
    assert times[0] == start - 600 and times[-1] == start + 300 + 600
    assert len(times) == 26 and times == sorted(times)
    assert [t for t, _ in detail.baseline_history] == [t - 86400 for t in times]


def test_weekly_seasonality_compares_with_one_week_earlier(db, seed):
    scope = seed.scope()
    sid = seed.series(scope, "orders.count", step=3600.0)
    seed.config(scope, "orders.count", seasonality="weekly")
    seed.points(sid, [(T0 + i * 3600.0, float(i % 24)) for i in range(24 * 15)])
    start = T0 + 14 * 86400
    anomaly_id = seed.anomaly(scope, sid, "orders.count", detected_at=start, started_at=start,
                              last_seen_at=start)
    with db.read() as session:
        detail = anomalies.get_anomaly(session, scope, anomaly_id)
    assert len(detail.history) == 21  # ten hours each side
    assert [t for t, _ in detail.baseline_history] == [t - 7 * 86400 for t, _ in detail.history]


def test_history_of_a_long_episode_is_capped_at_500_points_ending_after_it(db, seed):
    scope = seed.scope()
    sid = seed.series(scope, step=1.0)
    seed.points(sid, [(T0 + i, 1.0) for i in range(3000)])
    anomaly_id = seed.anomaly(scope, sid, detected_at=T0 + 500, started_at=T0 + 500, last_seen_at=T0 + 1999)
    with db.read() as session:
        detail = anomalies.get_anomaly(session, scope, anomaly_id)
    assert len(detail.history) == 500 and detail.history[-1][0] == T0 + 1999
    assert detail.baseline_history == []  # nothing a day earlier


def test_history_of_a_missing_data_episode_shows_the_points_before_the_outage(db, seed):
    """The outage is noticed a minute after the last point of a 1 s series: ten steps around the
    time it was noticed hold no point at all."""
    scope = seed.scope()
    sid = seed.series(scope, step=1.0)
    seed.points(sid, [(T0 + i, 1.0) for i in range(200)])
    noticed = T0 + 199 + 60
    anomaly_id = seed.anomaly(scope, sid, type="missing_data", source="missing", detected_at=noticed,
                              started_at=noticed, last_seen_at=noticed)
    with db.read() as session:
        history = anomalies.get_anomaly(session, scope, anomaly_id).history
    times = [t for t, _ in history]
    assert times[-1] == T0 + 199 and len(times) >= anomalies.HISTORY_MARGIN_STEPS


def test_history_window_for_an_open_episode_uses_last_seen_and_fits_500_steps():
    row = Anomaly(started_at=1000.0, last_seen_at=1100.0, ended_at=None)
    assert anomalies.history_window(row, 10.0) == (900.0, 1200.0)
    assert anomalies.history_window(row, 0.0) == (400.0, 1700.0)
    long = Anomaly(started_at=0.0, last_seen_at=400.0, ended_at=None)
    lo, hi = anomalies.history_window(long, 1.0)
    assert (hi - lo) == 499.0


@pytest.fixture
def timed(seed):
    """A hand-made set for stats: MTTA = mean(60, 180, 300) = 180 s (b3 was acknowledged before
    being resolved); MTTR = mean(600, 1200) = 900 s."""
    scope = seed.scope()
    s1, s2 = seed.series(scope, "cpu"), seed.series(scope, "mem")
    seed.anomaly(scope, s1, "cpu", detected_at=T0, type="spike", severity="critical")
    seed.anomaly(scope, s1, "cpu", detected_at=T0 + 1000, type="spike", severity="warning",
                 status="acknowledged", acknowledged_at=T0 + 1060)
    seed.anomaly(scope, s2, "mem", detected_at=T0 + 2000, type="drop", severity="warning",
                 status="acknowledged", acknowledged_at=T0 + 2180)
    seed.anomaly(scope, s2, "mem", detected_at=T0 + 3000, type="drop", severity="info", status="resolved",
                 acknowledged_at=T0 + 3300, resolved_at=T0 + 3600, root_cause="bug")
    seed.anomaly(scope, s1, "cpu", detected_at=T0 + 4000, type="threshold", severity="critical",
                 status="resolved", resolved_at=T0 + 5200, source="rule_a", rule_id="rule_a")
    other = seed.scope()
    seed.anomaly(other, seed.series(other), detected_at=T0, status="resolved", resolved_at=T0 + 1)
    return scope


def test_stats_by_hand(db, timed):
    with db.read() as session:
        result = anomalies.stats(session, timed, None, None)
    assert result.total == 5
    assert result.by_status == {"active": 1, "acknowledged": 2, "resolved": 2}
    assert result.by_severity == {"critical": 2, "warning": 2, "info": 1}
    assert result.by_type == {"spike": 2, "drop": 2, "threshold": 1}
    assert result.by_metric == {"cpu": 3, "mem": 2}
    assert result.by_root_cause == {"bug": 1}
    assert result.mean_time_to_acknowledge == pytest.approx(180.0)
    assert result.mean_time_to_resolve == pytest.approx(900.0)
    assert (result.acknowledged_count, result.resolved_count) == (3, 2)


def test_stats_window_is_inclusive_and_empty_means_are_none(db, timed):
    with db.read() as session:
        window = anomalies.stats(session, timed, T0 + 1000, T0 + 2000)
        empty = anomalies.stats(session, timed, T0 + 10_000, None)
        only_active = anomalies.stats(session, timed, None, T0)
    assert window.total == 2 and window.mean_time_to_acknowledge == pytest.approx(120.0)
    assert window.mean_time_to_resolve is None
    assert empty.total == 0 and empty.by_status == {"active": 0, "acknowledged": 0, "resolved": 0}
    assert (empty.mean_time_to_acknowledge, empty.mean_time_to_resolve, empty.by_metric) == (None, None, {})
    assert only_active.total == 1 and only_active.mean_time_to_acknowledge is None


def test_summary(db, timed):
    with db.read() as session:
        result = anomalies.summary(session, timed)
    assert (result.total, result.by_status, result.by_type) == (
        5, {"active": 1, "acknowledged": 2, "resolved": 2}, {"spike": 2, "drop": 2, "threshold": 1})


def test_render_anomaly(db, world):
    scope, api, _, a = world
    with db.transaction() as session:
        anomalies.acknowledge(session, scope, a["a1"], "key_1", "hm", T0 + 150.5)
    with db.read() as session:
        detail = anomalies.get_anomaly(session, scope, a["a1"])
    message = anomalies.render_anomaly(detail.row, detail.tags, detail.events)
    assert (message.id, message.metric, message.metric_id, dict(message.tags)) == (
        a["a1"], "api.requests", api, {"host": "a", "region": "eu"})
    assert (message.type, message.severity, message.status) == (
        common_pb2.ANOMALY_TYPE_SPIKE, common_pb2.SEVERITY_CRITICAL,
        anomalies_pb2.ANOMALY_STATUS_ACKNOWLEDGED)
    assert message.detected_time.seconds == int(T0 + 100) and not message.HasField("end_time")
    assert (message.acknowledge_time.seconds, message.acknowledge_time.nanos) == (int(T0 + 150), 500_000_000)
    assert message.HasField("deviation_percent") and message.deviation_percent == 50.0
    assert (message.expected_range.lower, message.expected_range.upper) == (80.0, 120.0)
    assert [(e.action, e.by, e.note) for e in message.events] == [("acknowledge", "key_1", "hm")]
    assert not message.HasField("resolve_time") and message.rule_id == ""


@pytest.fixture
def mixed(seed):
    """Thirty anomalies of a scope over four series, every status, severity and type, ties in
    detected_at; and one anomaly in another account and one in the test environment that no
    filter may show."""
    rng = random.Random(7)
    scope = seed.scope()
    series = [(seed.series(scope, name, tags), name, tags) for name, tags in (
        ("api.requests", {"host": "a", "region": "eu"}), ("api.requests", {"host": "b", "region": "eu"}),
        ("orders.count", {"host": "a"}), ("orders.count", {}))]
    rows = []
    for i in range(30):
        series_id, name, tags = rng.choice(series)
        fields = {"detected_at": T0 + rng.randrange(8) * 10, "type": rng.choice(anomalies.TYPES),
                  "severity": rng.choice(anomalies.SEVERITIES), "status": rng.choice(anomalies.STATUSES)}
        anomaly_id = seed.anomaly(scope, series_id, name, started_at=T0 + i, **fields)
        rows.append({"id": anomaly_id, "metric_id": series_id, "metric": name, "tags": tags, **fields})
    for other in (seed.scope(), seed.scope("test", scope.account_id)):
        seed.anomaly(other, seed.series(other, "api.requests", {"host": "a", "region": "eu"}),
                     detected_at=T0 + 20, severity="critical", type="spike")
    return scope, series[0][0], rows


def expected_listing(rows, filters: AnomalyFilters):
    """The page order and the meta counts of `filters`, computed the obvious way."""
    status = anomalies.normalize_status(filters.status)

    def matches(row) -> bool:
        return ((not filters.severity or row["severity"] == filters.severity)
                and (not filters.type or row["type"] == filters.type)
                and (not filters.metric or row["metric"] == filters.metric)
                and (not filters.metric_id or row["metric_id"] == filters.metric_id)
                and (filters.start is None or row["detected_at"] >= filters.start)
                and (filters.end is None or row["detected_at"] <= filters.end)
                and all(row["tags"].get(k) == v for k, v in filters.tags.items()))

    kept = [r for r in rows if matches(r)]
    page = sorted((r for r in kept if not status or r["status"] == status),
                  key=lambda r: (r["detected_at"], r["id"]), reverse=True)
    return [r["id"] for r in page], {s: sum(r["status"] == s for r in kept) for s in anomalies.STATUSES}


@pytest.mark.parametrize("few_to_sort", [anomalies.FEW_TO_SORT, 0], ids=["tags-sorted", "tags-walked"])
def test_every_filter_shape_lists_pages_and_counts_as_the_obvious_reading(db, mixed, monkeypatch,
                                                                          few_to_sort):
    """Each combination of set filters is one shape with its own cached statements: each must
    bind its values right, on both page strategies of a tag filter."""
    scope, metric_id, rows = mixed
    monkeypatch.setattr(anomalies, "FEW_TO_SORT", few_to_sort)
    values = {"status": "acknowledged", "severity": "critical", "type": "spike", "metric": "api.requests",
              "metric_id": metric_id, "start": T0 + 20, "end": T0 + 50}
    tag_choices = ({}, {"host": "a"}, {"host": "a", "region": "eu"})
    with db.read() as session:
        for present in itertools.product((False, True), repeat=len(values)):
            for tags in tag_choices:
                chosen = {k: v for (k, v), on in zip(values.items(), present, strict=True) if on}
                filters = AnomalyFilters(tags=tags, **chosen)
                order, counts = expected_listing(rows, filters)
                got, total, got_counts = anomalies.list_anomalies(session, scope, filters, 0, 1000)
                assert (ids(got), total, got_counts) == (order, len(order), counts), filters
                pages = [anomalies.list_anomalies(session, scope, filters, offset, 4)[0]
                         for offset in range(0, len(order) + 1, 4)]
                assert [r.id for page in pages for r in page] == order, filters


def test_a_repeated_filter_shape_builds_no_statement(db, mixed):
    """Other values of the same filters (both listing a page) reuse the statements built once."""
    scope, _, _ = mixed
    cached = (anomalies.status_counts_query, anomalies.page_rows_query)
    with db.read() as session:
        first, _, _ = anomalies.list_anomalies(
            session, scope, AnomalyFilters(metric="api.requests", tags={"region": "eu"}), 0, 5)
        built = [query.cache_info().misses for query in cached]
        second, _, _ = anomalies.list_anomalies(
            session, scope, AnomalyFilters(metric="orders.count", tags={"host": "a"}), 0, 5)
    assert first and second
    assert [query.cache_info().misses for query in cached] == built


def test_an_anomaly_without_a_baseline_shows_none_and_one_with_a_baseline_of_zero_shows_zero(db, seed):
    """missing_data has no value to compare: its baseline is null in the API, not 0 (a real baseline
    of 0 is shown as 0)."""
    from gateway import render

    scope = seed.scope()
    series = seed.series(scope)
    missing = seed.anomaly(scope, series, type="missing_data", baseline_value=None, deviation_percent=None,
                           expected_lower=None, expected_upper=None)
    zero = seed.anomaly(scope, series, baseline_value=0.0, deviation_percent=None, detected_at=T0 + 1)
    with db.read() as session:
        rows, _, _ = anomalies.list_anomalies(session, scope, AnomalyFilters(), 0, 50)
        shown = {r.id: render.anomaly(anomalies.render_anomaly(r, {}, [])) for r in rows}
    assert shown[missing]["baseline_value"] is None
    assert shown[zero]["baseline_value"] == 0.0

"""The durable write path on SQLite and PostgreSQL: series, quota, order, repeats, one INSERT per
batch, threshold rules."""
from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
from sqlalchemy import event, func, select

from services.catalog import accounts, anomalies, points
from services.catalog.configs import Scope
from services.catalog.db import Database
from services.catalog.models import Anomaly, PointRow, Rule, Series

T0 = 1_800_000_000.0


@pytest.fixture
def db(database_url):
    database = Database(database_url)
    yield database
    database.dispose()


@pytest.fixture
def scope(db) -> Scope:
    with db.transaction() as session:
        account = accounts.create_account(session, "acme", "free", {"free"}, T0)
    return Scope(account.id, "live")


@dataclass
class Written:
    """One point's part of a WriteResult, as the tests read it."""
    outcome: str
    error: str
    error_code: str
    series_id: str
    rule_hits: list


@dataclass
class Result:
    points: list[Written]
    configs: dict


def write(db, scope, batch, max_series=None) -> Result:
    """Writes (metric, tags, ts, value) rows as one columnar batch."""
    series = list(dict.fromkeys((metric, tuple(sorted(tags.items()))) for metric, tags, _, _ in batch))
    position = {key: j for j, key in enumerate(series)}
    index = [position[(metric, tuple(sorted(tags.items())))] for metric, tags, _, _ in batch]
    columns = points.PointsIn([(metric, dict(tags)) for metric, tags in series], index,
                              [row[2] for row in batch], [row[3] for row in batch])
    with db.transaction() as session:
        result = points.write_points(session, scope, columns, max_series, T0)
    return Result([Written(outcome, *result.rejections.get(i, ("", "")), result.series[index[i]].series_id,
                           [h for h in result.rule_hits if h.index == i])
                   for i, outcome in enumerate(result.outcomes)], result.configs)


def p(i, ts, value, metric="cpu", tags=None):
    return metric, tags or {"host": "a"}, ts, value


def test_points_are_stored_with_one_insert_per_batch(db, scope, monkeypatch):
    bulk, inserts = [], []
    real = points.insert_rows
    monkeypatch.setattr(points, "insert_rows", lambda session, table, columns, rows: (
        bulk.append(len(rows)), real(session, table, columns, rows)))

    @event.listens_for(db.engine, "before_cursor_execute")
    def count(conn, cursor, statement, params, context, executemany):
        if statement.lstrip().upper().startswith(f"INSERT INTO {PointRow.__tablename__.upper()} "):
            inserts.append(statement)

    result = write(db, scope, [p(i, T0 + i, float(i)) for i in range(300)])
    assert [r.outcome for r in result.points] == ["stored"] * 300
    assert bulk == [300]  # one bulk append: a COPY on PostgreSQL, one executemany INSERT on SQLite
    assert len(inserts) == (0 if db.engine.dialect.name == "postgresql" else 1)
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(PointRow)) == 300
        series = session.scalars(select(Series)).one()
        assert (series.point_count, series.first_ts, series.last_ts, series.last_value) == \
            (300, T0, T0 + 299, 299.0)
        assert series.step_seconds == pytest.approx(1.0)


def test_name_plus_tags_is_a_series_and_unicode_tags_work(db, scope):
    result = write(db, scope, [p(0, T0, 1, tags={"host": "a"}), p(1, T0, 1, tags={"host": "b"}),
                               p(2, T0, 1, tags={"région": "ÎLE-de-🇫🇷"}),
                               p(3, T0 + 1, 2, tags={"host": "a"})])
    ids = [r.series_id for r in result.points]
    assert ids[0] == ids[3] and len(set(ids)) == 3


def test_chronological_order_and_exact_repeats(db, scope):
    write(db, scope, [p(0, T0, 1.0), p(1, T0 + 10, 2.0)])
    result = write(db, scope, [p(0, T0 + 10, 2.0), p(1, T0, 1.0), p(2, T0 + 5, 9.0), p(3, T0 + 10, 3.0),
                               p(4, T0 + 20, 4.0), p(5, T0 + 20, 4.0)])
    assert [r.outcome for r in result.points] == ["duplicate", "duplicate", "rejected", "rejected", "stored",
                                                  "duplicate"]
    assert "chronological order" in result.points[2].error
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(PointRow)) == 3
        assert session.scalars(select(Series)).one().point_count == 3


def test_new_series_over_the_quota_are_rejected_and_known_ones_accepted(db, scope):
    write(db, scope, [p(0, T0, 1, metric="a"), p(1, T0, 1, metric="b")], max_series=3)
    result = write(db, scope, [p(0, T0 + 1, 1, metric="c"), p(1, T0 + 1, 1, metric="d"),
                               p(2, T0 + 1, 1, metric="a")], max_series=3)
    assert [r.outcome for r in result.points] == ["stored", "rejected", "stored"]
    assert result.points[1].error == "over quota - this plan allows 3 series"
    assert result.points[1].error_code == "OVER_QUOTA"


def test_environments_keep_separate_series(db, scope):
    live = write(db, scope, [p(0, T0, 1)])
    test = write(db, Scope(scope.account_id, "test"), [p(0, T0, 1)])
    assert live.points[0].series_id != test.points[0].series_id
    assert test.points[0].outcome == "stored"


def test_threshold_rules_open_extend_and_end_episodes(db, scope):
    with db.transaction() as session:
        session.add(Rule(id="rule_hot", account_id=scope.account_id, environment="live", name="hot",
                         metric="cp*", operator="greater_than", threshold=90.0, severity="critical",
                         scope_tags_json=json.dumps({"host": "a"}), enabled=True,
                         created_at=T0, updated_at=T0))
        session.add(Rule(id="rule_off", account_id=scope.account_id, environment="live", name="off",
                         metric="cpu", operator="greater_than", threshold=0.0, severity="info",
                         scope_tags_json="{}", enabled=False, created_at=T0, updated_at=T0))
    result = write(db, scope, [p(0, T0, 50), p(1, T0 + 1, 95), p(2, T0 + 2, 99), p(3, T0 + 3, 40),
                               p(4, T0 + 4, 91, tags={"host": "b"})])
    hits = [[h.rule_id for h in r.rule_hits] for r in result.points]
    assert hits == [[], ["rule_hot"], ["rule_hot"], [], []]
    assert result.points[1].rule_hits[0].anomaly_id == result.points[2].rule_hits[0].anomaly_id
    with db.read() as session:
        anomaly = session.scalars(select(Anomaly)).one()
    assert (anomaly.type, anomaly.severity, anomaly.rule_id, anomaly.point_count) == ("threshold", "critical",
                                                                                     "rule_hot", 2)
    assert (anomaly.started_at, anomaly.last_seen_at, anomaly.ended_at) == (T0 + 1, T0 + 2, T0 + 3)
    assert anomaly.peak_value == 99 and anomaly.current_value == 99
    assert "above the threshold 90 of rule hot" in anomaly.description


def test_a_breach_that_lasts_past_its_resolution_opens_a_new_anomaly(db, scope):
    with db.transaction() as session:
        session.add(Rule(id="rule_hot", account_id=scope.account_id, environment="live", name="hot",
                         metric="cpu", operator="greater_than", threshold=90.0, severity="warning",
                         scope_tags_json="{}", enabled=True, created_at=T0, updated_at=T0))
    first = write(db, scope, [p(0, T0, 95), p(1, T0 + 1, 96)]).points[1].rule_hits[0].anomaly_id
    with db.transaction() as session:
        anomalies.resolve(session, scope, first, "key_x", "fixed", "deployment", T0 + 2)
    second = write(db, scope, [p(0, T0 + 3, 97)]).points[0].rule_hits[0].anomaly_id
    assert second != first
    with db.read() as session:
        resolved, fresh = session.get(Anomaly, first), session.get(Anomaly, second)
        assert (resolved.status, resolved.point_count, resolved.last_seen_at) == ("resolved", 2, T0 + 1)
        assert (fresh.status, fresh.point_count, fresh.started_at) == ("active", 1, T0 + 3)


def test_effective_configuration_is_returned_for_stored_series(db, scope):
    from services.catalog import configs

    with db.transaction() as session:
        configs.upsert(session, scope, "name", "cpu", {"min_data_points": 20, "sensitivity": "high"}, T0)
    result = write(db, scope, [p(0, T0, 1)])
    effective = result.configs[result.points[0].series_id]
    assert effective["min_data_points"] == 20 and effective["sensitivity"] == "high"
    assert effective["spike_threshold"] == 3.0
    with db.transaction() as session:
        configs.upsert(session, scope, "series", result.points[0].series_id, {"min_data_points": 30}, T0)
    again = write(db, scope, [p(0, T0 + 1, 1)])
    assert again.configs[result.points[0].series_id]["min_data_points"] == 30

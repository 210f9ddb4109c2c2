"""Concurrent changes of one anomaly on PostgreSQL (READ COMMITTED, several catalog replicas on one
database): people acknowledging and resolving it at once, and detect's episode events arriving
while a person resolves it. Whichever commits first, the other sees its result: no lost update, the
status moves only as API.md allows, the events list each change once, and the kept counts agree."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from services.catalog import accounts, anomalies, episodes
from services.catalog.configs import Scope
from services.catalog.db import Database
from services.catalog.models import Anomaly, AnomalyEvent, PointRow, Series
from services.catalog.series import next_numbers
from services.common.errors import ServiceError
from services.common.ids import new_id

from .conftest import T0, in_transaction, start_until_done_or_blocked

pytestmark = pytest.mark.postgres


@pytest.fixture
def scope(pg) -> Scope:
    with pg.transaction() as session:
        account = accounts.create_account(session, "acme", "pro", {"pro"}, T0)
    return Scope(account.id, "live")


@pytest.fixture
def series_id(pg, scope) -> str:
    """A series with points at T0 .. T0 + 50 (every 10 s), scored until T0 + 20."""
    series_id = new_id("met")
    with pg.transaction() as session:
        number = next_numbers(session, 1)[0]
        session.add(Series(id=series_id, number=number, account_id=scope.account_id, environment="live",
                           name="cpu", series_key=series_id, created_at=T0, first_ts=T0, last_ts=T0 + 50,
                           last_value=5.0, point_count=6, step_seconds=10.0, scored_until=T0 + 20))
        session.flush()
        session.add_all([PointRow(series_number=number, ts=T0 + 10 * i, value=float(i)) for i in range(6)])
    return series_id


@pytest.fixture
def anomaly_id(pg, scope, series_id) -> str:
    """The series' open statistical episode, started at T0 + 20."""
    anomaly_id = new_id("anom")
    with pg.transaction() as session:
        session.add(Anomaly(id=anomaly_id, account_id=scope.account_id, environment="live",
                            series_id=series_id, metric="cpu", source=episodes.STATISTICAL, type="spike",
                            severity="warning",
                            status="active", score=0.9, current_value=2.0, peak_value=2.0, detected_at=T0,
                            started_at=T0 + 20, last_seen_at=T0 + 20, point_count=1))
    return anomaly_id


def race(db: Database, first, second):
    """`first` in a transaction held open while `second` starts in another (another replica's) and
    runs until it is done or waits on a lock; then `first` commits. Both results (or errors)."""
    replica = Database(db.url)
    try:
        with db.transaction() as session:
            one = first(session)
            session.flush()  # its changes made, not yet committed
            other = start_until_done_or_blocked(db, in_transaction(replica, second))
        try:
            return one, other.join()
        except ServiceError as error:
            return one, error
    finally:
        replica.dispose()


def acknowledge(scope, anomaly_id, by="key_a"):
    return lambda session: anomalies.acknowledge(session, scope, anomaly_id, by, f"ack by {by}", T0 + 100)


def resolve(scope, anomaly_id, by="key_r"):
    return lambda session: anomalies.resolve(session, scope, anomaly_id, by, f"fixed by {by}", "bug",
                                             T0 + 200)


def detection(series_id, ts, event, value=9.0):
    return episodes.DetectionIn(series_id=series_id, ts=ts, value=value, score=0.95, severity="critical",
                                type="spike", mean=1.0, std=0.5, lower=0.0, upper=2.0, event=event,
                                end_ts=None)


def apply(*detections):
    return lambda session: episodes.apply_detections(session, list(detections), T0 + 150)


def state(db, scope, anomaly_id) -> tuple:
    """(status, acknowledged_by, resolved_by, note, point_count, ended_at), the events' actions, and
    whether the kept counts by status agree with the anomalies of the scope."""
    with db.read() as session:
        row = anomalies.find(session, scope, anomaly_id)
        actions = list(session.scalars(select(AnomalyEvent.action).where(
            AnomalyEvent.anomaly_id == anomaly_id).order_by(AnomalyEvent.id)))
        counted = anomalies.summary(session, scope).by_status
        actual = {s: 0 for s in anomalies.STATUSES}
        for status in session.scalars(select(Anomaly.status).where(Anomaly.account_id == scope.account_id)):
            actual[status] += 1
        return ((row.status, row.acknowledged_by, row.resolved_by, row.note, row.point_count, row.ended_at),
                actions, counted == actual)


def test_a_resolve_during_an_acknowledge_keeps_both(pg, scope, anomaly_id):
    one, other = race(pg, acknowledge(scope, anomaly_id), resolve(scope, anomaly_id))
    assert other.status == "resolved"
    assert state(pg, scope, anomaly_id) == (("resolved", "key_a", "key_r", "fixed by key_r", 1, None),
                                            ["acknowledge", "resolve"], True)


def test_an_acknowledge_during_a_resolve_is_already_resolved(pg, scope, anomaly_id):
    one, other = race(pg, resolve(scope, anomaly_id), acknowledge(scope, anomaly_id))
    assert isinstance(other, ServiceError) and other.code == "ALREADY_RESOLVED"
    assert state(pg, scope, anomaly_id) == (("resolved", None, "key_r", "fixed by key_r", 1, None),
                                            ["resolve"], True)


def test_two_acknowledges_at_once_record_one(pg, scope, anomaly_id):
    one, other = race(pg, acknowledge(scope, anomaly_id, "key_1"), acknowledge(scope, anomaly_id, "key_2"))
    assert other.acknowledged_by == "key_1"
    assert state(pg, scope, anomaly_id) == (("acknowledged", "key_1", None, "ack by key_1", 1, None),
                                            ["acknowledge"], True)


def test_two_resolves_at_once_record_one(pg, scope, anomaly_id):
    one, other = race(pg, resolve(scope, anomaly_id, "key_1"), resolve(scope, anomaly_id, "key_2"))
    assert isinstance(other, ServiceError) and other.code == "ALREADY_RESOLVED"
    assert state(pg, scope, anomaly_id) == (("resolved", None, "key_1", "fixed by key_1", 1, None),
                                            ["resolve"], True)


def test_a_resolve_during_an_extending_detection_keeps_the_extension(pg, scope, series_id, anomaly_id):
    one, other = race(pg, apply(detection(series_id, T0 + 30, "continue")), resolve(scope, anomaly_id))
    assert one == [anomaly_id]
    assert state(pg, scope, anomaly_id) == (("resolved", None, "key_r", "fixed by key_r", 2, None),
                                            ["resolve"], True)
    with pg.read() as session:
        assert session.get(Anomaly, anomaly_id).last_seen_at == T0 + 30


def test_a_detection_during_a_resolve_opens_a_new_episode(pg, scope, series_id, anomaly_id):
    """A resolved episode takes no more points: what is still anomalous opens a new anomaly."""
    one, other = race(pg, resolve(scope, anomaly_id), apply(detection(series_id, T0 + 30, "continue")))
    assert other != [anomaly_id] and other[0].startswith("anom_")
    assert state(pg, scope, anomaly_id) == (("resolved", None, "key_r", "fixed by key_r", 1, None),
                                            ["resolve"], True)
    with pg.read() as session:
        new = session.get(Anomaly, other[0])
        assert (new.status, new.started_at, new.point_count, new.ended_at) == ("active", T0 + 30, 1, None)


def test_an_ending_detection_during_an_acknowledge_keeps_both(pg, scope, series_id, anomaly_id):
    close = detection(series_id, T0 + 30, "close")
    close.end_ts = T0 + 30
    one, other = race(pg, acknowledge(scope, anomaly_id), apply(close))
    assert state(pg, scope, anomaly_id) == (("acknowledged", "key_a", None, "ack by key_a", 1, T0 + 30),
                                            ["acknowledge"], True)

"""Retention: points before the cutoff go, series by series, in bounded transactions; later points,
the series and their counters stay; expired test posts go; the timer runs a round at start."""
from __future__ import annotations

import threading
from contextlib import contextmanager

import pytest
from sqlalchemy import create_engine, func, select, text, update

from services.catalog.db import Database, migrate
from services.catalog.models import AnomalyCount, PointRow, Series, TestPost
from services.catalog.retention import PURGE_LOCK, RetentionTimer, purge_once, purge_test_posts
from services.catalog.trial_posts import KEEP_SECONDS
from tests.catalog.conftest import T0, Seeder
from tests.conftest import drop_postgres_database, make_postgres_database

DAY = 86400.0


@pytest.fixture
def db(database_url):
    """A database of this test's own: a purge deletes old points of every series in it."""
    database = Database(database_url)
    yield database
    database.dispose()


def test_purge_removes_only_points_before_the_cutoff_in_every_series(db):
    seed = Seeder(db)
    scope = seed.scope()
    kept = {}
    for name in ("cpu", "mem", "disk"):
        sid = seed.series(scope, name)
        old, recent = [(T0 - 40 * DAY + i, 1.0) for i in range(5)], [(T0 - DAY + i, 2.0) for i in range(3)]
        seed.points(sid, old + recent)
        kept[sid] = 3
    quiet = seed.series(scope, "quiet")          # a series without points
    # one series per transaction: the paging over series is exercised too
    removed = purge_once(db, retention_seconds=30 * DAY, now=T0, series_per_transaction=1)
    assert removed == 15
    with db.transaction() as session:
        rows = session.execute(select(Series.id, func.count(PointRow.ts)).outerjoin(
            PointRow, PointRow.series_number == Series.number).group_by(Series.id)).all()
        assert dict(rows) == {**kept, quiet: 0}
        assert session.scalar(select(func.min(PointRow.ts))) == T0 - DAY
    assert purge_once(db, retention_seconds=30 * DAY, now=T0) == 0


def _point_count(db) -> int:
    with db.read() as session:
        return session.scalar(select(func.count()).select_from(PointRow))


class _CountingDatabase(Database):
    """Records how many points each write transaction removed."""

    def __init__(self, url):
        super().__init__(url)
        self.removed_per_transaction = []

    @contextmanager
    def transaction(self):
        before = _point_count(self)
        with super().transaction() as session:
            yield session
        self.removed_per_transaction.append(before - _point_count(self))


def test_a_backlog_is_purged_in_transactions_of_bounded_points(database_url):
    db = _CountingDatabase(database_url)
    try:
        seed = Seeder(db)
        scope = seed.scope()
        sid = seed.series(scope, "cpu")
        seed.points(sid, [(T0 - 40 * DAY + i, 1.0) for i in range(7)] + [(T0, 2.0)])
        other = seed.series(scope, "mem")
        seed.points(other, [(T0 - 40 * DAY + i, 1.0) for i in range(3)])
        db.removed_per_transaction.clear()
        assert purge_once(db, 30 * DAY, T0, points_per_transaction=2) == 10
        assert db.removed_per_transaction and max(db.removed_per_transaction) <= 2
        assert _point_count(db) == 1
    finally:
        db.dispose()


def test_a_purge_keeps_the_series_counters_progress_and_anomalies(db):
    seed = Seeder(db)
    scope = seed.scope()
    sid = seed.series(scope, "cpu")
    seed.points(sid, [(T0 - 40 * DAY + i, 1.0) for i in range(5)])
    with db.transaction() as session:
        session.execute(update(Series).where(Series.id == sid).values(
            first_ts=T0 - 40 * DAY, last_ts=T0 - 40 * DAY + 4, last_value=1.0, point_count=5,
            scored_until=T0 - 40 * DAY + 4))
    seed.anomaly(scope, sid, "cpu", detected_at=T0 - 40 * DAY, ended_at=T0 - 40 * DAY + 4)

    def snapshot():
        with db.read() as session:
            row = session.execute(select(Series.first_ts, Series.last_ts, Series.last_value,
                                         Series.point_count, Series.scored_until)
                                  .where(Series.id == sid)).one()
            counts = session.scalar(select(func.sum(AnomalyCount.n)).where(
                AnomalyCount.account_id == scope.account_id))
            return tuple(row), counts

    before = snapshot()
    assert purge_once(db, 30 * DAY, T0) == 5
    assert snapshot() == before == ((T0 - 40 * DAY, T0 - 40 * DAY + 4, 1.0, 5, T0 - 40 * DAY + 4), 1)


def test_expired_test_posts_are_purged_and_listed_ones_kept(db):
    seed = Seeder(db)
    scope = seed.scope()
    with db.transaction() as session:
        session.add_all([
            TestPost(account_id=scope.account_id, environment="live", metric="old", count=1,
                     last_post_at=T0 - KEEP_SECONDS - 1),
            TestPost(account_id=scope.account_id, environment="live", metric="recent", count=2,
                     last_post_at=T0 - KEEP_SECONDS + 1)])
    assert purge_test_posts(db, T0) == 1
    with db.read() as session:
        assert session.scalars(select(TestPost.metric).where(
            TestPost.account_id == scope.account_id)).all() == ["recent"]


def test_the_timer_runs_a_round_at_start_not_only_after_a_whole_period(db):
    """A catalog restarted more often than the timer's period must still purge."""
    seed = Seeder(db)
    sid = seed.series(seed.scope(), "cpu")
    seed.points(sid, [(T0 - 40 * DAY, 1.0), (T0, 2.0)])
    rounds = threading.Event()

    class Timer(RetentionTimer):
        def run_round(self):
            super().run_round()
            rounds.set()

    timer = Timer(db, 30 * DAY, every_seconds=3600.0, clock=lambda: T0)
    timer.start()
    try:
        assert rounds.wait(timeout=60)
    finally:
        timer.stop()
    with db.read() as session:
        assert session.scalars(select(PointRow.ts).join(Series, Series.number == PointRow.series_number)
                               .where(Series.id == sid)).all() == [T0]


@pytest.mark.postgres
def test_a_purge_leaves_the_work_to_another_replica_purging_at_the_same_time():
    """Replicas started together all purge at once: one deletes, the others stop instead of waiting
    for its rows (or deadlocking with it)."""
    url = make_postgres_database()
    migrate(url)
    db = Database(url)
    other_replica = create_engine(url)
    try:
        seed = Seeder(db)
        sid = seed.series(seed.scope(), "cpu")
        seed.points(sid, [(T0 - 40 * DAY, 1.0), (T0, 2.0)])
        with other_replica.begin() as connection:
            assert connection.execute(text("SELECT pg_try_advisory_xact_lock(:key)"),
                                      {"key": PURGE_LOCK}).scalar()
            assert purge_once(db, 30 * DAY, T0) == 0
        assert purge_once(db, 30 * DAY, T0) == 1
        with db.read() as session:
            assert session.scalars(select(PointRow.ts).join(Series, Series.number == PointRow.series_number)
                                   .where(Series.id == sid)).all() == [T0]
    finally:
        other_replica.dispose()
        db.dispose()
        drop_postgres_database(url)

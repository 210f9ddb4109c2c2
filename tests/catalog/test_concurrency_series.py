"""Concurrent writes of series on PostgreSQL (READ COMMITTED, as production runs it, several catalog
replicas on one database): appends to one series apply in order, first writes of a new series make
one series, and a plan's series quota holds when writers create its last series at the same time."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from services.catalog import accounts, points
from services.catalog.configs import Scope
from services.catalog.db import Database
from services.catalog.models import PointRow, Series

from .conftest import T0, in_transaction, start_until_done_or_blocked

pytestmark = pytest.mark.postgres
STORED, DUPLICATE, REJECTED = points.STORED, points.DUPLICATE, points.REJECTED


@pytest.fixture
def scope(pg) -> Scope:
    with pg.transaction() as session:
        account = accounts.create_account(session, "acme", "free", {"free"}, T0)
    return Scope(account.id, "live")


def write(scope: Scope, metrics: list[str], pts: list[tuple[int, float, float]],
          max_series: int | None = None):
    """A write_points of (series position, time, value) points, as a callable of a session."""
    batch = points.PointsIn([(m, {"host": "a"}) for m in metrics], [j for j, _, _ in pts],
                            [t for _, t, _ in pts], [v for _, _, v in pts])
    return lambda session: points.write_points(session, scope, batch, max_series, T0 + 10_000)


def race(db: Database, first, second):
    """`first` in a transaction held open while `second` starts in another and runs until it is done
    or waits on a lock; then `first` commits. Both results."""
    replica = Database(db.url)  # another catalog replica
    try:
        with db.transaction() as session:
            one = first(session)
            session.flush()  # its changes made, not yet committed
            other = start_until_done_or_blocked(db, in_transaction(replica, second))
        return one, other.join()
    finally:
        replica.dispose()


def series_of(db: Database, scope: Scope) -> list[tuple]:
    with db.read() as session:
        return [tuple(r) for r in session.execute(
            select(Series.name, Series.point_count, Series.first_ts, Series.last_ts, Series.last_value)
            .where(Series.account_id == scope.account_id, Series.environment == scope.environment)
            .order_by(Series.name))]


def points_of(db: Database, scope: Scope, name: str) -> list[tuple[float, float]]:
    with db.read() as session:
        number = select(Series.number).where(Series.account_id == scope.account_id,
                                             Series.name == name).scalar_subquery()
        return [tuple(r) for r in session.execute(select(PointRow.ts, PointRow.value).where(
            PointRow.series_number == number).order_by(PointRow.ts))]


def test_two_writers_appending_to_one_series_apply_in_order(pg, scope):
    with pg.transaction() as session:
        write(scope, ["cpu"], [(0, T0, 1.0)])(session)
    one, other = race(pg, write(scope, ["cpu"], [(0, T0 + 10, 2.0), (0, T0 + 20, 3.0)]),
                      write(scope, ["cpu"], [(0, T0 + 20, 3.0), (0, T0 + 15, 9.0), (0, T0 + 30, 4.0)]))
    assert one.outcomes == [STORED, STORED]
    assert other.outcomes == [DUPLICATE, REJECTED, STORED]
    assert other.series[0].point_count_before == 3 and other.series[0].last_ts_before == T0 + 20
    assert points_of(pg, scope, "cpu") == [(T0, 1.0), (T0 + 10, 2.0), (T0 + 20, 3.0), (T0 + 30, 4.0)]
    assert series_of(pg, scope) == [("cpu", 4, T0, T0 + 30, 4.0)]


@pytest.mark.parametrize("max_series", [None, 1], ids=["unlimited", "quota-of-one"])
def test_two_first_writes_of_one_new_series_make_one_series(pg, scope, max_series):
    one, other = race(pg, write(scope, ["cpu"], [(0, T0, 1.0)], max_series),
                      write(scope, ["cpu"], [(0, T0, 1.0), (0, T0 + 10, 2.0)], max_series))
    assert one.outcomes == [STORED]
    assert other.outcomes == [DUPLICATE, STORED]
    assert one.series[0].created and not other.series[0].created
    assert one.series[0].series_id == other.series[0].series_id
    assert series_of(pg, scope) == [("cpu", 2, T0, T0 + 10, 2.0)]


def test_two_writers_creating_the_last_allowed_series_at_once_keep_the_quota(pg, scope):
    with pg.transaction() as session:
        write(scope, ["old"], [(0, T0, 1.0)], 2)(session)
    one, other = race(pg, write(scope, ["a"], [(0, T0, 1.0)], 2), write(scope, ["b"], [(0, T0, 1.0)], 2))
    assert one.outcomes == [STORED]
    assert other.outcomes == [REJECTED]
    assert other.rejections == {0: ("over quota - this plan allows 2 series", points.OVER_QUOTA)}
    assert [name for name, *_ in series_of(pg, scope)] == ["a", "old"]


def test_a_writer_at_the_quota_still_writes_the_series_another_just_created(pg, scope):
    """A known series is always accepted: the one a concurrent writer created counts as known."""
    with pg.transaction() as session:
        write(scope, ["old"], [(0, T0, 1.0)], 2)(session)
    one, other = race(pg, write(scope, ["a"], [(0, T0, 1.0)], 2),
                      write(scope, ["a", "b"], [(0, T0 + 10, 2.0), (1, T0, 1.0)], 2))
    assert one.outcomes == [STORED]
    assert other.outcomes == [STORED, REJECTED]
    with pg.read() as session:
        assert session.scalar(select(func.count()).select_from(Series).where(
            Series.account_id == scope.account_id)) == 2
    assert series_of(pg, scope)[0] == ("a", 2, T0, T0 + 10, 2.0)

"""Retention: points before the cutoff go, series by series; later points and the series stay."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from services.catalog.db import Database
from services.catalog.models import PointRow, Series
from services.catalog.retention import purge_once
from tests.catalog.conftest import T0, Seeder

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

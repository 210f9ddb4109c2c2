"""Rows that several catalog replicas create or change at once on PostgreSQL (READ COMMITTED): a test
post's name, a series' detector checkpoint, an API key's revocation, an anomaly configuration. The
first writer of a row and a writer that read it before another's change committed must neither fail
(a duplicate key was a 500) nor undo the other's change."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from services.catalog import accounts, configs, trial_posts
from services.catalog.configs import Scope
from services.catalog.db import Database
from services.catalog.models import TestPost

from .conftest import T0, in_transaction, start_until_done_or_blocked

pytestmark = pytest.mark.postgres


@pytest.fixture
def scope(pg) -> Scope:
    with pg.transaction() as session:
        account = accounts.create_account(session, "acme", "pro", {"pro"}, T0)
    return Scope(account.id, "live")


def race(db: Database, first, second):
    """`first` in a transaction held open while `second` starts in another replica's and runs until
    it is done or waits on a lock; then `first` commits. Both results."""
    replica = Database(db.url)
    try:
        with db.transaction() as session:
            one = first(session)
            session.flush()  # its changes made, not yet committed
            other = start_until_done_or_blocked(db, in_transaction(replica, second))
        return one, other.join()
    finally:
        replica.dispose()


def posts(db, scope) -> list[tuple[str, int]]:
    with db.read() as session:
        return [(p.metric, p.count) for p in trial_posts.recent(session, scope, T0 + 60, 0, 100)[0]]


def record(scope, *metrics, at=T0):
    return lambda session: trial_posts.record(session, scope, list(metrics), at)


def test_two_first_test_posts_of_one_name_at_once_count_both(pg, scope):
    race(pg, record(scope, "cpu", "mem"), record(scope, "mem", "cpu", "mem", at=T0 + 1))
    assert sorted(posts(pg, scope)) == [("cpu", 2), ("mem", 3)]


def test_two_test_posts_of_a_listed_name_at_once_count_both(pg, scope):
    with pg.transaction() as session:
        record(scope, "cpu")(session)
    race(pg, record(scope, "cpu", at=T0 + 1), record(scope, "cpu", "cpu", at=T0 + 2))
    assert posts(pg, scope) == [("cpu", 4)]
    with pg.read() as session:
        assert session.scalar(select(TestPost.last_post_at).where(TestPost.account_id == scope.account_id)) \
            == T0 + 2


def test_two_first_configurations_of_a_name_at_once_keep_both_fields(pg, scope):
    def put(**fields):
        return lambda session: configs.upsert(session, scope, "name", "cpu", fields, T0)

    race(pg, put(sensitivity="high"), put(spike_threshold=5.0))
    with pg.read() as session:
        row = configs.load_rows(session, scope, [("name", "cpu")])[("name", "cpu")]
        assert configs.overrides_of(row) == {"sensitivity": "high", "spike_threshold": 5.0}

"""Rows that several catalog replicas create or change at once on PostgreSQL (READ COMMITTED): a test
post's name, a series' detector checkpoint, an API key's revocation, an anomaly configuration. The
first writer of a row and a writer that read it before another's change committed must neither fail
(a duplicate key was a 500) nor undo the other's change."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from services.catalog import accounts, configs, detector_state, trial_posts
from services.catalog.configs import Scope
from services.catalog.db import Database
from services.catalog.models import ApiKey, Checkpoint, Series, TestPost
from services.catalog.series import next_numbers
from services.common.ids import new_id

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


@pytest.fixture
def series_id(pg, scope) -> str:
    series_id = new_id("met")
    with pg.transaction() as session:
        session.add(Series(id=series_id, number=next_numbers(session, 1)[0], account_id=scope.account_id,
                           environment="live", name="cpu", series_key=series_id, created_at=T0))
    return series_id


def save(series_id, state: bytes, state_ts: float):
    return lambda session: detector_state.save_checkpoints(session, [(series_id, state, state_ts)], T0 + 99)


def stored_checkpoint(db, series_id) -> tuple[bytes, float]:
    with db.read() as session:
        row = session.get(Checkpoint, series_id)
        return bytes(row.state), row.state_ts


def test_two_first_checkpoints_of_a_series_at_once_keep_the_newer(pg, series_id):
    race(pg, save(series_id, b"older", T0 + 10), save(series_id, b"newer", T0 + 20))
    assert stored_checkpoint(pg, series_id) == (b"newer", T0 + 20)


def test_an_older_checkpoint_saved_during_a_newer_one_does_not_replace_it(pg, series_id):
    with pg.transaction() as session:
        save(series_id, b"first", T0)(session)
    race(pg, save(series_id, b"newer", T0 + 20), save(series_id, b"older", T0 + 10))
    assert stored_checkpoint(pg, series_id) == (b"newer", T0 + 20)


def test_a_newer_checkpoint_saved_during_an_older_one_replaces_it(pg, series_id):
    with pg.transaction() as session:
        save(series_id, b"first", T0)(session)
    race(pg, save(series_id, b"older", T0 + 10), save(series_id, b"newer", T0 + 20))
    assert stored_checkpoint(pg, series_id) == (b"newer", T0 + 20)


def test_a_key_revoked_twice_at_once_keeps_the_first_revocation(pg, scope):
    with pg.transaction() as session:
        key, _secret = accounts.create_key(session, scope.account_id, "ci", ["read"], "live", None, T0,
                                           ("live", "test"))

    def revoke(at):
        return lambda session: accounts.revoke_key(session, key.id, scope.account_id, ("live",),
                                                   at).revoked_at

    one, other = race(pg, revoke(T0 + 10), revoke(T0 + 20))
    assert one == other == T0 + 10
    with pg.read() as session:
        assert session.get(ApiKey, key.id).revoked_at == T0 + 10


def test_two_first_configurations_of_a_name_at_once_keep_both_fields(pg, scope):
    def put(**fields):
        return lambda session: configs.upsert(session, scope, "name", "cpu", fields, T0)

    race(pg, put(sensitivity="high"), put(spike_threshold=5.0))
    with pg.read() as session:
        row = configs.load_rows(session, scope, [("name", "cpu")])[("name", "cpu")]
        assert configs.overrides_of(row) == {"sensitivity": "high", "spike_threshold": 5.0}

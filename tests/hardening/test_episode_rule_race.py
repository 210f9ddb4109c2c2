"""A point evaluated while its threshold rule is deleted or disabled (PostgreSQL, READ COMMITTED):
whichever transaction commits first, no threshold episode of the rule is left open, since nothing
would ever evaluate (and so end) it again."""
from __future__ import annotations

import threading

import pytest
from sqlalchemy import select, text

from services.catalog import accounts, points, rules
from services.catalog.configs import Scope
from services.catalog.db import Database, migrate
from services.catalog.models import Anomaly
from tests.conftest import drop_postgres_database, make_postgres_database

pytestmark = pytest.mark.postgres
T0 = 1_800_000_000.0


@pytest.fixture(scope="module")
def db():
    url = make_postgres_database()
    try:
        migrate(url)
        database = Database(url)
        yield database
        database.dispose()
    finally:
        drop_postgres_database(url)


@pytest.fixture
def scope(db) -> Scope:
    with db.transaction() as session:
        account = accounts.create_account(session, "acme", "pro", {"pro"}, T0)
    return Scope(account.id, "live")


def make_rule(db, scope) -> str:
    spec = rules.RuleSpec(name="hot", description="", metric="cpu", operator="greater_than", threshold=90.0,
                          severity="critical", scope_tags={}, enabled=True)
    with db.transaction() as session:
        return rules.create(session, scope, spec, T0).id


def write_hot_point(session, scope, ts: float) -> None:
    batch = points.PointsIn([("cpu", {"host": "a"})], [0], [ts], [99.0])
    points.write_points(session, scope, batch, None, T0)


def open_episodes_of(db, rule_id: str) -> list[str]:
    with db.read() as session:
        return list(session.scalars(select(Anomaly.id).where(Anomaly.rule_id == rule_id,
                                                             Anomaly.ended_at.is_(None))))


class Concurrent(threading.Thread):
    """`work` in its own thread; join() re-raises what it raised."""

    def __init__(self, work):
        super().__init__()
        self.work, self.error = work, None

    def run(self) -> None:
        try:
            self.work()
        except BaseException as error:  # noqa: BLE001 - handed to the test by join()
            self.error = error

    def join(self, timeout=None) -> None:
        super().join(timeout)
        if not self.is_alive() and self.error is not None:
            raise self.error


def start_until_done_or_blocked(db, work) -> Concurrent:
    """Starts `work` and returns once it has finished or waits on a row lock."""
    thread = Concurrent(work)
    thread.start()
    with db.engine.connect() as connection:
        while thread.is_alive() and not connection.execute(text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock'")).scalar():
            thread.join(0.01)
    return thread


def delete(session, scope, rule_id) -> None:
    rules.delete(session, scope, rule_id, T0 + 50)


def disable(session, scope, rule_id) -> None:
    rules.update_rule(session, scope, rule_id, rules.RulePatch(enabled=False), T0 + 50)


def in_transaction(db, work):
    def run() -> None:
        with db.transaction() as session:
            work(session)
    return run


def prepare(db, scope, already_open: bool) -> str:
    rule_id = make_rule(db, scope)
    if already_open:
        with db.transaction() as session:
            write_hot_point(session, scope, T0)
    return rule_id


@pytest.mark.parametrize("change", [delete, disable])
@pytest.mark.parametrize("already_open", [False, True], ids=["opens", "extends"])
def test_a_rule_change_during_a_write_that_hits_it_leaves_no_open_episode(db, scope, change, already_open):
    rule_id = prepare(db, scope, already_open)
    with db.transaction() as session:
        write_hot_point(session, scope, T0 + 10)  # evaluated, not yet committed
        changer = start_until_done_or_blocked(db, in_transaction(db, lambda s: change(s, scope, rule_id)))
    changer.join()
    assert open_episodes_of(db, rule_id) == []


@pytest.mark.parametrize("change", [delete, disable])
@pytest.mark.parametrize("already_open", [False, True], ids=["opens", "extends"])
def test_a_write_during_a_rule_change_leaves_no_open_episode(db, scope, change, already_open):
    rule_id = prepare(db, scope, already_open)
    with db.transaction() as session:
        change(session, scope, rule_id)  # made, not yet committed
        writer = start_until_done_or_blocked(
            db, in_transaction(db, lambda s: write_hot_point(s, scope, T0 + 10)))
    writer.join()
    assert open_episodes_of(db, rule_id) == []

"""Catalog fixtures: a migrated database on SQLite (one per test) and PostgreSQL (one per test
session, each test in its own fresh accounts), and a seeder that writes rows with the ORM models."""
from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence

import pytest
from sqlalchemy import select, text

from services.catalog.configs import Scope
from services.catalog.db import Database, migrate
from services.catalog.models import Account, Anomaly, AnomalyConfigRow, PointRow, Series, SeriesTag
from services.catalog.series import next_numbers
from services.common.auth import Principal, generate_key
from services.common.errors import ServiceError
from services.common.ids import new_id
from tests.conftest import drop_postgres_database, make_postgres_database

T0 = 1_800_000_000.0


@pytest.fixture(scope="session")
def postgres_url():
    """A fresh, uniquely named PostgreSQL database for this test session, migrated; dropped at the end."""
    url = make_postgres_database()
    try:
        migrate(url)
        yield url
    finally:
        drop_postgres_database(url)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/t.db"
        migrate(url)
    else:
        url = request.getfixturevalue("postgres_url")
    database = Database(url)
    yield database
    database.dispose()


class Seeder:
    """Writes accounts, series, points, configs and anomalies directly, as the write path would."""

    def __init__(self, db: Database):
        self.db = db

    def account(self, name: str = "acme") -> str:
        account_id = new_id("acct")
        with self.db.transaction() as session:
            session.add(Account(id=account_id, name=name, plan="pro", created_at=T0))
        return account_id

    def scope(self, environment: str = "live", account_id: str | None = None) -> Scope:
        return Scope(account_id or self.account(), environment)

    def series(self, scope: Scope, name: str = "api.requests", tags: Mapping[str, str] | None = None,
               step: float = 60.0) -> str:
        tags = dict(tags or {})
        series_id = new_id("met")
        with self.db.transaction() as session:
            session.add(Series(id=series_id, number=next_numbers(session, 1)[0],
                               account_id=scope.account_id, environment=scope.environment,
                               name=name, series_key=uuid.uuid4().hex, created_at=T0, step_seconds=step,
                               tags_json=json.dumps(tags, sort_keys=True)))
            session.flush()
            session.add_all([SeriesTag(series_id=series_id, key=k, value=v) for k, v in tags.items()])
        return series_id

    def points(self, series_id: str, points: Sequence[tuple[float, float]]) -> None:
        with self.db.transaction() as session:
            number = session.scalar(select(Series.number).where(Series.id == series_id))
            session.add_all([PointRow(series_number=number, ts=ts, value=v) for ts, v in points])

    def config(self, scope: Scope, metric: str, **fields) -> None:
        with self.db.transaction() as session:
            session.add(AnomalyConfigRow(account_id=scope.account_id, environment=scope.environment,
                                         target_kind="name", target=metric, updated_at=T0, **fields))

    def anomaly(self, scope: Scope, series_id: str, metric: str = "api.requests", **fields) -> str:
        detected = fields.pop("detected_at", T0)
        values = dict(type="spike", severity="warning", status="active", score=0.9, current_value=150.0,
                      peak_value=180.0, baseline_value=100.0, expected_lower=80.0, expected_upper=120.0,
                      deviation_percent=50.0, description=f"{metric} rose to 150, 50% above its expected 100",
                      source="stat", started_at=detected, last_seen_at=detected, point_count=1)
        values.update(fields)
        anomaly_id = new_id("anom")
        with self.db.transaction() as session:
            session.add(Anomaly(id=anomaly_id, account_id=scope.account_id, environment=scope.environment,
                                series_id=series_id, metric=metric, detected_at=detected, **values))
        return anomaly_id


@pytest.fixture
def seed(db) -> Seeder:
    return Seeder(db)


class Keys:
    """API keys for the test, looked up from a dict instead of the database."""

    def __init__(self):
        self.principals: dict[str, Principal] = {}

    def make(self, scope, scopes=("read", "write")) -> str:
        key = generate_key(scope.environment)
        self.principals[key] = Principal(key_id=f"key_{len(self.principals):016d}",
                                         account_id=scope.account_id, environment=scope.environment,
                                         scopes=frozenset(scopes), plan="pro")
        return key

    def lookup(self, key: str) -> Principal:
        if key not in self.principals:
            raise ServiceError("UNAUTHORIZED", "unknown API key")
        return self.principals[key]


class KeyContext:
    """What a servicer reads of a gRPC call's context: the caller's key in its metadata."""

    def __init__(self, key: str):
        self.metadata = (("authorization", f"Bearer {key}"),)

    def invocation_metadata(self):
        return self.metadata


@pytest.fixture
def keys() -> Keys:
    return Keys()


# Concurrency on PostgreSQL (tests/catalog/test_concurrency_*.py): real transactions, each in its own
# thread with its own connection, made to overlap at a chosen point.
RACE_TIMEOUT = 30.0  # seconds any one side of a race may take; a test never waits longer


@pytest.fixture
def pg(postgres_url) -> Database:
    """A Database on the session's PostgreSQL database (skipped with a reason when no server answers)."""
    database = Database(postgres_url)
    yield database
    database.dispose()


class Concurrent(threading.Thread):
    """`work` in its own thread; join() waits at most RACE_TIMEOUT and re-raises what it raised."""

    def __init__(self, work: Callable[[], object]):
        super().__init__(daemon=True)
        self.work, self.error, self.result = work, None, None

    def run(self) -> None:
        try:
            self.result = self.work()
        except BaseException as error:  # noqa: BLE001 - handed to the test by join()
            self.error = error

    def join(self, timeout: float | None = RACE_TIMEOUT):
        super().join(timeout)
        if self.is_alive():
            raise AssertionError(f"still running after {timeout} s (deadlocked or waiting for good?)")
        if self.error is not None:
            raise self.error
        return self.result


def waiting_on_locks(db: Database) -> int:
    """How many backends of the database wait on a lock (a row, a transaction, an advisory lock)."""
    with db.engine.connect() as connection:
        return connection.execute(text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock'")).scalar()


def start_until_done_or_blocked(db: Database, work: Callable[[], object]) -> Concurrent:
    """Starts `work` in a thread and returns once it has finished or waits on a lock."""
    thread = Concurrent(work)
    thread.start()
    deadline = time.monotonic() + RACE_TIMEOUT
    while thread.is_alive() and not waiting_on_locks(db):
        if time.monotonic() > deadline:
            raise AssertionError(f"neither finished nor waiting on a lock after {RACE_TIMEOUT} s")
        threading.Event().wait(0.01)
    return thread


def in_transaction(db: Database, work: Callable) -> Callable[[], object]:
    """`work(session)` in a transaction of its own, committed when it returns."""
    def run():
        with db.transaction() as session:
            return work(session)
    return run

"""Calls the database aborted to break a deadlock run again; what cannot be retried is not; a
database that cannot be reached, or stays locked, answers UNAVAILABLE without a second run."""
from __future__ import annotations

import threading

import psycopg.errors
import pytest
from sqlalchemy import create_engine, select, text, update
from sqlalchemy.exc import IntegrityError, OperationalError

from services.catalog.db import Database, migrate
from services.catalog.models import Series
from services.catalog.transient import ATTEMPTS, run_retrying
from services.common.errors import ServiceError
from tests.catalog.conftest import Seeder
from tests.conftest import drop_postgres_database, make_postgres_database


def _deadlock() -> OperationalError:
    return OperationalError("UPDATE ...", {}, psycopg.errors.DeadlockDetected("deadlock detected"))


def test_a_deadlocked_call_runs_again_and_answers():
    calls = []

    def behaviour(request, context):
        calls.append(request)
        if len(calls) == 1:
            raise _deadlock()
        return "answer"

    assert run_retrying(behaviour, "req", None, "M", sleep=lambda s: None) == "answer"
    assert calls == ["req", "req"]


def test_a_call_that_keeps_deadlocking_is_unavailable_not_internal():
    calls = []

    def behaviour(request, context):
        calls.append(1)
        raise _deadlock()

    with pytest.raises(ServiceError) as raised:
        run_retrying(behaviour, "req", None, "M", sleep=lambda s: None)
    assert raised.value.code == "UNAVAILABLE" and len(calls) == ATTEMPTS


def test_other_database_errors_are_not_retried():
    calls = []

    def behaviour(request, context):
        calls.append(1)
        raise IntegrityError("INSERT ...", {}, psycopg.errors.UniqueViolation("duplicate key"))

    with pytest.raises(IntegrityError):
        run_retrying(behaviour, "req", None, "M", sleep=lambda s: None)
    assert calls == [1]


@pytest.mark.postgres
def test_two_writers_that_deadlock_on_postgresql_both_land_once():
    """Two transactions lock two series in opposite orders: PostgreSQL aborts one; run again, it
    lands, and each series counts both writers' increments exactly once."""
    url = make_postgres_database()
    try:
        migrate(url)
        db = Database(url)
        seed = Seeder(db)
        scope = seed.scope()
        a, b = seed.series(scope, "a"), seed.series(scope, "b")
        both_hold_one = threading.Barrier(2, timeout=20)
        errors = []

        def writer(first: str, second: str):
            attempts = []

            def behaviour(request, context):
                attempts.append(1)
                with db.transaction() as session:
                    session.execute(update(Series).where(Series.id == first)
                                    .values(point_count=Series.point_count + 1))
                    if len(attempts) == 1:
                        both_hold_one.wait()     # each holds one row the other wants next
                    session.execute(update(Series).where(Series.id == second)
                                    .values(point_count=Series.point_count + 1))

            try:
                run_retrying(behaviour, None, None, "Write")
            except Exception as error:  # noqa: BLE001 - reported below
                errors.append(error)

        threads = [threading.Thread(target=writer, args=(a, b)), threading.Thread(target=writer, args=(b, a))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert errors == []
        with db.read() as session:
            counts = dict(session.execute(select(Series.id, Series.point_count)
                                          .where(Series.id.in_([a, b]))).all())
        assert counts == {a: 2, b: 2}
        db.dispose()
    finally:
        drop_postgres_database(url)


def _run_once_unavailable(behaviour) -> None:
    calls = []

    def counted(request, context):
        calls.append(1)
        return behaviour()

    with pytest.raises(ServiceError) as raised:
        run_retrying(counted, "req", None, "M", sleep=lambda s: None)
    assert raised.value.code == "UNAVAILABLE" and calls == [1]


def test_a_sqlite_file_still_locked_after_the_busy_timeout_is_unavailable(tmp_path):
    url = f"sqlite:///{tmp_path}/catalog.db"
    migrate(url)
    holder = create_engine(url)
    impatient = create_engine(url, connect_args={"timeout": 0})  # the busy timeout, already over
    try:
        with holder.connect() as held:
            held.exec_driver_sql("BEGIN IMMEDIATE")

            def write():
                with impatient.connect() as connection:
                    connection.exec_driver_sql("BEGIN IMMEDIATE")

            _run_once_unavailable(write)
            held.exec_driver_sql("ROLLBACK")
    finally:
        holder.dispose()
        impatient.dispose()


def test_a_postgresql_server_that_does_not_answer_is_unavailable():
    db = Database("postgresql+psycopg://postgres@127.0.0.1:1/none?connect_timeout=5")  # nothing on port 1
    try:
        def read():
            with db.read() as session:
                session.execute(text("SELECT 1"))

        _run_once_unavailable(read)
    finally:
        db.dispose()


@pytest.mark.postgres
def test_a_connection_lost_mid_transaction_is_unavailable_and_not_run_again():
    """Whether a transaction whose connection died landed is unknown: the call is not run again
    (only the client may retry), and the next call gets a working connection."""
    url = make_postgres_database()
    admin = create_engine(url)
    try:
        migrate(url)
        db = Database(url)
        seed = Seeder(db)
        series = seed.series(seed.scope(), "a")

        def write():
            with db.transaction() as session:
                session.execute(update(Series).where(Series.id == series)
                                .values(point_count=Series.point_count + 1))
                pid = session.execute(text("SELECT pg_backend_pid()")).scalar()
                with admin.begin() as connection:
                    connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
                session.execute(text("SELECT 1"))

        _run_once_unavailable(write)
        with db.read() as session:
            assert session.scalar(select(Series.point_count).where(Series.id == series)) == 0
        db.dispose()
    finally:
        admin.dispose()
        drop_postgres_database(url)

"""Migration 0006 (points keyed by series number) keeps every stored point, both ways."""
from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import create_engine, text
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.exc import DBAPIError

from services.catalog.db import alembic_config, migrate

SERIES = [("met_a", "acct_1", "cpu"), ("met_b", "acct_1", "mem"), ("met_c", "acct_1", "disk")]
POINTS = [("met_a", 1.0, 10.0), ("met_a", 2.0, 11.5), ("met_b", 1.0, -3.0), ("met_c", 7.5, 1e300)]


def _write_as_previous_release(connection, points=POINTS) -> None:
    """The previous release's writes: an account, series without a number, points by series id."""
    connection.execute(text("INSERT INTO accounts (id, name, plan, created_at) "
                            "VALUES ('acct_1', 'a', 'pro', 0)"))
    connection.execute(text(
        "INSERT INTO series (id, account_id, environment, name, series_key, tags_json, created_at, "
        "point_count, step_seconds) VALUES (:id, :a, 'live', :n, :id, '{}', 0, 0, 0)"),
        [{"id": i, "a": a, "n": n} for i, a, n in SERIES])
    _append_as_previous_release(connection, points)


def _append_as_previous_release(connection, points) -> None:
    if points:
        connection.execute(text("INSERT INTO points (series_id, ts, value) VALUES (:s, :t, :v)"),
                           [{"s": s, "t": t, "v": v} for s, t, v in points])


def _points_by_id(connection, table: str, joined_on: str) -> set[tuple[str, float, float]]:
    return {tuple(row) for row in connection.execute(text(
        f"SELECT s.id, p.ts, p.value FROM {table} p JOIN series s ON {joined_on}"))}


def _stored(connection) -> set[tuple[str, float, float]]:
    return _points_by_id(connection, "series_points", "s.number = p.series_number")


def _old_schema(connection) -> set[tuple[str, float, float]]:
    return _points_by_id(connection, "points", "s.id = p.series_id")


def test_points_survive_the_migration_up_and_down(blank_url):
    migrate(blank_url, "0005")
    engine = create_engine(blank_url)
    try:
        with engine.begin() as connection:
            _write_as_previous_release(connection)

        migrate(blank_url)
        with engine.connect() as connection:
            assert _stored(connection) == set(POINTS)
            numbers = [n for (n,) in connection.execute(text("SELECT number FROM series"))]
            assert len(set(numbers)) == len(SERIES) and None not in numbers

        engine.dispose()    # PostgreSQL: no open connection may hold the tables the downgrade drops
        command.downgrade(alembic_config(blank_url), "0005")
        with engine.connect() as connection:
            assert _old_schema(connection) == set(POINTS)
    finally:
        engine.dispose()


def test_new_series_get_numbers_after_the_migrated_ones(blank_url):
    from services.catalog.db import Database
    from services.catalog.series import next_numbers

    migrate(blank_url, "0005")
    engine = create_engine(blank_url)
    with engine.begin() as connection:
        _write_as_previous_release(connection, points=[])
    engine.dispose()
    migrate(blank_url)
    db = Database(blank_url)
    try:
        with db.transaction() as session:
            taken = set(session.scalars(text("SELECT number FROM series")))
            fresh = next_numbers(session, 5)
        assert len(set(fresh)) == 5 and not taken & set(fresh)
    finally:
        db.dispose()


def test_a_migration_that_fails_midway_changes_nothing_and_can_run_again(blank_url):
    """A crash (here: an error) between the steps of 0006 leaves the schema and the points as
    they were, at 0005, and the migration runs on it afterwards."""
    migrate(blank_url, "0005")
    engine = create_engine(blank_url)
    try:
        with engine.begin() as connection:
            _write_as_previous_release(connection)
            # 0006 creates this table after adding and filling series.number: it fails there
            connection.execute(text("CREATE TABLE series_points (x INTEGER)"))
        engine.dispose()
        with pytest.raises(Exception, match="series_points"):
            migrate(blank_url)
        with engine.connect() as connection:
            assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0005"
            assert _old_schema(connection) == set(POINTS)
            columns = [c["name"] for c in sa_inspect(connection).get_columns("series")]
            assert "number" not in columns
        with engine.begin() as connection:
            connection.execute(text("DROP TABLE series_points"))
        engine.dispose()
        migrate(blank_url)
        with engine.connect() as connection:
            assert _stored(connection) == set(POINTS)
    finally:
        engine.dispose()


def test_the_previous_release_still_reads_appends_and_deletes_points(blank_url):
    """During a rolling upgrade catalog pods of the previous release keep serving on the migrated
    schema: their SQL on `points (series_id, ts, value)` and their series without a number work."""
    migrate(blank_url)
    engine = create_engine(blank_url)
    try:
        with engine.begin() as connection:
            _write_as_previous_release(connection, points=POINTS[:2])   # series without a number
            if connection.dialect.name == "postgresql":  # the previous release appends with COPY there
                with connection.connection.driver_connection.cursor() as cursor, \
                        cursor.copy("COPY points (series_id, ts, value) FROM STDIN") as copy:
                    for row in POINTS[2:]:
                        copy.write_row(row)
            else:
                _append_as_previous_release(connection, POINTS[2:])
        with engine.connect() as connection:
            numbers = [n for (n,) in connection.execute(text("SELECT number FROM series"))]
            assert None not in numbers and len(set(numbers)) == len(SERIES)
            assert _stored(connection) == set(POINTS)
            assert connection.execute(text(
                "SELECT ts, value FROM points WHERE series_id = 'met_a' AND ts >= 1 ORDER BY ts")).all() == [
                (1.0, 10.0), (2.0, 11.5)]
        with engine.begin() as connection:
            connection.execute(text("DELETE FROM points WHERE ts <= 1.5"))
        with engine.connect() as connection:
            assert _stored(connection) == {p for p in POINTS if p[1] > 1.5}
        with pytest.raises(DBAPIError), engine.begin() as connection:   # a point of no series
            connection.execute(text("INSERT INTO points (series_id, ts, value) VALUES ('met_none', 1, 1)"))
    finally:
        engine.dispose()

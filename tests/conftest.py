"""Fixtures shared by every tier: databases (SQLite always, PostgreSQL when one answers)."""
from __future__ import annotations

import os

import pytest
from sqlalchemy import create_engine

from bench.scratch_db import DEFAULT_ADMIN_URL, create_database, drop_database

POSTGRES_ADMIN_URL = os.environ.get("AW_TEST_POSTGRES_URL", DEFAULT_ADMIN_URL)


def _postgres_unreachable() -> str | None:
    try:
        engine = create_engine(POSTGRES_ADMIN_URL, connect_args={"connect_timeout": 3})
        with engine.connect():
            pass
        engine.dispose()
        return None
    except Exception as error:  # noqa: BLE001 - any failure means: skip with the reason
        return f"PostgreSQL not reachable at {POSTGRES_ADMIN_URL}: {type(error).__name__}: {str(error)[:120]}"


def make_postgres_database() -> str:
    """A fresh, uniquely named database; returns its URL. Skips the test when no server answers."""
    reason = _postgres_unreachable()
    if reason:
        if os.environ.get("AW_REQUIRE_POSTGRES") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    return create_database(POSTGRES_ADMIN_URL, "aw_test")


def drop_postgres_database(url: str) -> None:
    drop_database(POSTGRES_ADMIN_URL, url)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def blank_url(request, tmp_path):
    """An empty database without any schema: SQLite in a temp dir, and PostgreSQL (skipped with a
    reason when no server answers)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/catalog.db"
        return
    url = make_postgres_database()
    try:
        yield url
    finally:
        drop_postgres_database(url)


@pytest.fixture
def database_url(blank_url):
    """A migrated, empty database (each of blank_url's)."""
    from services.catalog.db import migrate

    migrate(blank_url)
    return blank_url

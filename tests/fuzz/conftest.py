"""A running system for the fuzz tests, on PostgreSQL when one answers (what production runs, and
stricter about text than SQLite), otherwise on SQLite; and a key with every scope."""

from __future__ import annotations

import pytest

from tests.conftest import _postgres_unreachable, drop_postgres_database, make_postgres_database


@pytest.fixture(scope="session")
def system(tmp_path_factory):
    from tests.e2e.harness import start_system

    tmp = tmp_path_factory.mktemp("fuzz-system")
    postgres = None if _postgres_unreachable() else make_postgres_database()
    url = postgres or f"sqlite:///{tmp}/aw.db"
    running = start_system(tmp, url)
    yield running
    running.local.stop()
    if postgres:
        drop_postgres_database(postgres)


@pytest.fixture(scope="session")
def admin_key(system) -> str:
    return system.new_key()[1]

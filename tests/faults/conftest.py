"""Fault tests start their own system on a fresh PostgreSQL database (the production store)."""
from __future__ import annotations

import pytest

from tests.conftest import drop_postgres_database, make_postgres_database
from tests.e2e.harness import start_system


@pytest.fixture
def postgres_url():
    url = make_postgres_database()
    yield url
    drop_postgres_database(url)


@pytest.fixture
def fault_system(tmp_path, postgres_url):
    """A running system (checkpoints every second) with an admin key: (system, key)."""
    system = start_system(tmp_path, postgres_url, AW_CHECKPOINT_INTERVAL="1")
    try:
        yield system, system.new_key()[1]
    finally:
        system.local.stop()

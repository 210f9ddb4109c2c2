"""Fixtures: one running system per test session, an admin key, a keyed HTTP session."""
from __future__ import annotations

import pytest
import requests

from tests.e2e.harness import start_system


@pytest.fixture(scope="session")
def system(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("system")
    running = start_system(tmp, f"sqlite:///{tmp}/aw.db")
    yield running
    running.local.stop()


@pytest.fixture(scope="session")
def admin(system) -> tuple[str, str]:
    """(account id, admin key with every scope) of a fresh enterprise account."""
    return system.new_key()


@pytest.fixture
def api(system, admin) -> requests.Session:
    return system.session(admin[1])

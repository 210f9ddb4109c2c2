"""The SDK under test is imported from sdk/python/src (no install step needed; an installed
`anomalywatch_sdk` from `pip install ./sdk/python` is used only when the source is absent), and a
running system of real processes for the end-to-end SDK tests."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

SDK_SRC = Path(__file__).resolve().parents[2] / "sdk" / "python" / "src"
if SDK_SRC.is_dir() and str(SDK_SRC) not in sys.path:
    sys.path.insert(0, str(SDK_SRC))


@pytest.fixture(scope="session")
def system(tmp_path_factory):
    from tests.e2e.harness import start_system

    tmp = tmp_path_factory.mktemp("sdk-system")
    running = start_system(tmp, f"sqlite:///{tmp}/aw.db")
    yield running
    running.local.stop()


@pytest.fixture(scope="session")
def admin(system) -> tuple[str, str]:
    """(account id, admin key with every scope) of a fresh enterprise account."""
    return system.new_key()


@pytest.fixture
def client(system, admin):
    from anomalywatch_sdk import Client

    with Client(admin[1], base_url=system.base_url, timeout=30) as c:
        yield c

"""A running system for the contract tests, keys of several scopes, and the recording checker."""

from __future__ import annotations

import json

import pytest

from tests.openapi.contract import Contract


@pytest.fixture(scope="session")
def system(tmp_path_factory):
    from tests.e2e.harness import start_system

    tmp = tmp_path_factory.mktemp("openapi-system")
    # Keyless requests get a generous budget here: the tests send many of them on purpose.
    plans = json.dumps({"anonymous": {"per_minute": 100_000, "burst_per_second": 10_000, "max_series": 0}})
    running = start_system(tmp, f"sqlite:///{tmp}/aw.db", AW_PLANS=plans)
    yield running
    running.local.stop()


@pytest.fixture(scope="session")
def keys(system) -> dict[str, str]:
    """An admin key with every scope, and keys of one account holding one scope each."""
    account, admin = system.new_key()
    out = {"admin": admin, "account": account}
    for scope in ("ingest", "read"):
        out[scope] = system.new_key(scopes=scope, account=account)[1]
    return out


@pytest.fixture(scope="session")
def contract() -> Contract:
    return Contract()

"""A running system for the hardening tests, and the check that nothing internal leaks."""
from __future__ import annotations

import re

import pytest
import requests

# What must never reach a client: stack traces, SQL and driver names, gRPC internals, addresses.
LEAKS = [re.compile(p, re.IGNORECASE) for p in (
    r"Traceback \(most recent call last\)", r'File "', r"sqlalchemy", r"psycopg", r"sqlite3", r"\bSELECT\s",
    r"\bINSERT INTO\b", r"\bUPDATE \w+ SET\b", r"_InactiveRpcError", r"debug_error_string", r"StatusCode\.",
    r"ipv[46]:", r"\b\d{1,3}(\.\d{1,3}){3}:\d{2,5}\b", r"localhost:\d+", r"\.py\b", r"Exception:",
)]


def assert_clean(response: requests.Response, system=None) -> None:
    """No 5xx other than 503 UNAVAILABLE in the envelope, and nothing internal in the answer."""
    text = response.text + " ".join(f"{k}: {v}" for k, v in response.headers.items())
    for pattern in LEAKS:
        assert not pattern.search(text), (pattern.pattern, response.status_code, text[:2000])
    if system is not None:
        for name, value in system.env.items():
            if name.endswith("_ADDR") or name.endswith("_ADDRS"):
                for address in value.split(","):
                    port = address.rsplit(":", 1)[-1]
                    assert port not in re.findall(r"\b\d{4,5}\b", text), (name, port, text[:500])


@pytest.fixture(scope="session")
def system(tmp_path_factory):
    from tests.e2e.harness import start_system

    tmp = tmp_path_factory.mktemp("hardening-system")
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

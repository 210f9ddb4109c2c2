"""Helpers for the rate-limit tests: a gateway app whose keys are checked by a local table, and
the Redis server of the shared-storage tests (skipped with a reason when none answers, failed
instead when AW_REQUIRE_REDIS=1, as CI sets it)."""
from __future__ import annotations

import os
import uuid

import pytest
from flask import jsonify

from services.common.auth import Principal, PrincipalCache, generate_key
from services.common.config import DEFAULT_PLANS, PlanLimits, Settings
from services.common.errors import ServiceError

REDIS_URL = os.environ.get("AW_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
PLANS = {**{name: PlanLimits(**limits) for name, limits in DEFAULT_PLANS.items()},
         "tiny": PlanLimits(per_minute=8, burst_per_second=3, max_series=10),
         "flat": PlanLimits(per_minute=8, burst_per_second=8, max_series=10),
         "anonymous": PlanLimits(per_minute=20, burst_per_second=4, max_series=0)}


def redis_url_or_skip() -> str:
    """A Redis URL that answers PING, or skip (fail under AW_REQUIRE_REDIS=1) with the reason."""
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2, socket_timeout=2).ping()
        return REDIS_URL
    except Exception as error:  # noqa: BLE001 - any failure means: skip with the reason
        reason = f"Redis not reachable at {REDIS_URL}: {type(error).__name__}: {str(error)[:120]}"
        if os.environ.get("AW_REQUIRE_REDIS") == "1":
            pytest.fail(reason)
        pytest.skip(reason)


class KeyTable:
    """Stands in for catalog's AuthenticateApiKey: key -> principal."""

    def __init__(self):
        self.principals: dict[str, Principal] = {}

    def add(self, plan: str = "tiny", scopes: str = "ingest,read") -> tuple[str, Principal]:
        key = generate_key("live")
        principal = Principal(key_id=f"key_{uuid.uuid4().hex[:16]}", account_id="acct_test",
                              environment="live", scopes=frozenset(scopes.split(",")), plan=plan)
        self.principals[key] = principal
        return key, principal

    def __call__(self, key: str) -> Principal:
        if key not in self.principals:
            raise ServiceError("UNAUTHORIZED", "unknown API key")
        return self.principals[key]


def make_app(redis_url: str | None = None, plans=None):
    """The real gateway app (limiter included) with backends on dead ports, keys from a KeyTable,
    and one extra route `/v1/_probe` (scope read) that answers 200 without any backend."""
    from gateway.app import create_app
    from gateway.auth import requires

    settings = Settings(redis_url=redis_url, plans=plans or PLANS, catalog_addr="127.0.0.1:1",
                        ingest_addr="127.0.0.1:1", forecast_addr="127.0.0.1:1", rpc_timeout_seconds=2.0)
    app = create_app(settings)
    keys = KeyTable()
    app.extensions["aw"].principals = PrincipalCache(keys, ttl=0.5)

    @app.get("/v1/_probe")
    @requires("read")
    def probe():
        return jsonify({"data": "ok"})

    app.testing = True
    return app, keys


@pytest.fixture
def gateway():
    return make_app()

"""The key look-up cache keeps the contract's bound whatever its configured lifetime: a revoked key
is refused once MAX_CACHE_SECONDS have passed, even when AW_KEY_CACHE_SECONDS is `nan` (which
`min(value, 0.5)` passes through) or larger than the bound."""
from __future__ import annotations

import pytest

from services.common.auth import MAX_CACHE_SECONDS, Principal, PrincipalCache
from services.common.errors import ServiceError

KEY = "aw_live_" + "a" * 32
PRINCIPAL = Principal(key_id="key_1", account_id="acct_1", environment="live", scopes=frozenset({"read"}),
                      plan="free")


class Catalog:
    """A look-up whose key can be revoked, and a clock the test moves."""

    def __init__(self):
        self.revoked = False
        self.now = 1000.0
        self.lookups = 0

    def lookup(self, key: str) -> Principal:
        self.lookups += 1
        if self.revoked:
            raise ServiceError("UNAUTHORIZED", "this API key has been revoked")
        return PRINCIPAL


@pytest.mark.parametrize("ttl", [float("nan"), float("inf"), 60.0, 0.5])
def test_a_revoked_key_is_refused_once_the_bound_has_passed(ttl):
    catalog = Catalog()
    cache = PrincipalCache(catalog.lookup, ttl=ttl, clock=lambda: catalog.now)
    assert cache.authenticate(KEY) == PRINCIPAL
    catalog.revoked = True
    catalog.now += MAX_CACHE_SECONDS / 2
    assert cache.authenticate(KEY) == PRINCIPAL  # still cached: one look-up per lifetime
    catalog.now += MAX_CACHE_SECONDS
    with pytest.raises(ServiceError) as caught:
        cache.authenticate(KEY)
    assert caught.value.code == "UNAUTHORIZED" and catalog.lookups == 2


@pytest.mark.parametrize("ttl", [0.0, -1.0])
def test_a_lifetime_of_zero_or_less_looks_every_key_up(ttl):
    catalog = Catalog()
    cache = PrincipalCache(catalog.lookup, ttl=ttl, clock=lambda: catalog.now)
    cache.authenticate(KEY)
    catalog.now += 0.001
    cache.authenticate(KEY)
    assert catalog.lookups == 2

"""API keys: their format, hashing, and the principal a call's metadata stands for."""
from __future__ import annotations

import hashlib
import hmac
import math
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from services.common.errors import ServiceError

SCOPES = ("ingest", "read", "write", "forecast", "admin")
ENVIRONMENTS = ("live", "test")
KEY_PATTERN = re.compile(r"aw_(live|test)_[A-Za-z0-9]{32}")  # whole keys: fullmatch
PREFIX_LENGTH = 12
# A key look-up is cached at most this long, so a revoked or expired key is refused everywhere
# within 1 s even through two caches in a row (a service's, then catalog's).
MAX_CACHE_SECONDS = 0.5


@dataclass(frozen=True)
class Principal:
    key_id: str
    account_id: str
    environment: str  # live | test
    scopes: frozenset[str]
    plan: str

    def require(self, scope: str) -> None:
        if scope not in self.scopes:
            raise ServiceError("FORBIDDEN", f"this key lacks the `{scope}` scope",
                               {"required_scope": scope, "key_scopes": sorted(self.scopes)})


def generate_key(environment: str) -> str:
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    return f"aw_{environment}_" + "".join(secrets.choice(alphabet) for _ in range(32))


def hash_key(key: str) -> str:
    # Keys carry 190 bits of randomness, so a fast hash is safe; only the hash is stored.
    return hashlib.sha256(key.encode()).hexdigest()


def same_hash(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def bearer_key(authorization: str | None) -> str:
    """The key in an `Authorization: Bearer ...` value; UNAUTHORIZED when absent or malformed."""
    if not authorization:
        raise ServiceError("UNAUTHORIZED", "missing API key: send `Authorization: Bearer <key>`")
    scheme, _, key = authorization.strip().partition(" ")
    key = key.strip()
    if scheme.lower() != "bearer" or not KEY_PATTERN.fullmatch(key):
        raise ServiceError("UNAUTHORIZED",
                           "malformed API key: expected `Bearer aw_live_...` or `aw_test_...`")
    return key


def metadata_value(context, name: str) -> str | None:
    for key, value in context.invocation_metadata() or ():
        if key == name:
            return value
    return None


def cache_seconds(ttl: float) -> float:
    """`ttl` held to 0..MAX_CACHE_SECONDS; NaN (which no comparison bounds: an entry would never
    expire) and infinities are the maximum."""
    return min(max(ttl, 0.0), MAX_CACHE_SECONDS) if math.isfinite(ttl) else MAX_CACHE_SECONDS


class PrincipalCache:
    """Authenticates keys through `lookup`, remembering answers for at most `ttl` seconds (itself
    at most MAX_CACHE_SECONDS) so a revocation is seen everywhere within a second while hot keys
    cost one look-up per ttl."""

    def __init__(self, lookup: Callable[[str], Principal], ttl: float = MAX_CACHE_SECONDS,
                 max_entries: int = 10_000, clock: Callable[[], float] = time.monotonic):
        self._lookup = lookup
        self._ttl = cache_seconds(ttl)
        self._max = max_entries
        self._clock = clock
        self._entries: dict[str, tuple[float, Principal | ServiceError]] = {}
        self._lock = threading.Lock()

    def authenticate(self, key: str) -> Principal:
        digest = hash_key(key)
        now = self._clock()
        with self._lock:
            hit = self._entries.get(digest)
        if hit is None or hit[0] < now:
            try:
                result: Principal | ServiceError = self._lookup(key)
            except ServiceError as error:
                if error.code != "UNAUTHORIZED":
                    raise
                result = error
            with self._lock:
                if len(self._entries) >= self._max:
                    self._entries.clear()
                self._entries[digest] = (now + self._ttl, result)
        else:
            result = hit[1]
        if isinstance(result, ServiceError):
            raise result
        return result

    def from_context(self, context, scope: str | None = None) -> Principal:
        principal = self.authenticate(bearer_key(metadata_value(context, "authorization")))
        if scope:
            principal.require(scope)
        return principal

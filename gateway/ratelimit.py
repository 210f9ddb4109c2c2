"""Rate limits by plan, with bursts: moving windows of the `limits` library (as Flask-Limiter keeps
them, checked by one lean before-request hook instead of Flask-Limiter's per-request limit
resolution, which cost a third of a single-point ingest's gateway time).

Every request that is not an operations endpoint is counted against two moving windows of one
bucket, in both at once or, when either is full, in neither: the plan's per-minute limit and its
per-second burst (`settings.plans`, checked at start: whole numbers from 1). The bucket is the
API key (its id, never the secret) when the request carries a valid key, otherwise the client
address (an IPv6 address's /64), limited by the `anonymous` entry of `AW_PLANS` (default below).
`/flux/metric_data_post` carries its key in the body: the body's key (when valid) chooses the
bucket there.

Storage: with `AW_REDIS_URL` every gateway process and replica shares one budget in Redis, timed
by Redis' clock; without it the windows are kept in process (gateway.windows), so each gateway
worker process has its own. When Redis fails the limiter does not: the
failure is logged (once per outage), counted in `aw_ratelimit_storage_errors_total`, and the limits
are kept in process until Redis answers again (checked at most once a second), so requests keep
being served.

Headers on every limited response: `X-RateLimit-Limit` (the per-minute limit), `-Remaining` (left
in the per-minute window), `-Reset` (unix seconds at which the oldest counted request leaves that
window), plus `X-RateLimit-Burst-Limit` / `-Burst-Remaining` for the per-second window. Over either
limit: 429 `RATE_LIMITED` in the envelope (Anomify's `{"code", "message"}` on /flux) with
`Retry-After` in whole seconds (at least 1) until every full window has room.
"""
from __future__ import annotations

import functools
import ipaddress
import json
import logging
import math
import threading
import time
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass

from flask import Flask, current_app, g, jsonify, request
from limits import RateLimitItem, RateLimitItemPerMinute, RateLimitItemPerSecond
from limits.storage import MovingWindowSupport, RedisStorage, Storage, storage_from_string
from limits.strategies import MovingWindowRateLimiter
from prometheus_client import Counter
from redis.backoff import NoBackoff
from redis.retry import Retry
from werkzeug.exceptions import RequestEntityTooLarge

from gateway.auth import current_principal
from gateway.body import body_bytes
from gateway.errors import envelope
from gateway.windows import ProcessWindows
from services.common.auth import bearer_key
from services.common.config import PlanLimits, Settings
from services.common.errors import ServiceError

log = logging.getLogger(__name__)

SCOPE = "api"  # one shared window per bucket for the whole API, whatever the route
FLUX_PATH = "/flux/metric_data_post"
EXEMPT_PATHS = frozenset({"/healthz", "/readyz", "/metrics", "/v1/openapi.json", "/docs"})
EXEMPT_PREFIXES = ("/docs/",)
ANONYMOUS_PLAN = "anonymous"
ANONYMOUS_DEFAULT = PlanLimits(per_minute=600, burst_per_second=20, max_series=0)
RETRY_STORAGE_SECONDS = 1.0  # while Redis is failing, try it again at most this often
REDIS_TIMEOUT_SECONDS = 0.25
IPV6_PREFIX = 64  # requests without a valid key from one IPv6 /64 share a budget

STORAGE_ERRORS = Counter("aw_ratelimit_storage_errors_total",
                         "Rate-limit storage (Redis) calls that failed; limits then kept in process",
                         ["operation"])
FALLBACK_DECISIONS = Counter("aw_ratelimit_fallback_total",
                             "Rate-limit storage operations answered in process because Redis was failing",
                             ["operation"])
REJECTED = Counter("aw_ratelimit_rejected_total", "Requests refused with 429", ["plan", "window"])

HEADER_LIMIT, HEADER_REMAINING = "X-RateLimit-Limit", "X-RateLimit-Remaining"
HEADER_RESET = "X-RateLimit-Reset"
HEADER_BURST_LIMIT, HEADER_BURST_REMAINING = "X-RateLimit-Burst-Limit", "X-RateLimit-Burst-Remaining"


# The scripts read the time from Redis, one clock for every gateway process: with each process's
# own (as `limits` does) a replica whose clock ran ahead saw everyone's hits as old and admitted
# past the limit, one set back saw them as new and refused for the size of the step. A window is
# a list of hit times, newest first, at most `limit` long (as `limits` keeps it).
REDIS_NOW = """
if redis.replicate_commands then redis.replicate_commands() end
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
"""

# Counts `amount` hits in every window when all have room, in none otherwise: a request refused by
# one window spends nothing of the others. KEYS: the windows; ARGV: amount, then limit and expiry
# of each. Answers 1/0 per window: whether it had room. A hit time that is not a number counts as
# no hit.
ACQUIRE_ALL = REDIS_NOW + """
local amount = tonumber(ARGV[1])
local room, all = {}, true
for i, key in ipairs(KEYS) do
    local limit, expiry = tonumber(ARGV[2 * i]), tonumber(ARGV[2 * i + 1])
    local ok = amount <= limit
    if ok then
        local entry = redis.call('lindex', key, limit - amount)
        local hit = entry and tonumber(entry)
        ok = not (hit and hit >= now - expiry)
    end
    room[i] = ok and 1 or 0
    all = all and ok
end
if all then
    local stamp = string.format('%.6f', now)
    for i, key in ipairs(KEYS) do
        for _ = 1, amount do
            redis.call('lpush', key, stamp)
        end
        redis.call('ltrim', key, 0, tonumber(ARGV[2 * i]) - 1)
        redis.call('expire', key, tonumber(ARGV[2 * i + 1]))
    end
end
return room
"""

# KEYS[1]: a window; ARGV: its expiry and limit. Answers {oldest hit in the window, hits in the
# window, now}, or {now} when it holds none.
MOVING_WINDOW = REDIS_NOW + """
local cutoff = now - tonumber(ARGV[1])
local low, high, last = 0, tonumber(ARGV[2]) - 1, nil
while low <= high do
    local mid = math.floor((low + high) / 2)
    local hit = tonumber(redis.call('lindex', KEYS[1], mid))
    if hit and hit >= cutoff then
        last, low = mid, mid + 1
    else
        high = mid - 1
    end
end
if last then
    return {redis.call('lindex', KEYS[1], last), last + 1, string.format('%.6f', now)}
end
return {string.format('%.6f', now)}
"""


class RedisWindows(RedisStorage):
    """`limits`' Redis storage with the moving windows timed by Redis' clock, and one hit counted
    in several windows at once. Times given out are moved onto this process's clock."""

    def initialize_storage(self, uri: str) -> None:
        super().initialize_storage(uri)
        self.lua_acquire_all = self.get_connection().register_script(ACQUIRE_ALL)
        self.lua_window = self.get_connection().register_script(MOVING_WINDOW)

    def acquire_entries(self, windows: Sequence[tuple[str, int, int]], amount: int = 1) -> tuple[bool, ...]:
        args = [amount, *(number for _, limit, expiry in windows for number in (limit, expiry))]
        room = self.lua_acquire_all([self.prefixed_key(key) for key, _, _ in windows], args)
        if not isinstance(room, list) or len(room) != len(windows) or any(r not in (0, 1) for r in room):
            raise TypeError(f"unexpected answer from Redis: {room!r:.80}")
        return tuple(r == 1 for r in room)

    def acquire_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        return self.acquire_entries([(key, limit, expiry)], amount) == (True,)

    def get_moving_window(self, key: str, limit: int, expiry: int) -> tuple[float, int]:
        answer = self.lua_window([self.prefixed_key(key)], [expiry, limit])
        wall = time.time()
        if not isinstance(answer, list) or len(answer) not in (1, 3):
            raise TypeError(f"unexpected answer from Redis: {answer!r:.80}")
        now = float(answer[-1])
        if len(answer) == 1:
            return wall, 0
        oldest, count = float(answer[0]), answer[1]
        if not isinstance(count, int) or not 1 <= count <= limit:
            raise TypeError(f"unexpected count from Redis: {count!r:.80}")
        return wall - (now - oldest), count


class FailoverRedisStorage(Storage, MovingWindowSupport):
    """Redis storage for the moving-window strategy that falls back to in-process windows while
    Redis fails. Registered with `limits` under the `aw-failover+redis[s]` schemes."""

    STORAGE_SCHEME = ["aw-failover+redis", "aw-failover+rediss"]

    def __init__(self, uri: str, **options):
        super().__init__(uri)
        redis_uri = uri.removeprefix("aw-failover+")
        parsed = urllib.parse.urlparse(redis_uri)
        self.location = f"{parsed.hostname}:{parsed.port or 6379}{parsed.path or ''}"  # never the password
        options.setdefault("socket_connect_timeout", REDIS_TIMEOUT_SECONDS)
        options.setdefault("socket_timeout", REDIS_TIMEOUT_SECONDS)
        options.setdefault("retry", Retry(NoBackoff(), 0))  # one attempt: the fallback is the retry
        self.primary = RedisWindows(redis_uri, key_prefix="aw-ratelimit", **options)
        self.fallback = ProcessWindows()
        self._lock = threading.Lock()
        self._down_until = 0.0  # monotonic; 0 while Redis answers

    @property
    def base_exceptions(self) -> tuple[type[Exception], ...]:
        return ()

    @property
    def degraded(self) -> bool:
        return self._down_until > 0.0

    def _call(self, operation: str, *args, **kwargs):
        now = time.monotonic()
        if now < self._down_until:
            FALLBACK_DECISIONS.labels(operation).inc()
            return getattr(self.fallback, operation)(*args, **kwargs)
        try:
            result = getattr(self.primary, operation)(*args, **kwargs)
        except Exception as error:  # noqa: BLE001 - any storage failure: fail over, never fail the request
            STORAGE_ERRORS.labels(operation).inc()
            FALLBACK_DECISIONS.labels(operation).inc()
            with self._lock:
                first = self._down_until == 0.0
                self._down_until = time.monotonic() + RETRY_STORAGE_SECONDS
            if first:
                log.warning("rate-limit storage unreachable; keeping limits in process until it answers",
                            extra={"storage": self.location, "error": type(error).__name__})
            return getattr(self.fallback, operation)(*args, **kwargs)
        if self._down_until:
            with self._lock:
                recovered, self._down_until = self._down_until != 0.0, 0.0
            if recovered:
                log.warning("rate-limit storage answers again; limits are shared again",
                            extra={"storage": self.location})
        return result

    def acquire_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        return self._call("acquire_entry", key, limit, expiry, amount=amount)

    def acquire_entries(self, windows: Sequence[tuple[str, int, int]], amount: int = 1) -> tuple[bool, ...]:
        return self._call("acquire_entries", windows, amount)

    def get_moving_window(self, key: str, limit: int, expiry: int) -> tuple[float, int]:
        return self._call("get_moving_window", key, limit, expiry)

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        return self._call("incr", key, expiry, amount=amount)

    def get(self, key: str) -> int:
        return self._call("get", key)

    def get_expiry(self, key: str) -> float:
        return self._call("get_expiry", key)

    def check(self) -> bool:
        return self.primary.check()

    def reset(self) -> int | None:
        self.fallback.reset()
        return self.primary.reset()

    def clear(self, key: str) -> None:
        self.fallback.clear(key)
        self.primary.clear(key)


@dataclass(frozen=True)
class Bucket:
    """Whose budget a request spends: `key:<key id>` or `addr:<client address>`."""
    name: str
    plan: str
    limits: PlanLimits
    keyed: bool

    @property
    def items(self) -> tuple[RateLimitItem, RateLimitItem]:
        """(per minute, per second)."""
        return _items(self.limits.per_minute, self.limits.burst_per_second)


@functools.lru_cache(maxsize=256)
def _items(per_minute: int, per_second: int) -> tuple[RateLimitItem, RateLimitItem]:
    return RateLimitItemPerMinute(per_minute), RateLimitItemPerSecond(per_second)


def _settings() -> Settings:
    return current_app.extensions["aw"].settings


@functools.lru_cache(maxsize=4096)
def client_network(address: str | None) -> str:
    """Whose budget a request without a valid key spends: an IPv4 address (an IPv4-mapped IPv6
    one as its IPv4 address), or an IPv6 address's /64. One host holds a whole /64 and picks
    addresses in it freely (privacy addresses): per address, each of its 2**64 had a budget."""
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return address or "unknown"
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.version == 4:
        return str(ip)
    return str(ipaddress.IPv6Network((ip, IPV6_PREFIX), strict=False))


def _anonymous() -> Bucket:
    limits = _settings().plans.get(ANONYMOUS_PLAN) or ANONYMOUS_DEFAULT
    return Bucket(f"addr:{client_network(request.remote_addr)}", ANONYMOUS_PLAN, limits, keyed=False)


def _flux_key() -> str | None:
    """The key in a flux post's body, read only when the body is within the cap."""
    if request.method != "POST":
        return None
    try:
        body = json.loads(body_bytes())
    except (ValueError, RecursionError, RequestEntityTooLarge, ServiceError):
        return None
    key = body.get("key") if isinstance(body, dict) else None
    return key if isinstance(key, str) else None


def bucket() -> Bucket:
    """The current request's bucket, decided once per request."""
    if "aw_rate_bucket" in g:
        return g.aw_rate_bucket
    try:
        if request.path == FLUX_PATH:
            key = _flux_key()
            if key is None:
                raise ServiceError("UNAUTHORIZED", "no key")
            principal = current_app.extensions["aw"].principals.authenticate(bearer_key(f"Bearer {key}"))
        else:
            principal = current_principal()
        limits = _settings().plan(principal.plan)
        result = Bucket(f"key:{principal.key_id}", principal.plan, limits, keyed=True)
    except ServiceError:
        # Missing, malformed, unknown, expired or revoked key, or catalog unreachable: the route
        # answers 401/503 itself; meanwhile the client address pays.
        result = _anonymous()
    g.aw_rate_bucket = result
    return result


def _exempt() -> bool:
    return request.path in EXEMPT_PATHS or request.path.startswith(EXEMPT_PREFIXES)


def storage_uri(settings: Settings) -> str:
    if not settings.redis_url:
        return "aw-memory://"  # gateway.windows
    if not settings.redis_url.startswith(("redis://", "rediss://")):
        raise ValueError("AW_REDIS_URL must be a redis:// or rediss:// URL")
    return f"aw-failover+{settings.redis_url}"


@dataclass
class RateLimiter:
    """The windows' storage and the moving-window strategy over it (`app.extensions["aw_limiter"]`)."""
    storage: Storage
    limiter: MovingWindowRateLimiter


def _window(limiter: RateLimiter, item: RateLimitItem, name: str) -> tuple[float, int]:
    """(reset unix time, remaining) of one window of a bucket."""
    reset, remaining = limiter.limiter.get_window_stats(item, name, SCOPE)
    return reset, max(0, remaining)


def _check(limiter: RateLimiter):
    """Spends one request of the bucket's per-second and per-minute windows at once, or, when
    either is full, of neither (a request refused by the burst costs no minute budget, and one
    refused by the minute no burst); 429 then."""
    if _exempt():
        return None
    b = bucket()
    items = b.items
    room = limiter.storage.acquire_entries([(item.key_for(b.name, SCOPE), item.amount, item.get_expiry())
                                            for item in items])
    if all(room):
        return None
    return _too_many(limiter, b, [item for item, ok in zip(items, room, strict=True) if not ok])


def _add_headers(limiter: RateLimiter, response):
    if "aw_rate_bucket" not in g or _exempt():
        return response
    b: Bucket = g.aw_rate_bucket
    minute, second = b.items
    reset, remaining = _window(limiter, minute, b.name)
    _, burst_remaining = _window(limiter, second, b.name)
    response.headers[HEADER_LIMIT] = str(b.limits.per_minute)
    response.headers[HEADER_REMAINING] = str(remaining)
    response.headers[HEADER_RESET] = str(math.ceil(reset))
    response.headers[HEADER_BURST_LIMIT] = str(b.limits.burst_per_second)
    response.headers[HEADER_BURST_REMAINING] = str(burst_remaining)
    return response


def _too_many(limiter: RateLimiter, b: Bucket, full: list[RateLimitItem]):
    """429 for the full windows; Retry-After is when all of them have room again."""
    now = time.time()
    wait, item = max(((limiter.limiter.get_window_stats(item, b.name, SCOPE).reset_time - now, item)
                      for item in full), key=lambda pair: pair[0])
    retry_after = max(1, math.ceil(wait))
    window = "second" if item.get_expiry() <= 1 else "minute"
    REJECTED.labels(b.plan, window).inc()
    who = "this API key" if b.keyed else "requests without a valid API key from this address"
    message = (f"rate limit exceeded: {item.amount} requests per {window} for {who}"
               f"{f' (plan {b.plan})' if b.keyed else ''}; retry after {retry_after} s")
    if request.path == FLUX_PATH:
        response = jsonify({"code": 429, "message": message})
        response.status_code = 429
    else:
        response = envelope("RATE_LIMITED", message, {"limit": item.amount, "window": window,
                                                      "plan": b.plan, "retry_after": retry_after}, 429)
    response.headers["Retry-After"] = str(retry_after)
    return response


def install(app: Flask) -> RateLimiter:
    """Installs the limiter on the gateway app (needs `app.extensions["aw"]`). Its hook runs on
    every request, unknown routes (404) and wrong methods (405) included."""
    settings: Settings = app.extensions["aw"].settings
    storage = storage_from_string(storage_uri(settings))
    limiter = RateLimiter(storage, MovingWindowRateLimiter(storage))
    app.before_request(lambda: _check(limiter))
    app.after_request(lambda response: _add_headers(limiter, response))
    app.extensions["aw_limiter"] = limiter
    if settings.redis_url:  # exported at 0 from the start, so a rate() over them is defined
        for operation in ("acquire_entries", "get_moving_window"):
            STORAGE_ERRORS.labels(operation)
            FALLBACK_DECISIONS.labels(operation)
    return limiter

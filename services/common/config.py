"""Settings read once from `AW_*` environment variables; every field has a safe default."""
from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from services.common.durations import parse_duration

DEFAULT_PLANS: dict[str, dict[str, int | None]] = {
    # requests per minute, burst per second, series quota (None = unlimited)
    "free": {"per_minute": 100, "burst_per_second": 5, "max_series": 1_000},
    "pro": {"per_minute": 1_000, "burst_per_second": 50, "max_series": 100_000},
    "enterprise": {"per_minute": 10_000, "burst_per_second": 500, "max_series": None},
}


MAX_LIMIT = 1_000_000_000  # requests per window; the gateway's Redis scripts count in doubles
MAX_PROXY_HOPS = 10  # AW_TRUSTED_PROXY_HOPS: more proxies than this in front of a gateway is a mistake


@dataclass(frozen=True)
class PlanLimits:
    per_minute: int
    burst_per_second: int
    max_series: int | None


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_plans(plans: Mapping[str, PlanLimits]) -> None:
    """Refuses (ValueError) a plan whose request limits are not whole numbers from 1 to MAX_LIMIT
    or whose max_series is not a whole number of 0 or more (or None). Unchecked, 0 or a negative
    limit refused every request forever, 1.5 or true counted as 1, a limit past what Redis' scripts
    count failed every call of that plan (the whole limiter fell back to in-process windows again
    and again), and a quota of "100" failed every write of the plan's accounts with a 500."""
    for name, limits in plans.items():
        for field_name in ("per_minute", "burst_per_second"):
            value = getattr(limits, field_name)
            if not (_whole(value) and 1 <= value <= MAX_LIMIT):
                raise ValueError(f"AW_PLANS: {name}.{field_name} must be a whole number from 1 to "
                                 f"{MAX_LIMIT}, not {value!r:.40}")
        quota = limits.max_series
        if quota is not None and not (_whole(quota) and quota >= 0):
            raise ValueError(f"AW_PLANS: {name}.max_series must be a whole number of 0 or more, or null, "
                             f"not {quota!r:.40}")


@dataclass(frozen=True)
class Settings:
    database_url: str = "sqlite:///var/anomalywatch.db"
    redis_url: str | None = None
    gateway_addr: str = "127.0.0.1:8080"
    gateway_workers: int = 2
    catalog_addr: str = "127.0.0.1:50051"
    ingest_addr: str = "127.0.0.1:50052"
    forecast_addr: str = "127.0.0.1:50054"
    detect_addrs: tuple[str, ...] = ("127.0.0.1:50053",)
    detect_shard: int = 0
    # Where this detect process listens; defaults to its own entry of detect_addrs.
    detect_listen_addr: str = ""
    metrics_addr: str | None = None
    retention_seconds: float = 30 * 86400.0
    shutdown_grace_seconds: float = 10.0
    checkpoint_interval_seconds: float = 30.0
    staleness_check_seconds: float = 15.0
    catch_up_check_seconds: float = 15.0
    progress_flush_seconds: float = 1.0
    rpc_timeout_seconds: float = 10.0
    ingest_write_lanes: int = 2
    key_cache_seconds: float = 0.5
    forecast_history_seconds: float = 28 * 86400.0
    log_level: str = "INFO"
    otel_exporter: str = "none"
    service_name: str = "anomalywatch"
    tls_cert_file: str | None = None
    tls_key_file: str | None = None
    tls_ca_file: str | None = None
    operator_token: str | None = None  # lets an operator call come from another host
    # Proxies in front of the gateway that each append the address they saw to X-Forwarded-For (and
    # may set X-Forwarded-Proto); 0 trusts no forwarding header. gateway.proxies.
    trusted_proxy_hops: int = 0
    plans: Mapping[str, PlanLimits] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_plans(self.plans)  # from AW_PLANS or built in code alike
        hops = self.trusted_proxy_hops
        if not (_whole(hops) and 0 <= hops <= MAX_PROXY_HOPS):
            raise ValueError(f"AW_TRUSTED_PROXY_HOPS must be a whole number from 0 to {MAX_PROXY_HOPS}, "
                             f"not {hops!r:.40}")

    @property
    def detect_shards(self) -> int:
        return len(self.detect_addrs)

    def plan(self, name: str) -> PlanLimits:
        return self.plans.get(name) or self.plans["free"]


def _detect_addrs(env: Mapping[str, str]) -> tuple[str, ...]:
    explicit = env.get("AW_DETECT_ADDRS", "").strip()
    if explicit:
        return tuple(a.strip() for a in explicit.split(",") if a.strip())
    shards = int(env.get("AW_DETECT_SHARDS", "1"))
    host, port = env.get("AW_DETECT_ADDR", "127.0.0.1:50053").rsplit(":", 1)
    return tuple(f"{host}:{int(port) + i}" for i in range(shards))


def _detect_shard(env: Mapping[str, str]) -> int:
    if env.get("AW_DETECT_SHARD"):
        return int(env["AW_DETECT_SHARD"])
    # A StatefulSet pod is named `<set>-<ordinal>`: its ordinal is its shard.
    match = re.search(r"-(\d+)$", env.get("HOSTNAME", ""))
    return int(match.group(1)) if match and env.get("KUBERNETES_SERVICE_HOST") else 0


def _plans(env: Mapping[str, str]) -> dict[str, PlanLimits]:
    """The plans, AW_PLANS' entries replacing the defaults'; each entry gives exactly the three
    limits (their values are checked with every Settings: check_plans)."""
    raw = dict(DEFAULT_PLANS)
    if env.get("AW_PLANS"):
        try:
            raw.update(json.loads(env["AW_PLANS"]))
        except (ValueError, TypeError):
            raise ValueError("AW_PLANS must be a JSON object of plans") from None
    plans = {}
    for name, limits in raw.items():
        if not isinstance(limits, dict) or set(limits) != {"per_minute", "burst_per_second", "max_series"}:
            raise ValueError(f"AW_PLANS: {name} must give per_minute, burst_per_second and max_series")
        plans[name] = PlanLimits(**limits)
    return plans


def _seconds(env: Mapping[str, str], name: str, default: float, zero: bool = False) -> float:
    """A duration in seconds from `name`: a finite number, above 0 (or 0 where `zero`). NaN passed
    every comparison (a key cache of NaN seconds never expired) and inf or 0 made timers spin or
    never fire, so the process refuses to start instead."""
    raw = env.get(name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a number of seconds") from None
    if not (math.isfinite(value) and (value >= 0.0 if zero else value > 0.0)):
        least = "0 or more" if zero else "above 0"
        raise ValueError(f"{name}={raw!r} must be a finite number of seconds, {least}")
    return value


def _proxy_hops(env: Mapping[str, str]) -> int:
    """AW_TRUSTED_PROXY_HOPS in plain decimal digits (int() also takes "1_0", "+1" and other
    scripts' digits); its range is checked with every Settings."""
    raw = env.get("AW_TRUSTED_PROXY_HOPS")
    if raw is None:
        return Settings.trusted_proxy_hops
    if not re.fullmatch(r"[0-9]{1,6}", raw.strip()):
        raise ValueError(f"AW_TRUSTED_PROXY_HOPS={raw!r:.40} must be a whole number from 0 to "
                         f"{MAX_PROXY_HOPS}: the proxies in front of the gateway that append to "
                         "X-Forwarded-For (0: none)")
    return int(raw.strip())


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Reads the configuration; call once at process start and pass the result down."""
    env = os.environ if env is None else env
    settings = Settings(
        database_url=env.get("AW_DATABASE_URL", Settings.database_url),
        redis_url=env.get("AW_REDIS_URL") or None,
        gateway_addr=env.get("AW_GATEWAY_ADDR", Settings.gateway_addr),
        gateway_workers=int(env.get("AW_GATEWAY_WORKERS", Settings.gateway_workers)),
        catalog_addr=env.get("AW_CATALOG_ADDR", Settings.catalog_addr),
        ingest_addr=env.get("AW_INGEST_ADDR", Settings.ingest_addr),
        forecast_addr=env.get("AW_FORECAST_ADDR", Settings.forecast_addr),
        detect_addrs=_detect_addrs(env),
        detect_shard=_detect_shard(env),
        detect_listen_addr=env.get("AW_DETECT_LISTEN_ADDR", ""),
        metrics_addr=env.get("AW_METRICS_ADDR") or None,
        retention_seconds=parse_duration(env.get("AW_RETENTION", "30d")),
        shutdown_grace_seconds=_seconds(env, "AW_SHUTDOWN_GRACE", Settings.shutdown_grace_seconds, zero=True),
        checkpoint_interval_seconds=_seconds(env, "AW_CHECKPOINT_INTERVAL",
                                             Settings.checkpoint_interval_seconds),
        staleness_check_seconds=_seconds(env, "AW_STALENESS_CHECK", Settings.staleness_check_seconds),
        catch_up_check_seconds=_seconds(env, "AW_CATCH_UP_CHECK", Settings.catch_up_check_seconds),
        progress_flush_seconds=_seconds(env, "AW_PROGRESS_FLUSH", Settings.progress_flush_seconds),
        rpc_timeout_seconds=_seconds(env, "AW_RPC_TIMEOUT", Settings.rpc_timeout_seconds),
        ingest_write_lanes=int(env.get("AW_INGEST_WRITE_LANES", Settings.ingest_write_lanes)),
        key_cache_seconds=min(_seconds(env, "AW_KEY_CACHE_SECONDS", Settings.key_cache_seconds, zero=True),
                              0.5),
        forecast_history_seconds=parse_duration(env.get("AW_FORECAST_HISTORY", "28d")),
        log_level=env.get("AW_LOG_LEVEL", Settings.log_level).upper(),
        otel_exporter=env.get("AW_OTEL_EXPORTER", Settings.otel_exporter).lower(),
        tls_cert_file=env.get("AW_TLS_CERT_FILE") or None,
        tls_key_file=env.get("AW_TLS_KEY_FILE") or None,
        tls_ca_file=env.get("AW_TLS_CA_FILE") or None,
        operator_token=env.get("AW_OPERATOR_TOKEN") or None,
        trusted_proxy_hops=_proxy_hops(env),
        plans=_plans(env),
    )
    if not 0 <= settings.detect_shard < settings.detect_shards:
        raise ValueError(f"AW_DETECT_SHARD={settings.detect_shard} "
                         f"is outside 0..{settings.detect_shards - 1}")
    if not settings.detect_listen_addr:
        settings = replace(settings, detect_listen_addr=settings.detect_addrs[settings.detect_shard])
    return settings

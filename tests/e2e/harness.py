"""Starting the real processes the way `make run` does, on free loopback ports, for e2e tests."""
from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from cli.local_system import LocalSystem
from cli.ports import free_port, free_port_block

REPO = Path(__file__).resolve().parents[2]


@dataclass
class RunningSystem:
    base_url: str
    env: dict[str, str]
    local: LocalSystem

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "cli.main", *args], cwd=REPO,
                              env={**os.environ, **self.env}, capture_output=True, text=True, check=check,
                              timeout=120)

    def new_key(self, scopes: str = "ingest,read,write,forecast,admin", environment: str = "live",
                plan: str = "enterprise", account: str | None = None) -> tuple[str, str]:
        """(account id, key) — a new account unless one is given."""
        if account is None:
            account = self.cli("accounts", "create", "--name", "e2e", "--plan", plan).stdout.strip()
        out = self.cli("keys", "create", "--account", account, "--environment", environment,
                       "--scopes", scopes)
        return account, out.stdout.strip().splitlines()[-1]

    def session(self, key: str) -> requests.Session:
        s = requests.Session()
        s.headers["Authorization"] = f"Bearer {key}"
        # A kept-alive connection the gateway closed (idle past its keepalive) as a GET reused it
        # is reset: a reader reconnects and asks again; a write is never re-sent here, and every
        # answer (a 429 or 503 with Retry-After too) is the test's to see.
        retry = Retry(total=2, connect=2, read=2, status=0, allowed_methods={"GET"}, backoff_factor=0.1,
                      respect_retry_after_header=False, raise_on_status=False)
        s.mount("http://", HTTPAdapter(max_retries=retry))
        return s


def system_env(tmp: Path, database_url: str, **extra: str) -> dict[str, str]:
    metrics = free_port_block()
    taken = set(range(metrics, metrics + 20))
    ports = {}
    for name in ("gateway", "catalog", "ingest", "detect", "forecast"):
        ports[name] = free_port(avoid=taken)
        taken.add(ports[name])
    return {
        "AW_DATABASE_URL": database_url,
        "AW_GATEWAY_ADDR": f"127.0.0.1:{ports['gateway']}",
        "AW_CATALOG_ADDR": f"127.0.0.1:{ports['catalog']}",
        "AW_INGEST_ADDR": f"127.0.0.1:{ports['ingest']}",
        "AW_DETECT_ADDRS": f"127.0.0.1:{ports['detect']}",
        "AW_FORECAST_ADDR": f"127.0.0.1:{ports['forecast']}",
        "AW_METRICS_PORT_BASE": str(metrics),
        "AW_GATEWAY_WORKERS": "2",
        "AW_LOG_DIR": str(tmp / "log"),
        "AW_SHUTDOWN_GRACE": "5",
        "NUMBA_CACHE_DIR": str(REPO / "var" / "numba-cache"),
        **extra,
    }


def start_system(tmp: Path, database_url: str, **extra: str) -> RunningSystem:
    env = system_env(tmp, database_url, **extra)
    local = LocalSystem.from_env(env, REPO)
    try:
        local.start()
    except Exception:
        local.stop()
        raise
    return RunningSystem(f"http://{env['AW_GATEWAY_ADDR']}", env, local)



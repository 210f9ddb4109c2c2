"""Starting the real processes the way `make run` does, on free loopback ports, for e2e tests."""
from __future__ import annotations

import os
import random
import socket
import subprocess
import sys
from collections.abc import Container
from dataclasses import dataclass
from pathlib import Path

import requests

from cli.local_system import LocalSystem

REPO = Path(__file__).resolve().parents[2]


# Listening ports are chosen below the kernel's ephemeral range (32768-60999 here), where
# outgoing connections get theirs: a client socket cannot take a chosen port before the service
# binds it. Random, so systems started at the same time by other runs rarely meet.
LISTEN_PORTS = (20000, 32700)


def free_port(avoid: Container[int] = ()) -> int:
    for _ in range(500):
        port = random.randrange(*LISTEN_PORTS)
        if port not in avoid and _free(port):
            return port
    raise RuntimeError("no free port")


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
        return s


def free_port_block(size: int = 20) -> int:
    """A base port whose next `size` ports are free now (the services' metrics ports)."""
    for _ in range(500):
        base = random.randrange(LISTEN_PORTS[0], LISTEN_PORTS[1] - size)
        if all(_free(base + i) for i in range(size)):
            return base
    raise RuntimeError("no block of free ports")


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


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



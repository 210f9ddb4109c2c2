"""Every service as its own process on localhost, the way `make run` starts them; the
end-to-end tests start the system through this same class."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

START_TIMEOUT = 300.0  # the first start compiles the numba kernels


@dataclass
class Process:
    name: str
    env: dict[str, str]
    kind: str  # grpc | http
    address: str
    popen: subprocess.Popen | None = None


@dataclass
class LocalSystem:
    """Starts catalog, detect shards, forecast, ingest and gateway with `env` (AW_* settings)."""
    env: dict[str, str]
    workdir: Path
    log_dir: Path
    processes: list[Process] = field(default_factory=list)

    @classmethod
    def from_env(cls, env: dict[str, str], workdir: Path) -> LocalSystem:
        env = dict(env)
        env.setdefault("AW_DATABASE_URL", "sqlite:///var/anomalywatch.db")
        env.setdefault("NUMBA_CACHE_DIR", str(workdir / "var" / "numba-cache"))
        return cls(env=env, workdir=workdir, log_dir=Path(env.get("AW_LOG_DIR", workdir / "var" / "log")))

    def _plan(self) -> list[Process]:
        from services.common.config import load_settings

        settings = load_settings(self.env)
        base = int(self.env.get("AW_METRICS_PORT_BASE", "9100"))
        host = "127.0.0.1"
        plan = [Process("catalog", {"AW_METRICS_ADDR": f"{host}:{base + 1}"}, "grpc", settings.catalog_addr)]
        for shard, address in enumerate(settings.detect_addrs):
            plan.append(Process(f"detect-{shard}", {"AW_DETECT_SHARD": str(shard),
                                                    "AW_METRICS_ADDR": f"{host}:{base + 10 + shard}"},
                                "grpc", address))
        plan.append(Process("forecast", {"AW_METRICS_ADDR": f"{host}:{base + 4}"}, "grpc",
                            settings.forecast_addr))
        plan.append(Process("ingest", {"AW_METRICS_ADDR": f"{host}:{base + 2}"}, "grpc",
                            settings.ingest_addr))
        plan.append(Process("gateway", {}, "http", settings.gateway_addr))
        return plan

    def start(self) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for process in self._plan():
            self.start_process(process)
            self.processes.append(process)
            self.wait_ready(process)

    def start_process(self, process: Process) -> None:
        service = process.name.split("-")[0]
        log = open(self.log_dir / f"{process.name}.log", "ab")  # noqa: SIM115 - owned by the child
        process.popen = subprocess.Popen(
            [sys.executable, "-m", "cli.main", "serve", service], cwd=self.workdir,
            env={**os.environ, **self.env, **process.env}, stdout=log, stderr=log, start_new_session=True)

    def process(self, name: str) -> Process:
        return next(p for p in self.processes if p.name == name)

    def wait_ready(self, process: Process, timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            code = process.popen.poll()
            if code is not None:
                raise RuntimeError(f"{process.name} exited with code {code}; "
                                   f"see {self.log_dir}/{process.name}.log")
            if self._ready(process):
                return
            time.sleep(0.2)
        raise RuntimeError(f"{process.name} not ready after {timeout:.0f}s; "
                           f"see {self.log_dir}/{process.name}.log")

    def _ready(self, process: Process) -> bool:
        if process.kind == "http":
            try:
                with urllib.request.urlopen(f"http://{process.address}/readyz", timeout=1) as response:
                    return response.status == 200
            except OSError:
                return False
        try:
            from services.common.channels import dial
            from services.common.config import load_settings

            with dial(process.address, load_settings(self.env)) as channel:
                answer = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=1)
                return answer.status == health_pb2.HealthCheckResponse.SERVING
        except grpc.RpcError:
            return False

    def stop_process(self, process: Process, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int | None:
        if process.popen is None or process.popen.poll() is not None:
            return process.popen.returncode if process.popen else None
        process.popen.send_signal(sig)
        try:
            return process.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.popen.kill()
            return process.popen.wait()

    def restart(self, name: str, sig: int = signal.SIGTERM) -> None:
        process = self.process(name)
        self.stop_process(process, sig)
        self.start_process(process)
        self.wait_ready(process)

    def stop(self) -> None:
        for process in reversed(self.processes):
            self.stop_process(process)

    def first_exited(self) -> Process | None:
        return next((p for p in self.processes if p.popen and p.popen.poll() is not None), None)

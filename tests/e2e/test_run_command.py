"""`anomalywatch run` (what `make run` does) stops every service it started, whichever way it is
told to stop: Ctrl-C, a SIGTERM, or its terminal closing (SIGHUP)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from tests.e2e.harness import system_env

pytestmark = pytest.mark.e2e

def _children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]

def _alive(pid: int) -> bool:
    # a child that exited but is not reaped yet (its parent is gone: init reaps it) is no service
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ", 1)[1][0] != "Z"
    except FileNotFoundError:
        return False

@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP], ids=lambda s: s.name)
def test_run_stops_every_service_it_started(tmp_path, sig):
    env = {**os.environ, **system_env(tmp_path, f"sqlite:///{tmp_path}/aw.db")}
    run = subprocess.Popen([sys.executable, "-m", "cli.main", "run"], cwd=tmp_path, env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           start_new_session=True)
    services: list[int] = []
    try:
        deadline = time.monotonic() + 180
        for line in run.stdout:
            if "Ctrl-C stops every service" in line or time.monotonic() > deadline:
                break
        services = _children(run.pid)
        assert len(services) >= 5, services        # catalog, detect, forecast, ingest, gateway
        run.send_signal(sig)
        assert run.wait(timeout=90) == 0
        left = [p for p in services if _alive(p)]
        assert left == [], f"still running after {sig.name}: {left}"
    finally:
        if run.poll() is None:
            run.kill()
        for pid in services:            # left by a failed stop, the next test's ports stay free
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)

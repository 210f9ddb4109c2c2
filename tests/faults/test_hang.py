"""A dependency that hangs instead of dying (SIGSTOP of catalog, then of ingest): clients get 503
UNAVAILABLE once the call deadline passes, never a 500 and never an endless wait; liveness stays
up, readiness goes down; after SIGCONT every acknowledged point is stored once and scored once,
including the ones catalog stored after their caller had given up."""
from __future__ import annotations

import signal
import time

import pytest
import requests

from tests.e2e.harness import start_system
from tests.faults.client import (
    Dataset,
    RetryingIngester,
    assert_scored_exactly_once,
    assert_stored_exactly_once,
    assert_unavailable,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.postgres]
RPC_TIMEOUT = 2.0
N = 600


@pytest.fixture
def hang_system(tmp_path, postgres_url):
    system = start_system(tmp_path, postgres_url, AW_CHECKPOINT_INTERVAL="1", AW_RPC_TIMEOUT=str(RPC_TIMEOUT))
    try:
        yield system, system.new_key()[1]
    finally:
        for process in system.local.processes:  # never leave a stopped process behind
            if process.popen and process.popen.poll() is None:
                process.popen.send_signal(signal.SIGCONT)
        system.local.stop()


@pytest.mark.parametrize("victim", ["catalog", "ingest"])
def test_a_hung_dependency_answers_503_within_the_deadline(hang_system, postgres_url, victim):
    system, key = hang_system
    api = system.session(key)
    data = Dataset.make(f"hang.{victim}", N, seed=5)
    stream = RetryingIngester(system.base_url, key, data.batches(), deadline=90).start()
    stream.wait_for(8)
    paused = system.local.process(victim).popen
    paused.send_signal(signal.SIGSTOP)
    assert stream.sent < len(stream.batches), "the stream ended before the fault: it proves nothing"
    try:
        started = time.monotonic()
        point = {"metric": "hang.probe", "value": 1.0, "timestamp": time.time()}
        assert_unavailable(api.post(f"{system.base_url}/v1/ingest", json=point, timeout=30))
        # The gateway's deadline, plus at most one authentication through a hung catalog.
        assert time.monotonic() - started < 2 * RPC_TIMEOUT + 2
        if victim == "catalog":
            assert_unavailable(api.get(f"{system.base_url}/v1/metrics", timeout=30))
        assert requests.get(f"{system.base_url}/healthz", timeout=10).status_code == 200
        assert requests.get(f"{system.base_url}/readyz", timeout=10).status_code == 503
        # Long enough that the stream's call that met the hang runs into its deadline too.
        time.sleep(max(0.0, started + 2 * RPC_TIMEOUT + 1 - time.monotonic()))
    finally:
        paused.send_signal(signal.SIGCONT)
    outcome = stream.join()
    assert not outcome.failures, outcome.failures[:5]
    assert outcome.unavailable > 0
    assert_stored_exactly_once(api, system.base_url, data, outcome.acknowledged)
    assert_scored_exactly_once(postgres_url, data, N)

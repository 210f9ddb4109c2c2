"""SIGKILL of detect, ingest or catalog while a client ingests with retries: while it is down the
client gets 503 UNAVAILABLE (or stored-but-unscored points when detect is down), never a 500;
after the process is started again every acknowledged point is stored once and scored once."""
from __future__ import annotations

import signal
import time

import pytest
import requests
from sqlalchemy import create_engine, select, text

from services.catalog.models import Series
from tests.faults.client import (
    Dataset,
    RetryingIngester,
    assert_scored_exactly_once,
    assert_scores_continue,
    assert_stored_exactly_once,
    assert_unavailable,
    wait_detect_reachable,
    wait_scored,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.postgres]
N, HEAD = 600, 480  # points per series; the first HEAD are sent around the fault, the rest after recovery


@pytest.mark.parametrize("victim", ["detect-0", "ingest", "catalog"])
def test_sigkill_while_a_client_ingests_loses_and_doubles_nothing(fault_system, postgres_url, victim):
    system, key = fault_system
    api = system.session(key)
    data = Dataset.make(f"kill.{victim.split('-')[0]}", N)
    client = RetryingIngester(system.base_url, key, data.batches(0, HEAD)).start()
    client.wait_for(12)
    process = system.local.process(victim)
    system.local.stop_process(process, signal.SIGKILL)
    assert client.sent < len(client.batches), "the client ended before the fault: it proves nothing"
    _check_while_down(api, system.base_url, victim)
    time.sleep(1.0)  # the client keeps sending meanwhile
    system.local.start_process(process)  # as the supervisor does: same command, same settings
    system.local.wait_ready(process)
    outcome = client.join()
    assert not outcome.failures, outcome.failures[:5]
    assert len(outcome.acknowledged) == HEAD * len(data.names)
    if victim == "detect-0":
        assert any(not a["scored"] for a in outcome.answers), "no point was answered while detect was down"
    else:
        assert outcome.unavailable > 0, "the client never saw the outage"
    assert_stored_exactly_once(api, system.base_url, data, outcome.acknowledged)
    assert_scored_exactly_once(postgres_url, data, HEAD)

    wait_detect_reachable(api, system.base_url)
    tail = RetryingIngester(system.base_url, key, data.batches(HEAD)).run()
    assert not tail.failures
    assert_scores_continue(data, tail.answers, tail.acknowledged)
    assert_scored_exactly_once(postgres_url, data, N)


def _check_while_down(api: requests.Session, base_url: str, victim: str) -> None:
    ready = requests.get(f"{base_url}/readyz", timeout=10)
    if victim == "catalog":
        for path in ("/v1/metrics", "/v1/anomalies", "/v1/anomalies/summary"):
            assert_unavailable(api.get(base_url + path, timeout=30))
    if victim in ("catalog", "ingest"):
        assert ready.status_code == 503 and ready.json()["status"] == "not_ready"
        point = {"metric": "down.m", "value": 1, "timestamp": time.time()}
        assert_unavailable(api.post(f"{base_url}/v1/ingest", json=point, timeout=30))
    else:
        assert ready.status_code == 200


def test_a_point_stored_as_ingest_died_is_scored_when_the_client_retries_it(fault_system, postgres_url):
    """Catalog commits a batch whose ingest call was cut off by SIGKILL before it reached detect;
    the client, answered 503, retries after the restart and is answered `duplicate`. The points
    must still be scored, although no later point of the series may ever come."""
    system, key = fault_system
    data = Dataset.make("orphan", 300, series=1)
    first = RetryingIngester(system.base_url, key, data.batches(0, 290)).run()
    assert not first.failures
    wait_scored(postgres_url, data, float(data.ts[289]))
    last = data.batches(290)
    engine = create_engine(postgres_url)
    try:
        with engine.connect() as connection:
            with connection.begin():  # WritePoints waits inside catalog for this lock
                connection.execute(text("LOCK TABLE points IN SHARE MODE"))
                cut = RetryingIngester(system.base_url, key, last, deadline=2.0).start()
                time.sleep(0.5)
                assert cut.sent == 0
                ingest = system.local.process("ingest")
                system.local.stop_process(ingest, signal.SIGKILL)
            # The lock is gone: catalog commits what ingest can no longer send to detect.
            deadline = time.monotonic() + 10
            count = select(Series.point_count).where(Series.name == data.names[0])
            while connection.execute(count).scalar() < 300:
                assert time.monotonic() < deadline, "catalog did not commit the cut-off batch"
                time.sleep(0.1)
                connection.rollback()
        outcome = cut.join()
        assert outcome.unavailable > 0 and not outcome.acknowledged
    finally:
        engine.dispose()
    system.local.start_process(ingest)
    system.local.wait_ready(ingest)
    retried = RetryingIngester(system.base_url, key, last).run()
    assert not retried.failures
    assert {a["outcome"] for a in retried.answers} == {"duplicate"}
    assert_scored_exactly_once(postgres_url, data, 300)


def test_forecast_killed_is_503_and_back_after_a_restart(fault_system):
    system, key = fault_system
    api = system.session(key)
    data = Dataset.make("fc", 300, series=1)
    assert not RetryingIngester(system.base_url, key, data.batches()).run().failures
    body = {"metric": data.names[0], "horizon": 10}
    forecast = system.local.process("forecast")
    system.local.stop_process(forecast, signal.SIGKILL)
    assert_unavailable(api.post(f"{system.base_url}/v1/forecast", json=body, timeout=30))
    assert_unavailable(api.get(f"{system.base_url}/v1/forecast/models", timeout=30))
    assert requests.get(f"{system.base_url}/readyz", timeout=10).status_code == 200  # ingest goes on
    system.local.start_process(forecast)
    system.local.wait_ready(forecast)
    deadline = time.monotonic() + 10  # the gateway reconnects within its backoff
    while (answer := api.post(f"{system.base_url}/v1/forecast", json=body, timeout=60)).status_code == 503:
        assert time.monotonic() < deadline, answer.text
        time.sleep(0.3)
    assert answer.status_code == 200, answer.text
    assert len(answer.json()["forecast"]) == 10

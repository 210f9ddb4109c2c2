"""SIGTERM of each service during a stream of ingests: the service finishes the calls it has in
flight (one is held inside it on purpose, by a database lock), exits 0 within its grace,
and once it is started again every acknowledged point is stored once and scored once."""
from __future__ import annotations

import signal
import threading
import time
from concurrent.futures import Future

import grpc
import pytest
from sqlalchemy import create_engine, text

from anomalywatch.catalog.v1 import metrics_pb2, storage_pb2, storage_pb2_grpc
from anomalywatch.common.v1 import common_pb2
from anomalywatch.detect.v1 import detect_pb2, detect_pb2_grpc
from anomalywatch.ingest.v1 import ingest_pb2, ingest_pb2_grpc
from services.common.timeutil import to_timestamp
from tests.conftest import drop_postgres_database, make_postgres_database
from tests.e2e.harness import start_system
from tests.faults.client import (
    Dataset,
    RetryingIngester,
    assert_scored_exactly_once,
    assert_scores_continue,
    assert_stored_exactly_once,
    wait_detect_reachable,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.postgres]
N, HEAD = 400, 300
GRACE = 5.0  # AW_SHUTDOWN_GRACE of the harness


@pytest.fixture(scope="module")
def drained_system(tmp_path_factory):
    """One system for the four services in turn; each test uses its own series."""
    url = make_postgres_database()
    system = start_system(tmp_path_factory.mktemp("sigterm"), url, AW_CHECKPOINT_INTERVAL="1")
    try:
        account, key = system.new_key()
        yield system, url, account, key
    finally:
        system.local.stop()
        drop_postgres_database(url)


def in_background(call) -> Future:
    future: Future = Future()

    def run():
        try:
            future.set_result(call())
        except BaseException as error:  # noqa: BLE001 - handed to the test
            future.set_exception(error)
    threading.Thread(target=run, daemon=True).start()
    return future


def held_call(system, account: str, key: str, victim: str):
    """(a lock statement, a call): while a transaction of the test holds the lock, the call waits
    in catalog's database work, so it is in flight in `victim` (gateway -> ingest -> catalog, or
    detect -> catalog). Its answer must still be a success after the SIGTERM."""
    inserts_wait = "LOCK TABLE points IN SHARE MODE"  # WritePoints waits, reads go on
    if victim == "ingest":  # an internal caller of ingest's gRPC API
        stub = ingest_pb2_grpc.IngestServiceStub(grpc.insecure_channel(system.env["AW_INGEST_ADDR"]))
        request = ingest_pb2.IngestRequest(points=[ingest_pb2.Point(
            metric="drain.ingest", value=1.0, time=to_timestamp(time.time()))])
        metadata = (("authorization", f"Bearer {key}"),)
        return inserts_wait, lambda: stub.Ingest(request, timeout=30, metadata=metadata)
    if victim in ("gateway", "catalog"):
        point = {"metric": f"drain.{victim}", "value": 1.0, "timestamp": time.time()}
        session = system.session(key)
        return inserts_wait, lambda: session.post(f"{system.base_url}/v1/ingest", json=point, timeout=30)
    # detect: ApplyDetections of an episode event waits for the series rows (SELECT ... FOR
    # UPDATE). The series has history, stored through REST first; the held call's point is a
    # spike that opens an episode (no longer learning: min_data_points 0), stored in catalog
    # alone as ingest stores a point before detect scores it (catalog refuses a detection of a
    # point it does not hold).
    t0 = time.time() - 3600
    history = [{"metric": "drain.detect", "value": 1.0 + 0.01 * (i % 7), "timestamp": t0 + 60 * i}
               for i in range(50)]
    stored = system.session(key).post(f"{system.base_url}/v1/ingest", timeout=30,
                                      json={"points": history}).json()["results"]
    storage = storage_pb2_grpc.StorageServiceStub(grpc.insecure_channel(system.env["AW_CATALOG_ADDR"]))
    storage.WritePoints(storage_pb2.WritePointsRequest(
        scope=common_pb2.Scope(account_id=account, environment=common_pb2.ENVIRONMENT_LIVE),
        series=[storage_pb2.SeriesKey(metric="drain.detect")], series_index=[0], times=[t0 + 60 * 50],
        values=[1000.0]), timeout=30)
    stub = detect_pb2_grpc.DetectServiceStub(grpc.insecure_channel(system.env["AW_DETECT_ADDRS"]))
    config = metrics_pb2.AnomalyConfig(enabled=True, min_data_points=0)
    request = detect_pb2.ScorePointsRequest(
        series=[detect_pb2.SeriesToScore(metric_id=stored[-1]["metric_id"], config=config,
                                         previous_time=to_timestamp(history[-1]["timestamp"]))],
        series_index=[0], times=[t0 + 60 * 50], values=[1000.0])
    return "LOCK TABLE series IN EXCLUSIVE MODE", lambda: stub.ScorePoints(request, timeout=30)


@pytest.mark.parametrize("victim", ["gateway", "ingest", "detect-0", "catalog"])
def test_sigterm_finishes_in_flight_calls_and_loses_no_acknowledged_point(drained_system, victim):
    system, url, account, key = drained_system
    api = system.session(key)
    data = Dataset.make(f"term.{victim.split('-')[0]}", N, seed=7)
    stream = RetryingIngester(system.base_url, key, data.batches(0, HEAD)).start()
    stream.wait_for(5)
    process = system.local.process(victim)
    try:
        # Only the held call is inside the victim when the signal comes; the stream resumes at once.
        stream.pause()
        with _hold(system, account, key, victim, url) as call:
            process.popen.send_signal(signal.SIGTERM)
            stream.resume()
            time.sleep(1.0)
            assert process.popen.poll() is None, f"{victim} exited with a call in flight"
        _assert_succeeded(call.result(timeout=30))  # the held call was answered, not cut off
        assert process.popen.wait(timeout=GRACE + 10) == 0, f"{victim} did not stop cleanly"
    finally:  # the next test needs the whole system
        stream.resume()
        system.local.stop_process(process, signal.SIGKILL)
        system.local.start_process(process)
        system.local.wait_ready(process)
    outcome = stream.join()
    assert not outcome.failures, outcome.failures[:5]
    assert_stored_exactly_once(api, system.base_url, data, outcome.acknowledged)
    assert_scored_exactly_once(url, data, HEAD)
    wait_detect_reachable(api, system.base_url)
    tail = RetryingIngester(system.base_url, key, data.batches(HEAD)).run()
    assert not tail.failures
    assert_scores_continue(data, tail.answers, tail.acknowledged)


def _answer_text(answer) -> str:
    return getattr(answer, "text", None) or str(answer)


def _assert_succeeded(answer) -> None:
    if isinstance(answer, ingest_pb2.IngestResponse):
        assert answer.accepted == 1, answer
    elif isinstance(answer, detect_pb2.ScorePointsResponse):
        assert answer.scored[0] and answer.anomalies, answer
    else:
        assert answer.status_code == 200, answer.text


class _hold:
    """Starts the held call with its lock taken; the lock is released on exit."""

    def __init__(self, system, account, key, victim, url):
        self.statement, self.call = held_call(system, account, key, victim)
        self.engine = create_engine(url)

    def __enter__(self) -> Future:
        self.connection = self.engine.connect()
        self.transaction = self.connection.begin()
        self.connection.execute(text(self.statement))
        future = in_background(self.call)
        time.sleep(0.5)  # the call reaches the database and waits there
        if future.done():
            self.__exit__()
            raise AssertionError(f"the held call did not wait: {_answer_text(future.result())}")
        return future

    def __exit__(self, *exc) -> None:
        self.transaction.rollback()
        self.connection.close()
        self.engine.dispose()

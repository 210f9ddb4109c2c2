"""Two detect shards, started the way `AW_DETECT_SHARDS=2 make run` starts them: every series is
scored by the shard that owns it (services/common/sharding.py), both shards work, and after a
restart of either one (SIGTERM, then SIGKILL of the other while points arrive) the scores go on
exactly as an uninterrupted run's, with nothing lost or scored twice."""
from __future__ import annotations

import signal
import time

import grpc
import pytest
import requests

from anomalywatch.detect.v1 import detect_pb2, detect_pb2_grpc
from services.common.sharding import shard_of
from tests.e2e.harness import free_port_block, start_system
from tests.e2e.test_prometheus import scrape, total
from tests.faults.client import (
    Dataset,
    RetryingIngester,
    assert_scored_exactly_once,
    assert_scores_continue,
    assert_stored_exactly_once,
    series_ids,
    wait_scored,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
N, HEAD, MID = 300, 200, 250  # points per series: before the restarts, up to the second, after it
SHARDS = 2


@pytest.fixture
def two_shards(tmp_path):
    db_url = f"sqlite:///{tmp_path}/aw.db"
    first = free_port_block(SHARDS)
    # No AW_DETECT_ADDRS: the shard addresses follow from AW_DETECT_SHARDS and AW_DETECT_ADDR.
    system = start_system(tmp_path, db_url, AW_DETECT_ADDRS="", AW_DETECT_SHARDS=str(SHARDS),
                          AW_DETECT_ADDR=f"127.0.0.1:{first}", AW_CHECKPOINT_INTERVAL="1")
    try:
        yield system, db_url, [f"127.0.0.1:{first + k}" for k in range(SHARDS)]
    finally:
        system.local.stop()


def shard_info(address: str) -> detect_pb2.GetShardInfoResponse:
    with grpc.insecure_channel(address) as channel:
        stub = detect_pb2_grpc.DetectServiceStub(channel)
        return stub.GetShardInfo(detect_pb2.GetShardInfoRequest(), timeout=10)


def post_probe(api: requests.Session, base_url: str, name: str) -> dict:
    point = {"metric": name, "value": 1.0, "timestamp": time.time()}
    return api.post(f"{base_url}/v1/ingest", json=point, timeout=30).json()


def wait_both_shards_reachable(api: requests.Session, base_url: str, timeout: float = 30.0) -> None:
    """Until a probe series of each shard comes back scored (ingest reconnects to a restarted
    shard with a backoff of up to 2 s; meanwhile points are stored and scored later)."""
    probes: dict[int, str] = {}
    k = 0
    while len(probes) < SHARDS:
        name = f"probe.{k}"
        probes.setdefault(shard_of(post_probe(api, base_url, name)["metric_id"], SHARDS), name)
        k += 1
    deadline = time.monotonic() + timeout
    waiting = set(probes.values())
    while waiting and time.monotonic() < deadline:
        for name in list(waiting):
            if post_probe(api, base_url, name)["scored"]:
                waiting.discard(name)
        time.sleep(0.2)
    assert not waiting, f"ingest could not reach the shards of {waiting}"


def test_two_shards_score_their_own_series_and_survive_restarts(two_shards):
    system, db_url, addresses = two_shards
    assert [p.name for p in system.local.processes if p.name.startswith("detect")] == ["detect-0", "detect-1"]
    _, key = system.new_key()
    api = system.session(key)
    data = Dataset.make("shards", N, series=24, seed=3)
    head = RetryingIngester(system.base_url, key, data.batches(0, HEAD)).run()
    assert not head.failures and head.unavailable == 0
    wait_scored(db_url, data, float(data.ts[HEAD - 1]))

    # Each shard scored exactly the points of the series it owns, and only those.
    owner = {sid: shard_of(sid, SHARDS) for sid in series_ids(api, system.base_url, data.names).values()}
    owned = [sum(1 for s in owner.values() if s == k) for k in range(SHARDS)]
    assert all(owned), f"the series did not spread over the shards: {owned}"
    base = int(system.env["AW_METRICS_PORT_BASE"])
    for k, address in enumerate(addresses):
        info = shard_info(address)
        assert (info.shard_index, info.shard_count) == (k, SHARDS)
        assert (info.series_count, info.points_scored) == (owned[k], owned[k] * HEAD)
        scraped = scrape(f"http://127.0.0.1:{base + 10 + k}/metrics")
        assert total(scraped, "aw_detect_points_scored_total") == owned[k] * HEAD
        assert total(scraped, "aw_rpc_requests_total", method="ScorePoints", code="OK") > 0

    # Shard 0 restarts gracefully; shard 1 is killed while points keep coming, then started again.
    system.local.restart("detect-0")
    detect1 = system.local.process("detect-1")
    system.local.stop_process(detect1, signal.SIGKILL)
    middle = RetryingIngester(system.base_url, key, data.batches(HEAD, MID)).run()
    assert not middle.failures and middle.unavailable == 0
    system.local.start_process(detect1)
    system.local.wait_ready(detect1)
    assert shard_info(addresses[1]).series_count == owned[1]  # restored from checkpoints and catalog

    wait_both_shards_reachable(api, system.base_url)
    tail = RetryingIngester(system.base_url, key, data.batches(MID)).run()
    assert not tail.failures
    assert_scores_continue(data, tail.answers, tail.acknowledged)
    assert_stored_exactly_once(api, system.base_url, data, head.acknowledged + middle.acknowledged
                               + tail.acknowledged)
    assert_scored_exactly_once(db_url, data, N)

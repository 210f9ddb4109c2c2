"""The detect shard in process against a real catalog server: episodes applied in catalog,
wrong-shard refusal, restore from checkpoints, and missing-data episodes on a clock."""
from __future__ import annotations

import grpc
import numpy as np
import pytest
from sqlalchemy import select

from anomalywatch.catalog.v1 import metrics_pb2, storage_pb2
from anomalywatch.common.v1 import common_pb2
from anomalywatch.detect.v1 import detect_pb2, detect_pb2_grpc
from services.catalog.models import Anomaly, Series
from services.common.errors import from_rpc_error
from services.common.grpc_server import ServiceSpec, create_server
from services.detect.engine import DetectionEngine
from services.detect.servicer import DetectServicer
from services.detect.shard import Shard
from tests.detect_shard.conftest import (
    RETENTION,
    T0,
    Clock,
    new_shard,
    score,
    scored_until,
    stat_starts,
    write,
)


def test_scores_apply_episodes_and_restore_continues_exactly(catalog):
    db, storage, account_id = catalog
    n = 400
    ts = T0 + 60.0 * np.arange(n)
    values = 50 + np.random.default_rng(0).normal(0, 1, n)
    values[[200, 320]] += 30
    clock = Clock(T0 + 60 * n)
    shard = new_shard(storage, clock)
    answer = write(storage, account_id, ts[:250], values[:250])
    scores = score(shard, answer, ts[:250], values[:250])
    assert scores[200].anomaly_id and scores[200].type == common_pb2.ANOMALY_TYPE_SPIKE
    shard.checkpoint()
    # a new process: restored from the checkpoint, it continues as if it had never stopped
    restored = new_shard(storage, clock)
    answer = write(storage, account_id, ts[250:], values[250:])
    later = score(restored, answer, ts[250:], values[250:])
    reference = DetectionEngine().score(["x"] * n, ts, values, {})
    np.testing.assert_allclose([s.anomaly_score for s in later], reference.score[250:], atol=1e-9)
    with db.read() as session:
        starts = session.scalars(select(Anomaly.started_at).where(Anomaly.source == "stat")
                                 .order_by(Anomaly.started_at)).all()
    assert starts == [ts[i] for i in np.flatnonzero(reference.episode_event == 1)]


def test_points_missed_while_away_are_scored_on_start(catalog):
    db, storage, account_id = catalog
    ts = T0 + 60.0 * np.arange(300)
    values = 10 + np.random.default_rng(1).normal(0, 1, 300)
    write(storage, account_id, ts, values)  # stored, never scored
    new_shard(storage, Clock(ts[-1]))
    with db.read() as session:
        assert session.scalars(select(Series.scored_until)).one() == ts[-1]


def test_gaps_left_by_a_failed_call_are_filled(catalog):
    db, storage, account_id = catalog
    ts = T0 + 60.0 * np.arange(200)
    values = 10 + np.random.default_rng(2).normal(0, 1, 200)
    shard = new_shard(storage, Clock(ts[-1]))
    write(storage, account_id, ts[:150], values[:150])  # these never reached the shard
    answer = write(storage, account_id, ts[150:], values[150:])
    score(shard, answer, ts[150:], values[150:])
    assert shard.engine.point_count(answer.series[0].metric_id) == 200


def test_missing_data_opens_when_silent_and_closes_when_data_returns(catalog):
    db, storage, account_id = catalog
    ts = T0 + 60.0 * np.arange(20)
    values = np.ones(20)
    clock = Clock(ts[-1] + 10)
    shard = new_shard(storage, clock)
    answer = write(storage, account_id, ts, values)
    score(shard, answer, ts, values)
    assert shard.check_staleness() == []
    clock.now += 181  # nothing arrived for more than 3 steps of 60 s
    assert len(shard.check_staleness()) == 1
    assert shard.check_staleness() == []  # once per outage
    back = ts[-1] + 600
    answer = write(storage, account_id, [back], [1.0])
    score(shard, answer, [back], [1.0])
    with db.read() as session:
        outage = session.scalars(select(Anomaly).where(Anomaly.type == "missing_data")).one()
    assert (outage.started_at, outage.ended_at, outage.severity) == (clock.now, back, "warning")


def test_a_backfill_of_old_points_is_not_an_outage(catalog):
    db, storage, account_id = catalog
    ts = T0 + 60.0 * np.arange(20)
    clock = Clock(ts[-1] + 20 * 86400)  # the points are weeks old, and arrive now
    shard = new_shard(storage, clock)
    answer = write(storage, account_id, ts, np.ones(20))
    score(shard, answer, ts, np.ones(20))
    assert shard.check_staleness() == []
    clock.now += 181  # then nothing more arrives for over 3 steps: now it is one
    assert len(shard.check_staleness()) == 1


def test_a_series_of_another_shard_is_refused(catalog):
    _, storage, _ = catalog
    from services.common.sharding import shard_of

    shard = Shard(DetectionEngine(), storage, 0, 2, 30.0, Clock(T0))
    shard.ready = True
    spec = ServiceSpec("detect", lambda s: detect_pb2_grpc.add_DetectServiceServicer_to_server(
        DetectServicer(shard, RETENTION), s), ())
    server, port, _ = create_server(spec, "127.0.0.1:0")
    server.start()
    foreign = next(f"met_{i:016d}" for i in range(100) if shard_of(f"met_{i:016d}", 2) == 1)
    stub = detect_pb2_grpc.DetectServiceStub(grpc.insecure_channel(f"127.0.0.1:{port}"))
    with pytest.raises(grpc.RpcError) as refused:
        stub.ScorePoints(detect_pb2.ScorePointsRequest(
            series=[detect_pb2.SeriesToScore(metric_id=foreign, config=metrics_pb2.AnomalyConfig())],
            series_index=[0], times=[T0], values=[1.0]), timeout=10)
    assert from_rpc_error(refused.value).code == "WRONG_SHARD"
    server.stop(0)


def test_stored_points_that_never_reached_the_shard_are_caught_up_exactly_once(catalog):
    db, storage, account_id = catalog
    n = 300
    ts = T0 + 60.0 * np.arange(n)
    values = 50 + np.random.default_rng(3).normal(0, 1, n)
    values[[120, 250]] += 30
    clock = Clock(ts[-1] + 5)
    shard = new_shard(storage, clock)
    delivered = write(storage, account_id, ts[:200], values[:200])
    score(shard, delivered, ts[:200], values[:200])
    # ingest stored these, detect refused the call, ingest restarted: nobody will send them again
    old = write(storage, account_id, ts[200:], values[200:]).series[0].metric_id
    new = write(storage, account_id, ts, values, metric="never_seen").series[0].metric_id
    assert (scored_until(db, old), scored_until(db, new)) == (ts[199], None)

    assert shard.catch_up() == 0  # first seen behind: ingest's own path may be about to score them
    assert (scored_until(db, old), scored_until(db, new)) == (ts[199], None)
    clock.now += shard.catch_up_grace
    assert shard.catch_up() == (n - 200) + n

    reference = DetectionEngine().score(["x"] * n, ts, values, {})
    expected = [ts[i] for i in np.flatnonzero(reference.episode_event == 1)]
    assert len(expected) == 2
    for sid in (old, new):
        assert scored_until(db, sid) == ts[-1]
        assert shard.engine.point_count(sid) == n
        assert stat_starts(db, sid) == expected
    clock.now += 10 * shard.catch_up_grace
    assert shard.catch_up() == 0  # nothing behind: nothing read but the (empty) behind index
    assert shard.catch_up() == 0
    assert [stat_starts(db, sid) for sid in (old, new)] == [expected, expected]


def test_catch_up_leaves_points_that_ingest_delivers_within_the_grace(catalog):
    db, storage, account_id = catalog
    ts = T0 + 60.0 * np.arange(50)
    values = 10 + np.random.default_rng(4).normal(0, 1, 50)
    clock = Clock(ts[-1])
    shard = new_shard(storage, clock)
    answer = write(storage, account_id, ts, values)
    assert shard.catch_up() == 0  # seen behind while ingest is about to deliver
    scores = score(shard, answer, ts, values)
    assert all(s.scored for s in scores)
    later = ts[-1] + 60
    answer = write(storage, account_id, [later], [10.0])  # behind again, but newly
    clock.now += shard.catch_up_grace
    assert shard.catch_up() == 0
    assert score(shard, answer, [later], [10.0])[0].scored
    assert scored_until(db, answer.series[0].metric_id) == later


def test_behind_series_are_listed_by_shard_and_paged(catalog):
    db, storage, account_id = catalog
    from services.common.sharding import shard_of

    ids = {write(storage, account_id, [T0], [1.0], metric=f"m{i}").series[0].metric_id for i in range(6)}
    found = {}
    for index in (0, 1):
        after, pages = "", 0
        while True:
            page = storage.ListBehindSeries(storage_pb2.ListBehindSeriesRequest(
                shard_index=index, shard_count=2, after_metric_id=after, limit=2), timeout=10)
            found.update({s.metric_id: index for s in page.series})
            assert all(s.last_time.seconds == int(T0) and not s.HasField("scored_until") for s in page.series)
            after, pages = page.next_after_metric_id, pages + 1
            if not after:
                break
        assert pages == 3
    assert found == {sid: shard_of(sid, 2) for sid in ids}
    with pytest.raises(grpc.RpcError) as refused:
        storage.ListBehindSeries(storage_pb2.ListBehindSeriesRequest(shard_index=0, shard_count=1, limit=-1))
    assert from_rpc_error(refused.value).code == "VALIDATION_ERROR"


def test_the_behind_query_reads_the_partial_index_on_sqlite(catalog):
    db, _, _ = catalog
    from sqlalchemy import inspect, text

    from services.catalog.models import SERIES_BEHIND

    indexes = {ix["name"] for ix in inspect(db.engine).get_indexes("series")}
    if db.engine.dialect.name != "sqlite":  # it would make every series update non-HOT there
        assert "ix_series_behind" not in indexes
        return
    query = select(Series.id).where(text(SERIES_BEHIND), Series.id > "").order_by(Series.id).limit(10)
    sql = str(query.compile(db.engine, compile_kwargs={"literal_binds": True}))
    with db.read() as session:
        plan = " ".join(str(row) for row in session.execute(text("EXPLAIN QUERY PLAN " + sql)))
    assert "USING INDEX ix_series_behind" in plan

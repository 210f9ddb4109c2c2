"""What the detect shard tests share: a real catalog server in process, a settable clock, and
writing points to catalog then scoring them as ingest does."""
from __future__ import annotations

from typing import NamedTuple

import grpc
import pytest
from sqlalchemy import select

from anomalywatch.catalog.v1 import storage_pb2, storage_pb2_grpc
from anomalywatch.common.v1 import common_pb2
from anomalywatch.detect.v1 import detect_pb2
from services.catalog import accounts
from services.catalog.db import Database
from services.catalog.models import Anomaly, Series
from services.catalog.server import build_spec as catalog_spec
from services.common.config import load_settings
from services.common.grpc_server import create_server
from services.detect.engine import DetectionEngine
from services.detect.shard import Shard

T0 = 1_800_000_000.0
RETENTION = 30 * 86400.0


class Clock:
    def __init__(self, now: float):
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def catalog(database_url):
    db = Database(database_url)
    server, port, _ = create_server(catalog_spec(load_settings({}), db), "127.0.0.1:0")
    server.start()
    with db.transaction() as session:
        account = accounts.create_account(session, "acme", "enterprise", {"enterprise"}, T0)
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    yield db, storage_pb2_grpc.StorageServiceStub(channel), account.id
    server.stop(0)
    db.dispose()


def write(storage, account_id, ts, values, metric="m"):
    scope = common_pb2.Scope(account_id=account_id, environment=common_pb2.ENVIRONMENT_LIVE)
    return storage.WritePoints(storage_pb2.WritePointsRequest(
        scope=scope, series=[storage_pb2.SeriesKey(metric=metric)], series_index=[0] * len(ts),
        times=list(ts), values=list(values)), timeout=30)


def to_score(answer, ts, values):
    """The written points as a ScorePoints request (every write here is of one series)."""
    written = answer.series[0]
    series = detect_pb2.SeriesToScore(metric_id=written.metric_id, config=written.config)
    if written.HasField("last_time_before"):
        series.previous_time.CopyFrom(written.last_time_before)
    return detect_pb2.ScorePointsRequest(series=[series], series_index=[0] * len(ts), times=list(ts),
                                         values=list(values))


class Verdict(NamedTuple):
    scored: bool
    anomaly_score: float
    type: int
    anomaly_id: str


def score(shard, answer, ts, values) -> list[Verdict]:
    """Scores the written points and reports the progress (as the shard's timer does); the
    verdicts per point."""
    response = shard.score_points(to_score(answer, ts, values))
    shard.flush_progress()
    ids = {a.index: a.anomaly_id for a in response.anomalies}
    return [Verdict(scored, x, kind, ids.get(i, "")) for i, (scored, x, kind) in
            enumerate(zip(response.scored, response.anomaly_score, response.type, strict=True))]


def new_shard(storage, clock, engine=None) -> Shard:
    shard = Shard(engine or DetectionEngine(), storage, 0, 1, 30.0, clock)
    shard.restore()
    return shard


def stat_starts(db, series_id):
    with db.read() as session:
        return session.scalars(select(Anomaly.started_at).where(
            Anomaly.source == "stat", Anomaly.series_id == series_id).order_by(Anomaly.started_at)).all()


def scored_until(db, series_id):
    with db.read() as session:
        return session.get(Series, series_id).scored_until

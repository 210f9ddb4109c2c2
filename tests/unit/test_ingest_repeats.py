"""A repeated point (catalog answers `duplicate`) asks its shard to catch up to it: the first
attempt may have been stored without ever reaching detect. Fakes for catalog and detect."""
from __future__ import annotations

from anomalywatch.catalog.v1 import metrics_pb2, storage_pb2
from anomalywatch.ingest.v1 import ingest_pb2
from services.common.auth import Principal
from services.common.timeutil import to_timestamp
from services.ingest.pipeline import IngestPipeline

NOW = 1_800_000_000.0
CONFIG = metrics_pb2.AnomalyConfig(enabled=True, min_data_points=100)
PRINCIPAL = Principal("key_1", "acct_1", "live", frozenset({"ingest"}), "pro")


class FakeCatalog:
    """Stores `new` metrics' points; answers every other point as an exact repeat."""

    def __init__(self, new: set[str]):
        self.new, self.config_requests = new, []

    def WritePoints(self, request, timeout):  # noqa: N802 - the gRPC method name
        results = []
        for p in request.points:
            stored = p.metric in self.new
            outcome = storage_pb2.WRITE_OUTCOME_STORED if stored else storage_pb2.WRITE_OUTCOME_DUPLICATE
            results.append(storage_pb2.PointWriteResult(index=p.index, metric_id=f"met_{p.metric}",
                                                        series_point_count=5, outcome=outcome))
        stored = {f"met_{m}" for m in self.new}
        return storage_pb2.WritePointsResponse(results=results, configs=[
            storage_pb2.SeriesConfig(metric_id=sid, config=CONFIG) for sid in stored])

    def GetSeriesConfigs(self, request, timeout):  # noqa: N802
        self.config_requests.append(list(request.metric_ids))
        return storage_pb2.GetSeriesConfigsResponse(configs=[
            storage_pb2.SeriesConfig(metric_id=sid, config=CONFIG) for sid in request.metric_ids])


class FakeRouter:
    def __init__(self):
        self.sent = []

    def score(self, points):
        self.sent.extend(points)
        return [None] * len(points)  # as when detect is unreachable: answers stay unscored


def ingest(catalog, router, points):
    pipeline = IngestPipeline(catalog, router, retention_seconds=86400.0, timeout=5.0, clock=lambda: NOW)
    return pipeline.ingest(PRINCIPAL, [ingest_pb2.Point(metric=m, value=v, time=to_timestamp(t))
                                       for m, t, v in points], test_only=False)


def test_a_series_with_only_repeats_catches_up_to_its_latest_one():
    catalog, router = FakeCatalog(new=set()), FakeRouter()
    answer = ingest(catalog, router, [("a", NOW - 120, 1.0), ("a", NOW - 60, 2.0)])
    assert [r.status for r in answer.results] == [ingest_pb2.POINT_STATUS_DUPLICATE] * 2
    assert [(p.series_id, p.ts, p.previous_ts) for p in router.sent] == [("met_a", NOW - 60, NOW - 60)]
    assert router.sent[0].config == CONFIG
    assert catalog.config_requests == [["met_a"]]  # catalog's write answer has configs of stored series only


def test_repeats_catch_up_after_the_stored_points_of_other_series():
    catalog, router = FakeCatalog(new={"b"}), FakeRouter()
    answer = ingest(catalog, router, [("a", NOW - 60, 1.0), ("b", NOW - 60, 3.0)])
    assert [r.status for r in answer.results] == [ingest_pb2.POINT_STATUS_DUPLICATE,
                                                  ingest_pb2.POINT_STATUS_INGESTED]
    # The stored point first (its answer is matched to the first verdict), then the catch-up.
    assert [(p.series_id, p.previous_ts) for p in router.sent] == [("met_b", None), ("met_a", NOW - 60)]
    assert catalog.config_requests == [["met_a"]]


def test_a_repeat_with_a_stored_point_of_its_series_needs_no_catch_up():
    catalog, router = FakeCatalog(new={"a"}), FakeRouter()
    catalog.WritePoints = _first_repeated(catalog.WritePoints)
    ingest(catalog, router, [("a", NOW - 120, 1.0), ("a", NOW - 60, 2.0)])
    assert [(p.ts, p.previous_ts) for p in router.sent] == [(NOW - 60, None)]  # its gap filling covers it
    assert catalog.config_requests == []


def _first_repeated(write):
    def call(request, timeout):
        answer = write(request, timeout)
        answer.results[0].outcome = storage_pb2.WRITE_OUTCOME_DUPLICATE
        return answer
    return call

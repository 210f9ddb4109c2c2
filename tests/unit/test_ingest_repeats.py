"""A repeated point (catalog answers `duplicate`) asks its shard to catch up to it: the first
attempt may have been stored without ever reaching detect. Fakes for catalog and detect."""
from __future__ import annotations

from anomalywatch.catalog.v1 import metrics_pb2, storage_pb2
from anomalywatch.common.v1 import common_pb2
from anomalywatch.ingest.v1 import ingest_pb2
from services.common.auth import Principal
from services.common.timeutil import to_timestamp
from services.ingest.detect_router import Verdicts
from services.ingest.pipeline import IngestPipeline

NOW = 1_800_000_000.0
CONFIG = metrics_pb2.AnomalyConfig(enabled=True, min_data_points=100)
PRINCIPAL = Principal("key_1", "acct_1", "live", frozenset({"ingest"}), "pro")


class FakeCatalog:
    """Stores `new` metrics' points; answers every other point as an exact repeat. Every series
    it knows comes back with its config, stored or not."""

    def __init__(self, new: set[str]):
        self.new = new

    def WritePoints(self, request, timeout):  # noqa: N802 - the gRPC method name
        stored = [request.series[j].metric in self.new for j in request.series_index]
        return storage_pb2.WritePointsResponse(
            outcomes=[storage_pb2.WRITE_OUTCOME_STORED if s else storage_pb2.WRITE_OUTCOME_DUPLICATE
                      for s in stored],
            series=[storage_pb2.SeriesWritten(metric_id=f"met_{k.metric}", point_count_before=5,
                                              config=CONFIG) for k in request.series])


class FakeRouter:
    """Records what would be scored, as (series id, time, previous time of the series, config)."""

    def __init__(self):
        self.sent = []

    def score(self, points):
        first = set()
        for j, ts in zip(points.series_index, points.times, strict=True):
            series = points.series[j]
            previous = series.previous_ts if series.series_id not in first else "chained"
            first.add(series.series_id)
            self.sent.append((series.series_id, ts, previous, series.config))
        return Verdicts.unscored(len(points))  # as when detect is unreachable: answers stay unscored


def ingest(catalog, router, points):
    pipeline = IngestPipeline(catalog, router, retention_seconds=86400.0, timeout=5.0, clock=lambda: NOW)
    return pipeline.ingest(PRINCIPAL, [ingest_pb2.Point(metric=m, value=v, time=to_timestamp(t))
                                       for m, t, v in points], test_only=False)


def test_a_series_with_only_repeats_catches_up_to_its_latest_one():
    catalog, router = FakeCatalog(new=set()), FakeRouter()
    answer = ingest(catalog, router, [("a", NOW - 120, 1.0), ("a", NOW - 60, 2.0)])
    assert [r.status for r in answer.results] == [ingest_pb2.POINT_STATUS_DUPLICATE] * 2
    assert [(sid, ts, previous) for sid, ts, previous, _ in router.sent] == [("met_a", NOW - 60, NOW - 60)]
    assert router.sent[0][3] == CONFIG  # from the write's answer: no second catalog call


def test_repeats_catch_up_after_the_stored_points_of_other_series():
    catalog, router = FakeCatalog(new={"b"}), FakeRouter()
    answer = ingest(catalog, router, [("a", NOW - 60, 1.0), ("b", NOW - 60, 3.0)])
    assert [r.status for r in answer.results] == [ingest_pb2.POINT_STATUS_DUPLICATE,
                                                  ingest_pb2.POINT_STATUS_INGESTED]
    # The stored point first (its answer is matched to the first verdict), then the catch-up.
    assert [(sid, previous) for sid, _, previous, _ in router.sent] == [("met_b", None), ("met_a", NOW - 60)]


def test_a_repeat_with_a_stored_point_of_its_series_needs_no_catch_up():
    catalog, router = FakeCatalog(new={"a"}), FakeRouter()
    catalog.WritePoints = _first_repeated(catalog.WritePoints)
    ingest(catalog, router, [("a", NOW - 120, 1.0), ("a", NOW - 60, 2.0)])
    # its gap filling covers it
    assert [(ts, previous) for _, ts, previous, _ in router.sent] == [(NOW - 60, None)]


def test_stored_points_are_learning_up_to_min_data_points_and_rule_hits_are_answered():
    catalog, router = FakeCatalog(new={"a"}), FakeRouter()
    write = catalog.WritePoints

    def with_a_hit(request, timeout):
        answer = write(request, timeout)
        answer.series[0].point_count_before = 98  # the 100th point is the last that learns
        answer.rule_hits.add(index=2, anomaly_id="anom_1", rule_id="rule_1",
                             severity=common_pb2.SEVERITY_CRITICAL)
        return answer

    catalog.WritePoints = with_a_hit
    answer = ingest(catalog, router, [("a", NOW - 3, 1.0), ("a", NOW - 2, 2.0), ("a", NOW - 1, 3.0)])
    assert [r.learning for r in answer.results] == [True, True, False]
    assert [r.anomaly_id for r in answer.results] == ["", "", "anom_1"]
    assert answer.results[2].type == common_pb2.ANOMALY_TYPE_THRESHOLD
    assert [(ts, previous) for _, ts, previous, _ in router.sent] == [
        (NOW - 3, None), (NOW - 2, "chained"), (NOW - 1, "chained")]


def _first_repeated(write):
    def call(request, timeout):
        answer = write(request, timeout)
        answer.outcomes[0] = storage_pb2.WRITE_OUTCOME_DUPLICATE
        return answer
    return call

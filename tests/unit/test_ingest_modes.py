"""The ingest pipeline's test-only and all-or-nothing calls: what catalog's WritePoints is asked, that
a write that kept nothing is never scored, and how each point is answered. Fakes for catalog and
detect."""
from __future__ import annotations

from anomalywatch.catalog.v1 import metrics_pb2, storage_pb2
from anomalywatch.ingest.v1 import ingest_pb2
from services.common.auth import Principal
from services.common.timeutil import to_timestamp
from services.ingest.detect_router import Verdicts
from services.ingest.pipeline import IngestPipeline

NOW = 1_800_000_000.0
PRINCIPAL = Principal("key_1", "acct_1", "live", frozenset({"ingest"}), "pro")
STORED, DUPLICATE, REJECTED = (storage_pb2.WRITE_OUTCOME_STORED, storage_pb2.WRITE_OUTCOME_DUPLICATE,
                               storage_pb2.WRITE_OUTCOME_REJECTED)
ORDER = "invalid timestamp - 2027-01-15T08:00:00Z - timestamp is not after the series' latest point"


class Catalog:
    """Judges point 0 stored, 1 a repeat, 2 out of order; rolls back as WritePoints does."""

    def __init__(self):
        self.writes: list[storage_pb2.WritePointsRequest] = []
        self.test_posts: list[list[str]] = []

    def WritePoints(self, request, timeout):  # noqa: N802 - the gRPC method names
        self.writes.append(request)
        outcomes = [STORED, DUPLICATE, REJECTED][:len(request.times)]
        rejected = REJECTED in outcomes
        series = storage_pb2.SeriesWritten(metric_id="met_a", point_count_before=500,
                                           config=metrics_pb2.AnomalyConfig(min_data_points=100))
        return storage_pb2.WritePointsResponse(
            outcomes=outcomes, series=[series],
            rejections=[storage_pb2.PointRejection(index=2, error=ORDER, error_code="VALIDATION_ERROR")]
            if rejected else [],
            rolled_back=request.validate_only or (request.all_or_nothing and rejected))

    def RecordTestPost(self, request, timeout):  # noqa: N802
        self.test_posts.append(list(request.metrics))
        return storage_pb2.RecordTestPostResponse()


class Detect:
    def __init__(self):
        self.scored = 0

    def score(self, points):
        self.scored += len(points)
        return Verdicts.unscored(len(points))


def run(n: int, test_only: bool = False, all_or_nothing: bool = False, bad_value_at: int | None = None):
    catalog, detect = Catalog(), Detect()
    pipeline = IngestPipeline(catalog, detect, retention_seconds=86400.0, timeout=5.0, clock=lambda: NOW)
    points = [ingest_pb2.Point(metric="a", value=float("nan") if i == bad_value_at else 1.0,
                               time=to_timestamp(NOW - n + i)) for i in range(n)]
    answer = pipeline.ingest(PRINCIPAL, points, test_only, all_or_nothing)
    return catalog, detect, [(r.status, r.error, r.error_code, r.metric_id, r.learning)
                             for r in answer.results]


JUDGED = [(ingest_pb2.POINT_STATUS_INGESTED, "", "", "", False),
          (ingest_pb2.POINT_STATUS_DUPLICATE, "", "", "", False),
          (ingest_pb2.POINT_STATUS_REJECTED, ORDER, "VALIDATION_ERROR", "", False)]


def test_a_test_post_is_judged_by_a_validate_only_write_recorded_and_never_scored():
    catalog, detect, results = run(3, test_only=True)
    assert [(w.validate_only, w.all_or_nothing) for w in catalog.writes] == [(True, False)]
    assert catalog.test_posts == [["a", "a", "a"]] and detect.scored == 0
    assert results == JUDGED


def test_an_all_or_nothing_call_refused_in_catalog_is_answered_as_judged_and_never_scored():
    catalog, detect, results = run(3, all_or_nothing=True)
    assert [(w.validate_only, w.all_or_nothing) for w in catalog.writes] == [(False, True)]
    assert detect.scored == 0 and not catalog.test_posts
    assert results == JUDGED


def test_an_all_or_nothing_call_kept_whole_is_stored_and_scored():
    catalog, detect, results = run(2, all_or_nothing=True)
    assert detect.scored == 1
    assert [r[:4] for r in results] == [(ingest_pb2.POINT_STATUS_INGESTED, "", "", "met_a"),
                                        (ingest_pb2.POINT_STATUS_DUPLICATE, "", "", "met_a")]


def test_an_all_or_nothing_call_with_a_point_ingest_refuses_is_only_judged_by_catalog():
    catalog, detect, results = run(3, all_or_nothing=True, bad_value_at=0)
    assert [(w.validate_only, w.all_or_nothing) for w in catalog.writes] == [(True, True)]
    assert detect.scored == 0
    assert results[0][0] == ingest_pb2.POINT_STATUS_REJECTED and results[0][1].startswith("invalid value")
    assert results[1:] == JUDGED[:2]

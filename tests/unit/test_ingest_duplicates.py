"""An exact repeat of a stored point is answered `duplicate` with its series' `learning` as it
stands (API.md: learning for the first min_data_points points), like a stored point of that
series would be. Fakes for catalog and detect."""
from __future__ import annotations

import pytest

from anomalywatch.catalog.v1 import metrics_pb2, storage_pb2
from anomalywatch.ingest.v1 import ingest_pb2
from services.common.auth import Principal
from services.common.timeutil import to_timestamp
from services.ingest.detect_router import Verdicts
from services.ingest.pipeline import IngestPipeline

NOW = 1_800_000_000.0
PRINCIPAL = Principal("key_1", "acct_1", "live", frozenset({"ingest"}), "pro")
STORED, DUPLICATE = storage_pb2.WRITE_OUTCOME_STORED, storage_pb2.WRITE_OUTCOME_DUPLICATE


class Catalog:
    """One series holding `before` points (min_data_points 100); answers the given outcomes."""

    def __init__(self, before: int, outcomes: list[int]):
        self.before, self.outcomes = before, outcomes

    def WritePoints(self, request, timeout):  # noqa: N802 - the gRPC method name
        series = storage_pb2.SeriesWritten(metric_id="met_a", point_count_before=self.before,
                                           config=metrics_pb2.AnomalyConfig(min_data_points=100))
        return storage_pb2.WritePointsResponse(outcomes=self.outcomes, series=[series])


class Detect:
    def score(self, points):
        return Verdicts.unscored(len(points))


@pytest.mark.parametrize("before,outcomes,learning", [
    (5, [DUPLICATE], [True]),
    (100, [DUPLICATE], [True]),  # the 100th point is still learning
    (101, [DUPLICATE], [False]),
    (99, [STORED, DUPLICATE], [True, True]),
    (99, [STORED, STORED, DUPLICATE], [True, False, False]),
    (99, [DUPLICATE, STORED, STORED], [True, True, False]),
])
def test_a_repeat_is_learning_while_its_series_is(before, outcomes, learning):
    pipeline = IngestPipeline(Catalog(before, outcomes), Detect(), retention_seconds=86400.0, timeout=5.0,
                              clock=lambda: NOW)
    points = [ingest_pb2.Point(metric="a", value=1.0, time=to_timestamp(NOW - len(outcomes) + i))
              for i in range(len(outcomes))]
    answer = pipeline.ingest(PRINCIPAL, points, test_only=False)
    assert [r.status for r in answer.results] == [
        ingest_pb2.POINT_STATUS_DUPLICATE if o == DUPLICATE else ingest_pb2.POINT_STATUS_INGESTED
        for o in outcomes]
    assert [r.learning for r in answer.results] == learning
    assert all(r.metric_id == "met_a" for r in answer.results)

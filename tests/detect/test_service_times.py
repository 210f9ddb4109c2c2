"""DetectService.ScorePoints refuses a call with a time outside the window ingest accepts
(widened by the delivery slack), before anything changes; times inside it are scored."""
from __future__ import annotations

import grpc
import pytest

from anomalywatch.catalog.v1 import metrics_pb2
from anomalywatch.detect.v1 import detect_pb2
from services.common.errors import ServiceError
from services.common.time_window import FUTURE_TOLERANCE
from services.detect.engine import DetectionEngine
from services.detect.servicer import DELIVERY_SLACK, DetectServicer
from services.detect.shard import Shard

NOW = 1_800_000_000.0
RETENTION = 30 * 86400.0
EARLIEST, LATEST = NOW - RETENTION - DELIVERY_SLACK, NOW + FUTURE_TOLERANCE + DELIVERY_SLACK


class NoCatalog:
    """A catalog stub that no call here should reach (learning points raise no event)."""

    def __getattr__(self, name):
        raise AssertionError(f"catalog.{name} was called")


def servicer() -> DetectServicer:
    shard = Shard(DetectionEngine(), NoCatalog(), 0, 1, 5.0, clock=lambda: NOW)
    shard.ready = True
    return DetectServicer(shard, RETENTION)


def request(times, metric_id="met_a") -> detect_pb2.ScorePointsRequest:
    return detect_pb2.ScorePointsRequest(
        series=[detect_pb2.SeriesToScore(metric_id=metric_id, config=metrics_pb2.AnomalyConfig())],
        series_index=[0] * len(times), times=list(times), values=[1.0] * len(times))


@pytest.mark.parametrize("bad", [1e300, -1e300, 1e15, 1e12, -1.0, 0.0, LATEST + 1, EARLIEST - 1])
def test_a_time_outside_the_window_is_invalid_argument_and_changes_nothing(bad):
    service = servicer()
    with pytest.raises(ServiceError) as refused:
        service.ScorePoints(request([NOW - 60, bad]), None)  # a good point first: not scored either
    assert refused.value.code == "VALIDATION_ERROR"
    assert refused.value.grpc_code == grpc.StatusCode.INVALID_ARGUMENT
    assert refused.value.details["field"] == "times"
    shard = service.shard
    assert (shard.engine.series_ids(), shard.progress, shard.dirty, shard.points_scored) == ([], {}, set(), 0)
    # the series goes on scoring: nothing was recorded of the refused call
    answer = service.ScorePoints(request([NOW - 60, NOW]), None)
    assert list(answer.scored) == [True, True]


def test_the_edges_of_the_window_are_scored():
    answer = servicer().ScorePoints(request([EARLIEST, NOW, LATEST]), None)
    assert list(answer.scored) == [True, True, True]
    assert all(answer.learning)


def test_an_empty_call_is_answered_empty():
    answer = servicer().ScorePoints(detect_pb2.ScorePointsRequest(), None)
    assert (list(answer.scored), list(answer.anomalies)) == ([], [])

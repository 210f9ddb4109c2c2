"""The history ForecastServicer reads from catalog: the most recent points of the series, within
the configured window, so the forecast continues from the series' last point."""
from __future__ import annotations

import grpc
import pytest

from anomalywatch.catalog.v1 import metrics_pb2, storage_pb2
from anomalywatch.common.v1 import common_pb2
from anomalywatch.forecast.v1 import forecast_pb2
from services.common.auth import generate_key
from services.common.errors import ServiceError
from services.common.timeutil import from_timestamp, to_timestamp
from services.forecast import servicer as servicer_module
from services.forecast.servicer import ForecastServicer

T0 = 1_800_000_000.0


class Storage:
    """ReadPoints as storage.proto describes it: the oldest `limit` points after `after_time`, or
    the latest `limit` at or before `latest_before_time` (oldest first either way)."""

    def __init__(self, points: list[tuple[float, float]]):
        self.points = points

    def ReadPoints(self, request, timeout=None, metadata=()):
        limit = request.limit or 10_000
        if request.HasField("latest_before_time"):
            before = from_timestamp(request.latest_before_time)
            chosen = [p for p in self.points if p[0] <= before][-limit:]
        else:
            after = from_timestamp(request.after_time) if request.HasField("after_time") else -float("inf")
            chosen = [p for p in self.points if p[0] > after][:limit]
        return storage_pb2.ReadPointsResponse(
            points=[common_pb2.DataPoint(time=to_timestamp(t), value=v) for t, v in chosen])


class Metrics:
    def __init__(self, metric: metrics_pb2.Metric):
        self.metric = metric

    def GetMetric(self, request, timeout=None, metadata=()):
        return metrics_pb2.GetMetricResponse(metric=self.metric)


class Principals:
    def from_context(self, context, scope=None):
        return None


class Context:
    def invocation_metadata(self):
        return (("authorization", f"Bearer {generate_key('live')}"),)


def forecast_of(points: list[tuple[float, float]], history_seconds: float) -> forecast_pb2.ForecastResponse:
    metric = metrics_pb2.Metric(id="met_dense", name="dense", last_seen_time=to_timestamp(points[-1][0]))
    request = forecast_pb2.ForecastRequest(metric_id="met_dense", horizon="3", model="seasonal_naive")
    with grpc.insecure_channel("127.0.0.1:9") as unused:  # the stubs are replaced: never dialled
        servicer = ForecastServicer(unused, Principals(), history_seconds, timeout=5)
        servicer.metrics, servicer.storage = Metrics(metric), Storage(points)
        return servicer.Forecast(request, Context())


def test_a_series_with_more_points_than_one_read_is_forecast_from_its_last_point(monkeypatch):
    monkeypatch.setattr(servicer_module, "MAX_HISTORY_POINTS", 50)
    points = [(T0 + i, float(i)) for i in range(200)]
    answer = forecast_of(points, history_seconds=86_400)
    assert [from_timestamp(p.time) for p in answer.forecast] == [T0 + 200, T0 + 201, T0 + 202]
    assert [p.value for p in answer.forecast] == [199.0] * 3  # naive: the last value, repeated


@pytest.mark.parametrize("count", [5, 9])
def test_points_before_the_history_window_are_not_read(count):
    """50 points long ago (within the 10,000 grid steps) and a few recent ones: with a window of
    100 s only the recent ones count, too few to forecast."""
    old = [(T0 + i, 1.0) for i in range(50)]
    recent = [(T0 + 10_000 + i, 2.0) for i in range(count)]
    with pytest.raises(ServiceError) as caught:
        forecast_of(old + recent, history_seconds=100)
    assert caught.value.code == "INSUFFICIENT_DATA"

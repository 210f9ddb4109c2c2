"""ForecastService over gRPC: resolve the series (scoped by the caller's key), read its history
from catalog, forecast with the domain code, answer."""
from __future__ import annotations

from collections.abc import Callable

import grpc
import numpy as np
from google.protobuf.timestamp_pb2 import Timestamp

from anomalywatch.catalog.v1 import metrics_pb2, metrics_pb2_grpc, storage_pb2, storage_pb2_grpc
from anomalywatch.forecast.v1 import forecast_pb2, forecast_pb2_grpc
from services.common.auth import PrincipalCache, bearer_key, metadata_value
from services.common.errors import ServiceError, from_rpc_error
from services.common.timeutil import from_timestamp, to_timestamp
from services.forecast.errors import ForecastError
from services.forecast.forecaster import forecast
from services.forecast.registry import list_models

MAX_HISTORY_POINTS = 100_000


class ForecastServicer(forecast_pb2_grpc.ForecastServiceServicer):
    def __init__(self, catalog: grpc.Channel, principals: PrincipalCache, history_seconds: float,
                 timeout: float, run_forecast: Callable = forecast):
        self.metrics = metrics_pb2_grpc.MetricServiceStub(catalog)
        self.storage = storage_pb2_grpc.StorageServiceStub(catalog)
        self.principals, self.history, self.timeout = principals, history_seconds, timeout
        self.run_forecast = run_forecast

    def _call(self, method, request, key: str | None = None):
        metadata = (("authorization", f"Bearer {key}"),) if key else ()
        try:
            return method(request, timeout=self.timeout, metadata=metadata)
        except grpc.RpcError as error:
            raise from_rpc_error(error) from None

    def _series(self, request, key: str) -> metrics_pb2.Metric:
        if request.metric_id:
            return self._call(self.metrics.GetMetric,
                              metrics_pb2.GetMetricRequest(metric_id=request.metric_id), key).metric
        if not request.metric:
            raise ServiceError("VALIDATION_ERROR", "give `metric` (a name) or `metric_id`",
                               {"field": "metric"})
        found = self._call(self.metrics.ListMetrics, metrics_pb2.ListMetricsRequest(
            name=request.metric, tags=dict(request.tags)), key)
        if not found.metrics:
            raise ServiceError("METRIC_NOT_FOUND", f"no series named {request.metric} with those tags",
                               {"metric": request.metric, "tags": dict(request.tags)})
        if found.page.total_size > 1:
            ids = [m.id for m in found.metrics]
            raise ServiceError("VALIDATION_ERROR", f"{request.metric} names {found.page.total_size} series; "
                               "choose one with `tags` or `metric_id`",
                               {"field": "tags", "candidates": ids,
                                "suggestion": "pass metric_id, or tags that match one series"})
        return found.metrics[0]

    def _history(self, series: metrics_pb2.Metric) -> tuple[np.ndarray, np.ndarray]:
        """The series' latest points (at most MAX_HISTORY_POINTS) within the history window before
        its last one. Read newest first: a read after the window's start would return its oldest
        points, and a dense series would be forecast from the middle of its history."""
        if not series.HasField("last_seen_time"):
            return np.zeros(0), np.zeros(0)
        # up to the next whole second: the last point's time may not survive a round trip through a
        # Timestamp exactly, and no point is later than the last one
        until = Timestamp(seconds=series.last_seen_time.seconds + 1)
        points = self._call(self.storage.ReadPoints, storage_pb2.ReadPointsRequest(
            metric_id=series.id, latest_before_time=until, limit=MAX_HISTORY_POINTS)).points
        ts = np.array([from_timestamp(p.time) for p in points], dtype=float)
        values = np.array([p.value for p in points], dtype=float)
        recent = ts > from_timestamp(series.last_seen_time) - self.history
        return ts[recent], values[recent]

    def Forecast(self, request, context):
        self.principals.from_context(context, "forecast")
        key = bearer_key(metadata_value(context, "authorization"))
        series = self._series(request, key)
        ts, values = self._history(series)
        try:
            result = self.run_forecast(ts, values, request.horizon or "24h", model=request.model or "auto",
                                       confidence=request.confidence or 0.95)
        except ForecastError as error:
            raise ServiceError(error.code, error.message, error.details) from None
        return forecast_pb2.ForecastResponse(
            forecast=[forecast_pb2.ForecastPoint(time=to_timestamp(float(t)), value=float(v), lower=float(lo),
                                                 upper=float(hi))
                      for t, v, lo, hi in zip(result.timestamps, result.values, result.lower, result.upper,
                                              strict=True)],
            model=result.model, confidence=result.confidence, metric_id=series.id,
            step_seconds=result.step_seconds)

    def ListForecastModels(self, request, context):
        self.principals.from_context(context)
        return forecast_pb2.ListForecastModelsResponse(models=[
            forecast_pb2.ForecastModel(name=m.name, available=m.available, description=m.description,
                                       unavailable_reason=m.reason_if_unavailable, family=m.kind)
            for m in list_models()])

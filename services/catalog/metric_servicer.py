"""MetricService: series, points and anomaly configuration over gRPC."""
from __future__ import annotations

import re
import time
from collections.abc import Callable

from anomalywatch.catalog.v1 import metrics_pb2, metrics_pb2_grpc
from anomalywatch.common.v1 import common_pb2
from services.catalog import configs, convert, metric_reads
from services.catalog.configs import Scope
from services.catalog.db import Database
from services.catalog.series_rules import check_metric_name
from services.common import paging
from services.common.auth import PrincipalCache
from services.common.errors import ServiceError
from services.common.steps import stale_after
from services.common.timeutil import from_timestamp, to_timestamp

MAX_POINTS = 10_000
# The shape of a series id (services.common.ids): only that addresses one series, so a metric named
# `met_cpu` (a valid name) is configured by name like any other.
SERIES_ID = re.compile(r"met_[a-z0-9]{16}")


class MetricServicer(metrics_pb2_grpc.MetricServiceServicer):
    def __init__(self, db: Database, principals: PrincipalCache, retention_seconds: float,
                 clock: Callable[[], float] = time.time):
        self.db, self.principals, self.retention, self.clock = db, principals, retention_seconds, clock

    def _scope(self, context, scope_name: str) -> Scope:
        principal = self.principals.from_context(context, scope_name)
        return Scope(principal.account_id, principal.environment)

    def _series_scope(self, context) -> Scope:
        """`read`, or `forecast`: the forecast service finds the series it forecasts with the
        caller's key, and the contract asks only `forecast` of a forecast."""
        principal = self.principals.from_context(context)
        if "forecast" not in principal.scopes:
            principal.require("read")
        return Scope(principal.account_id, principal.environment)

    def ListMetrics(self, request, context):
        scope = self._series_scope(context)
        offset, limit = paging.bounds(request.page)
        with self.db.read() as session:
            rows, total = metric_reads.list_series(session, scope, request.name, dict(request.tags),
                                                   offset, limit)
            effective = configs.effective_for_series(session, scope, [(s.id, s.name) for s in rows])
        metrics = [convert.metric(s, (s.point_count or 0) <= effective[s.id]["min_data_points"])
                   for s in rows]
        return metrics_pb2.ListMetricsResponse(metrics=metrics, page=paging.info(offset, limit, total))

    def GetMetric(self, request, context):
        scope = self._series_scope(context)
        now = self.clock()
        with self.db.read() as session:
            s = metric_reads.get_series(session, scope, request.metric_id)
            stats = metric_reads.stats_24h(session, s, now)
            message = convert.metric(s, metric_reads.learning(session, scope, s))
        message.stats.CopyFrom(metrics_pb2.MetricStats(
            anomalies_24h=stats.anomalies_24h, **{k: v for k, v in stats.values.items() if v is not None}))
        if stats.last_ts is not None:
            message.stats.last_time.CopyFrom(to_timestamp(stats.last_ts))
        stale = s.last_ts is not None and now - s.last_ts > stale_after(s.step_seconds)
        message.freshness.CopyFrom(metrics_pb2.Freshness(
            status="stale" if stale else "fresh", expected_interval_seconds=s.step_seconds))
        if s.last_ts is not None:
            message.freshness.last_seen_time.CopyFrom(to_timestamp(s.last_ts))
        return metrics_pb2.GetMetricResponse(metric=message)

    def ListPoints(self, request, context):
        scope = self._scope(context, "read")
        if request.limit < 0:
            raise ServiceError("VALIDATION_ERROR", "limit must not be negative", {"field": "limit"})
        limit = min(request.limit or 1000, MAX_POINTS)
        start = from_timestamp(request.start_time) if request.HasField("start_time") else None
        end = from_timestamp(request.end_time) if request.HasField("end_time") else None
        if start is not None and end is not None and start > end:  # as the anomaly list answers it
            raise ServiceError("VALIDATION_ERROR", "`from` must not be after `to`", {"field": "from"})
        with self.db.read() as session:
            metric_reads.get_series(session, scope, request.metric_id)
            points, more = metric_reads.list_points(session, request.metric_id, start, end, limit)
        return metrics_pb2.ListPointsResponse(
            points=[common_pb2.DataPoint(time=to_timestamp(t), value=v) for t, v in points], has_more=more)

    def _target(self, session, scope: Scope, name_or_id: str) -> tuple[str, str, str, str]:
        """(kind, target, metric name, series id) of a config address."""
        if SERIES_ID.fullmatch(name_or_id):
            s = metric_reads.get_series(session, scope, name_or_id)
            return "series", s.id, s.name, s.id
        # a name no series can have would configure nothing, ever
        return "name", check_metric_name(name_or_id, "name_or_id"), name_or_id, ""

    def _answer(self, session, scope, kind, target, name, series_id, response_type):
        targets = [("name", name)] + ([("series", series_id)] if series_id else [])
        rows = configs.load_rows(session, scope, targets)
        name_fields = configs.overrides_of(rows.get(("name", name)))
        own = configs.overrides_of(rows.get((kind, target)))
        series_fields = configs.overrides_of(rows.get(("series", series_id))) if series_id else {}
        return response_type(metric=name, metric_id=series_id,
                             effective=convert.config_to_proto(configs.merge(name_fields, series_fields)),
                             overrides=convert.config_to_proto(own))

    def GetAnomalyConfig(self, request, context):
        scope = self._scope(context, "read")
        with self.db.read() as session:
            kind, target, name, series_id = self._target(session, scope, request.name_or_id)
            return self._answer(session, scope, kind, target, name, series_id,
                                metrics_pb2.GetAnomalyConfigResponse)

    def UpdateAnomalyConfig(self, request, context):
        scope = self._scope(context, "write")
        fields = configs.validate(convert.config_from_proto(request.config), self.retention)
        with self.db.transaction() as session:
            kind, target, name, series_id = self._target(session, scope, request.name_or_id)
            configs.upsert(session, scope, kind, target, fields, self.clock())
            session.flush()
            return self._answer(session, scope, kind, target, name, series_id,
                                metrics_pb2.UpdateAnomalyConfigResponse)

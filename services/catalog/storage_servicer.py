"""StorageService: the internal write and bulk-read API of ingest, detect and forecast."""
from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping

from anomalywatch.catalog.v1 import metrics_pb2, storage_pb2, storage_pb2_grpc
from anomalywatch.common.v1 import common_pb2
from services.catalog import accounts, convert, detector_state, episodes, points, trial_posts
from services.catalog.db import Database
from services.catalog.series_rules import check_metric_name, check_series_keys
from services.common import paging
from services.common.columns import check_columns
from services.common.config import PlanLimits
from services.common.errors import ServiceError
from services.common.timeutil import checked_seconds, to_timestamp

MAX_WRITE, MAX_READ, MAX_BEHIND, MAX_CHECKPOINTS = 5000, 100_000, 10_000, 2000
PLAN_CACHE_SECONDS = 5.0
EVENTS = {storage_pb2.EPISODE_EVENT_UNSPECIFIED: "none", storage_pb2.EPISODE_EVENT_OPEN: "open",
          storage_pb2.EPISODE_EVENT_CONTINUE: "continue", storage_pb2.EPISODE_EVENT_QUIET: "quiet",
          storage_pb2.EPISODE_EVENT_CLOSE: "close"}
OUTCOMES = {points.STORED: storage_pb2.WRITE_OUTCOME_STORED,
            points.DUPLICATE: storage_pb2.WRITE_OUTCOME_DUPLICATE,
            points.REJECTED: storage_pb2.WRITE_OUTCOME_REJECTED}


class StorageServicer(storage_pb2_grpc.StorageServiceServicer):
    def __init__(self, db: Database, plan_limits: Callable[[str], PlanLimits],
                 clock: Callable[[], float] = time.time):
        self.db, self.plan_limits, self.clock = db, plan_limits, clock
        self._plans: dict[str, tuple[float, str]] = {}  # account id -> (until when, plan)

    def _plan(self, session, account_id: str) -> str:
        """The account's plan; an account's plan is set when it is created, so it is looked up
        once every PLAN_CACHE_SECONDS (ACCOUNT_NOT_FOUND is never remembered)."""
        now = time.monotonic()
        hit = self._plans.get(account_id)
        if hit is not None and hit[0] > now:
            return hit[1]
        plan = accounts.get_account(session, account_id).plan
        if len(self._plans) >= 10_000:
            self._plans.clear()
        self._plans[account_id] = (now + PLAN_CACHE_SECONDS, plan)
        return plan

    def WritePoints(self, request, context):
        scope = convert.scope_from_proto(request.scope)
        batch = points.PointsIn([(k.metric, dict(k.tags)) for k in request.series], request.series_index,
                                request.times, request.values)
        check_columns(len(batch.series), batch.series_index, batch.times, batch.values, MAX_WRITE)
        check_series_keys(batch.series)
        with self.db.transaction() as session:
            plan = self._plan(session, scope.account_id)
            max_series = self.plan_limits(plan).max_series
            result = points.write_points(session, scope, batch, max_series, self.clock())
            # Judged inside the transaction exactly as a kept write, so the outcomes are the same.
            rolled_back = request.validate_only or (request.all_or_nothing and result.refused_beyond_quota())
            if rolled_back:
                session.rollback()
        if rolled_back:  # the anomalies of rule hits and the series created are gone with it
            result.rule_hits = []
            result.series = [points.SeriesOut(point_count_before=s.point_count_before) if s.created else s
                             for s in result.series]
        protos: dict[int, metrics_pb2.AnomalyConfig] = {}  # per shared configuration mapping
        return storage_pb2.WritePointsResponse(
            outcomes=[OUTCOMES[o] for o in result.outcomes],
            rejections=[storage_pb2.PointRejection(index=i, error=error, error_code=code)
                        for i, (error, code) in result.rejections.items()],
            rule_hits=[storage_pb2.RuleHit(index=h.index, anomaly_id=h.anomaly_id, rule_id=h.rule_id,
                                           severity=convert.SEVERITY_TO_PROTO[h.severity])
                       for h in result.rule_hits],
            series=[_series_written(s, result.configs, protos) for s in result.series],
            rolled_back=rolled_back)

    def RecordTestPost(self, request, context):
        scope = convert.scope_from_proto(request.scope)
        if len(request.metrics) > MAX_WRITE:  # one name per point, as WritePoints takes them
            raise ServiceError("VALIDATION_ERROR", f"at most {MAX_WRITE} metrics per call",
                               {"field": "metrics"})
        for name in set(request.metrics):
            check_metric_name(name, "metrics")
        with self.db.transaction() as session:
            trial_posts.record(session, scope, list(request.metrics), self.clock())
        return storage_pb2.RecordTestPostResponse()

    def ListTestPosts(self, request, context):
        scope = convert.scope_from_proto(request.scope)
        offset, limit = paging.bounds(request.page)
        with self.db.read() as session:
            rows, total = trial_posts.recent(session, scope, self.clock(), offset, limit)
        return storage_pb2.ListTestPostsResponse(
            posts=[storage_pb2.TestPost(metric=r.metric, count=r.count,
                                        last_post_time=to_timestamp(r.last_post_at))
                   for r in rows], page=paging.info(offset, limit, total))

    def ApplyDetections(self, request, context):
        detections = [_detection_in(d, i) for i, d in enumerate(request.detections)]
        with self.db.transaction() as session:
            ids = episodes.apply_detections(session, detections, self.clock())
        return storage_pb2.ApplyDetectionsResponse(anomaly_ids=ids)

    def SaveCheckpoints(self, request, context):
        if len(request.checkpoints) > MAX_CHECKPOINTS:
            raise ServiceError("VALIDATION_ERROR", f"at most {MAX_CHECKPOINTS} checkpoints per call",
                               {"field": "checkpoints"})
        batch = [(c.metric_id, c.state, checked_seconds(c.state_time, f"checkpoints[{i}].state_time"))
                 for i, c in enumerate(request.checkpoints)]
        with self.db.transaction() as session:
            detector_state.save_checkpoints(session, batch, self.clock())
        return storage_pb2.SaveCheckpointsResponse()

    def ListShardSeries(self, request, context):
        _check_shard(request)
        with self.db.read() as session:
            for row in detector_state.shard_series(session, request.shard_index, request.shard_count):
                yield _shard_series(row)

    def ListBehindSeries(self, request, context):
        _check_shard(request)
        if not 0 <= request.limit <= MAX_BEHIND:
            raise ServiceError("VALIDATION_ERROR", f"limit must be in [0, {MAX_BEHIND}]", {"field": "limit"})
        with self.db.read() as session:
            rows, next_after = detector_state.behind_series(session, request.shard_index, request.shard_count,
                                                            request.after_metric_id, request.limit or 1000)
            series = [_shard_series(row) for row in rows]
        return storage_pb2.ListBehindSeriesResponse(series=series, next_after_metric_id=next_after)

    def ReadPoints(self, request, context):
        if request.limit < 0:
            raise ServiceError("VALIDATION_ERROR", "limit must not be negative", {"field": "limit"})
        limit = min(request.limit or 10_000, MAX_READ)
        after = checked_seconds(request.after_time, "after_time") if request.HasField("after_time") else None
        before = (checked_seconds(request.latest_before_time, "latest_before_time")
                  if request.HasField("latest_before_time") else None)
        with self.db.read() as session:
            rows, more = detector_state.read_points(session, request.metric_id, after, limit, before)
        return storage_pb2.ReadPointsResponse(
            points=[common_pb2.DataPoint(time=to_timestamp(t), value=v) for t, v in rows], has_more=more)


def _detection_in(d: storage_pb2.Detection, i: int) -> episodes.DetectionIn:
    """A detection as detect makes them, else VALIDATION_ERROR naming `detections[i].<field>`:
    what it carries is stored in an anomaly (numbers, its description) or moves a series'
    `scored_until`."""
    def field(name: str) -> str:
        return f"detections[{i}].{name}"

    def invalid(name: str, rule: str) -> ServiceError:
        return ServiceError("VALIDATION_ERROR", f"{field(name)} {rule}", {"field": field(name)})

    if not d.HasField("time"):
        raise invalid("time", "is required")
    numbers = {"value": d.value, "score": d.score, "baseline.mean": d.baseline.mean,
               "baseline.std": d.baseline.std, "expected_range.lower": d.expected_range.lower,
               "expected_range.upper": d.expected_range.upper}
    for name, number in numbers.items():
        if not math.isfinite(number):
            raise invalid(name, "must be finite")
    if not 0.0 <= d.score <= 1.0:
        raise invalid("score", "must be in [0, 1]")
    kind = convert.enum_name(convert.TYPE_FROM_PROTO, d.type, field("type"))
    if kind == "threshold":  # threshold anomalies come from rules on ingest, never from detect
        raise invalid("type", "cannot be threshold")
    return episodes.DetectionIn(
        series_id=d.metric_id, ts=checked_seconds(d.time, field("time")), value=d.value, score=d.score,
        severity=convert.enum_name(convert.SEVERITY_FROM_PROTO, d.severity, field("severity")) or None,
        type=kind or None, mean=d.baseline.mean, std=d.baseline.std,
        lower=d.expected_range.lower, upper=d.expected_range.upper,
        event=convert.enum_name(EVENTS, d.event, field("event")),
        end_ts=checked_seconds(d.end_time, field("end_time")) if d.HasField("end_time") else None)


def _check_shard(request) -> None:
    if not 0 <= request.shard_index < request.shard_count:
        raise ServiceError("VALIDATION_ERROR", "shard_index must be in [0, shard_count)",
                           {"field": "shard_index"})


def _shard_series(row: detector_state.ShardSeriesRow) -> storage_pb2.ShardSeries:
    s = row.series
    message = storage_pb2.ShardSeries(
        metric_id=s.id,
        scope=common_pb2.Scope(account_id=s.account_id, environment=convert.ENV_TO_PROTO[s.environment]),
        config=convert.config_to_proto(row.config), step_seconds=s.step_seconds,
        missing_data_open=row.missing_data_open)
    if row.checkpoint is not None:
        message.checkpoint.CopyFrom(storage_pb2.Checkpoint(
            metric_id=s.id, state=row.checkpoint.state, state_time=to_timestamp(row.checkpoint.state_ts)))
    if s.scored_until is not None:
        message.scored_until.CopyFrom(to_timestamp(s.scored_until))
    if s.last_ts is not None:
        message.last_time.CopyFrom(to_timestamp(s.last_ts))
    return message


def _series_written(s: points.SeriesOut, configs: dict[str, Mapping],
                    protos: dict[int, metrics_pb2.AnomalyConfig]) -> storage_pb2.SeriesWritten:
    message = storage_pb2.SeriesWritten(metric_id=s.series_id, point_count_before=s.point_count_before)
    if s.last_ts_before is not None:
        message.last_time_before.CopyFrom(to_timestamp(s.last_ts_before))
    fields = configs.get(s.series_id)
    if fields is not None:
        proto = protos.get(id(fields))
        if proto is None:  # series of one configuration share its mapping: convert it once
            proto = protos[id(fields)] = convert.config_to_proto(fields)
        message.config.CopyFrom(proto)
    return message

"""The ingest path for one batch: check, store durably through catalog, score through detect,
and answer per point. Storing and scoring go through the coalescer, which shares catalog writes
and detect calls between concurrent batches."""
from __future__ import annotations

import logging
import math
import time
from collections import Counter
from collections.abc import Callable, Sequence

import grpc
from prometheus_client import Counter as MetricCounter

from anomalywatch.catalog.v1 import storage_pb2, storage_pb2_grpc
from anomalywatch.common.v1 import common_pb2
from anomalywatch.ingest.v1 import ingest_pb2
from services.common.auth import Principal
from services.common.errors import ServiceError, from_rpc_error
from services.common.time_window import accepted_window
from services.ingest.coalescer import WRITE_LANES, Coalescer, Job, Written
from services.ingest.columns import Columns
from services.ingest.detect_router import DetectRouter, Verdicts
from services.ingest.validation import (
    MAX_NANOS,
    PointError,
    check_metric,
    check_nanos,
    check_source,
    check_tags,
    check_time,
    check_value,
)

log = logging.getLogger(__name__)
MAX_POINTS = 500
POINTS = MetricCounter("aw_ingest_points_total", "Points received by ingest, by outcome", ["outcome"])
_ENV = {"live": common_pb2.ENVIRONMENT_LIVE, "test": common_pb2.ENVIRONMENT_TEST}
_OUTCOME = {v: ingest_pb2.PointStatus.Name(v).removeprefix("POINT_STATUS_").lower()
            for v in ingest_pb2.PointStatus.values()}
_SEVERITY_RANK = {common_pb2.SEVERITY_UNSPECIFIED: 0, common_pb2.SEVERITY_INFO: 1,
                  common_pb2.SEVERITY_WARNING: 2, common_pb2.SEVERITY_CRITICAL: 3}


class IngestPipeline:
    def __init__(self, storage: storage_pb2_grpc.StorageServiceStub, router: DetectRouter,
                 retention_seconds: float, timeout: float, clock: Callable[[], float] = time.time,
                 write_lanes: int = WRITE_LANES):
        self.storage, self.router = storage, router
        self.retention, self.timeout, self.clock = retention_seconds, timeout, clock
        self.coalescer = Coalescer(lambda request: self._call(self.storage.WritePoints, request),
                                   router.score, lanes=write_lanes)

    def ingest(self, principal: Principal, points: Sequence[ingest_pb2.Point],
               test_only: bool, all_or_nothing: bool = False) -> ingest_pb2.IngestResponse:
        if not 1 <= len(points) <= MAX_POINTS:
            raise ServiceError("VALIDATION_ERROR",
                               f"a batch holds 1 to {MAX_POINTS} points, got {len(points)}",
                               {"field": "points"})
        scope = common_pb2.Scope(account_id=principal.account_id, environment=_ENV[principal.environment])
        checked, errors = self._check(points)
        response = ingest_pb2.IngestResponse()
        if len(checked):
            # Order, repeats and the quota are judged in catalog's write: a test post, or an
            # all-or-nothing one already refused here, is judged there and rolled back.
            judge_only = test_only or (all_or_nothing and bool(errors))
            job = self.coalescer.run(Job(scope, checked, validate_only=judge_only,
                                         all_or_nothing=all_or_nothing))
            if test_only:
                self._call(self.storage.RecordTestPost, storage_pb2.RecordTestPostRequest(
                    scope=scope, metrics=[checked.series[j][0] for j in checked.series_index]))
            if job.written.rolled_back:
                _answer_judged(response.results, len(points), errors, job.written)
            else:
                _answer(response.results, len(points), errors, job.written, job.verdicts)
        else:
            _answer_judged(response.results, len(points), errors, None)
        counts = Counter(r.status for r in response.results)  # per outcome, not per point
        response.rejected = counts[ingest_pb2.POINT_STATUS_REJECTED]
        response.accepted = len(points) - response.rejected
        for status, count in counts.items():
            POINTS.labels(_OUTCOME[status]).inc(count)
        return response

    def _check(self, points: Sequence[ingest_pb2.Point]) -> tuple[Columns, dict[int, str]]:
        """The points that meet the rules, in columns (a series once, keyed by name and tags),
        and the message of each that does not, by position. Name and tags are checked once per
        series; the messages keep the order of `check_point` (metric, value, time, tags, source)."""
        now = self.clock()
        earliest, latest = accepted_window(now, self.retention)
        checked, errors = Columns(), {}
        # Keyed by the tags in the order they came: one series sent with its tags in two orders is
        # two keys here, which catalog resolves to the one series (it orders them), at no cost.
        series: dict[tuple, tuple[str | None, str | None, dict[str, str]]] = {}
        for i, p in enumerate(points):
            tags = p.tags
            key = (p.metric, *tags.items()) if tags else (p.metric,)
            known = series.get(key)
            if known is None:
                known = series[key] = _check_series(p.metric, tags)
            metric_error, tags_error, clean_tags = known
            value, stamp = p.value, p.time
            ts = stamp.seconds + stamp.nanos / 1e9
            # The common point is checked inline; the rules run again only to name what is wrong.
            if (metric_error is not None or tags_error is not None or p.source or not math.isfinite(value)
                    or not earliest <= ts <= latest or not 0 <= stamp.nanos <= MAX_NANOS):
                try:
                    if metric_error:
                        raise PointError(metric_error)
                    check_value(value)
                    if not p.HasField("time"):
                        raise PointError("invalid timestamp")  # as for JSON without one
                    check_nanos(stamp.nanos)
                    check_time(ts, None, now, self.retention)
                    if tags_error:
                        raise PointError(tags_error)
                    check_source(p.source)
                except PointError as error:
                    errors[i] = str(error)
                    continue
            checked.add(checked.series_position(key, (p.metric, clean_tags)), ts, value)
        return checked, errors

    def _call(self, method, request):
        try:
            return method(request, timeout=self.timeout)
        except grpc.RpcError as error:
            raise from_rpc_error(error) from None


def _check_series(metric: str, tags) -> tuple[str | None, str | None, dict[str, str]]:
    """(the metric's error, the tags' error, the tags) of a series."""
    try:
        check_metric(metric)
        metric_error = None
    except PointError as error:
        metric_error = str(error)
    try:
        return metric_error, None, check_tags(dict(tags))
    except PointError as error:
        return metric_error, str(error), {}


def _answer_judged(results, n: int, errors: dict[int, str], written: Written | None) -> None:
    """Answers of points judged but not kept (by the rules here, then as catalog's rolled-back
    write judged them): the statuses and messages of a real write, with no series id, score or
    learning, since nothing of them is stored."""
    k = 0  # the point's position among the checked points
    for i in range(n):
        error = errors.get(i)
        if error is not None:
            results.add(index=i, status=ingest_pb2.POINT_STATUS_REJECTED, error=error,
                        error_code="VALIDATION_ERROR")
            continue
        outcome = written.outcomes[k]
        if outcome == storage_pb2.WRITE_OUTCOME_REJECTED:
            rejection = written.rejections[k]
            results.add(index=i, status=ingest_pb2.POINT_STATUS_REJECTED, error=rejection.error,
                        error_code=rejection.error_code or "VALIDATION_ERROR")
        elif outcome == storage_pb2.WRITE_OUTCOME_DUPLICATE:
            results.add(index=i, status=ingest_pb2.POINT_STATUS_DUPLICATE)
        else:
            results.add(index=i, status=ingest_pb2.POINT_STATUS_INGESTED)
        k += 1


def _answer(results, n: int, errors: dict[int, str], written: Written, verdicts: Verdicts) -> None:
    """The answer per point, in request order: rejected by the rules, or as catalog stored it
    (with its rule hits) and detect scored it."""
    k = 0  # the point's position among the checked points
    for i in range(n):
        error = errors.get(i)
        if error is not None:
            results.add(index=i, status=ingest_pb2.POINT_STATUS_REJECTED, error=error,
                        error_code="VALIDATION_ERROR")
            continue
        outcome, s = written.outcomes[k], written.series[k]
        # API.md: learning for the first min_data_points points of a series; a repeat changes
        # nothing, so it is answered with what its series is now
        learning = written.count_after[k] <= s.config.min_data_points
        if outcome == storage_pb2.WRITE_OUTCOME_STORED:
            result = results.add(index=i, status=ingest_pb2.POINT_STATUS_INGESTED, metric_id=s.metric_id,
                                 learning=learning)
            for hit in written.rule_hits.get(k, ()):
                if _SEVERITY_RANK[hit.severity] > _SEVERITY_RANK[result.severity]:
                    result.severity, result.anomaly_id = hit.severity, hit.anomaly_id
                    result.type = common_pb2.ANOMALY_TYPE_THRESHOLD
            v = written.score_at[k]
            if verdicts.scored[v]:
                _apply_verdict(result, verdicts, v)
        elif outcome == storage_pb2.WRITE_OUTCOME_DUPLICATE:
            results.add(index=i, status=ingest_pb2.POINT_STATUS_DUPLICATE, metric_id=s.metric_id,
                        learning=learning)
        else:
            rejection = written.rejections[k]
            results.add(index=i, status=ingest_pb2.POINT_STATUS_REJECTED, metric_id=s.metric_id,
                        error=rejection.error, error_code=rejection.error_code or "VALIDATION_ERROR")
        k += 1


def _apply_verdict(result: ingest_pb2.PointResult, verdicts: Verdicts, v: int) -> None:
    result.scored = True
    result.anomaly_score = verdicts.score[v]
    result.baseline.mean, result.baseline.std = verdicts.mean[v], verdicts.std[v]
    result.expected_range.lower, result.expected_range.upper = verdicts.lower[v], verdicts.upper[v]
    # The more severe verdict wins; on a tie the statistical one (API.md, "Precise rules").
    anomaly_id = verdicts.anomaly_ids.get(v)
    severity = verdicts.severity[v]
    if anomaly_id and _SEVERITY_RANK[severity] >= _SEVERITY_RANK[result.severity]:
        result.severity, result.type, result.anomaly_id = severity, verdicts.type[v], anomaly_id

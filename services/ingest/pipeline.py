"""The ingest path for one batch: check, store durably through catalog, score through detect,
and answer per point. Storing and scoring go through the coalescer, which shares catalog writes
and detect calls between concurrent batches."""
from __future__ import annotations

import logging
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
from services.common.timeutil import from_timestamp
from services.ingest.coalescer import Coalescer, Job
from services.ingest.detect_router import DetectRouter, ToScore
from services.ingest.validation import CheckedPoint, PointError, check_point

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
                 retention_seconds: float, timeout: float, clock: Callable[[], float] = time.time):
        self.storage, self.router = storage, router
        self.retention, self.timeout, self.clock = retention_seconds, timeout, clock
        self.coalescer = Coalescer(lambda request: self._call(self.storage.WritePoints, request),
                                   router.score)

    def ingest(self, principal: Principal, points: Sequence[ingest_pb2.Point],
               test_only: bool) -> ingest_pb2.IngestResponse:
        if not 1 <= len(points) <= MAX_POINTS:
            raise ServiceError("VALIDATION_ERROR",
                               f"a batch holds 1 to {MAX_POINTS} points, got {len(points)}",
                               {"field": "points"})
        scope = common_pb2.Scope(account_id=principal.account_id, environment=_ENV[principal.environment])
        now = self.clock()
        results = [ingest_pb2.PointResult(index=i) for i in range(len(points))]
        checked: list[tuple[int, CheckedPoint]] = []
        for i, p in enumerate(points):
            try:
                checked.append((i, check_point(p.metric, p.value, from_timestamp(p.time), dict(p.tags),
                                               p.source, now, self.retention)))
            except PointError as error:
                _reject(results[i], str(error), "VALIDATION_ERROR")
        if test_only:
            self._record_test(scope, checked, results)
        elif checked:
            self._store_and_score(scope, checked, results)
        response = ingest_pb2.IngestResponse(results=results)
        response.rejected = sum(r.status == ingest_pb2.POINT_STATUS_REJECTED for r in results)
        response.accepted = len(results) - response.rejected
        for status, count in Counter(r.status for r in results).items():  # per outcome, not per point
            POINTS.labels(_OUTCOME[status]).inc(count)
        return response

    def _call(self, method, request):
        try:
            return method(request, timeout=self.timeout)
        except grpc.RpcError as error:
            raise from_rpc_error(error) from None

    def _record_test(self, scope, checked, results) -> None:
        if checked:
            self._call(self.storage.RecordTestPost,
                       storage_pb2.RecordTestPostRequest(scope=scope, metrics=[p.metric for _, p in checked]))
        for i, _ in checked:
            results[i].status = ingest_pb2.POINT_STATUS_INGESTED

    def _store_and_score(self, scope, checked, results) -> None:
        stored: list[storage_pb2.PointWriteResult] = []
        values = dict(checked)

        def prepare(written: list[tuple[int, storage_pb2.PointWriteResult]], configs) -> list[ToScore]:
            """Runs on the coalescer's writer thread once the points are stored: the answers so far,
            and what detect should score (the stored points, then the catch-ups of repeats)."""
            to_score: list[ToScore] = []
            repeated: dict[str, CheckedPoint] = {}  # series -> its latest exact repeat in this call
            for i, w in written:
                result = results[i]
                result.metric_id = w.metric_id
                if w.outcome == storage_pb2.WRITE_OUTCOME_REJECTED:
                    _reject(result, w.error, w.error_code or "VALIDATION_ERROR")
                    continue
                if w.outcome == storage_pb2.WRITE_OUTCOME_DUPLICATE:
                    result.status = ingest_pb2.POINT_STATUS_DUPLICATE
                    repeated[w.metric_id] = values[i]
                    continue
                result.status = ingest_pb2.POINT_STATUS_INGESTED
                config = configs[w.metric_id]
                result.learning = w.series_point_count <= config.min_data_points
                _apply_rule_hits(result, w.rule_hits)
                p = values[i]
                previous = from_timestamp(w.previous_time) if w.HasField("previous_time") else None
                to_score.append(ToScore(w.metric_id, scope, p.ts, p.value, config, previous))
                stored.append(result)
            return to_score + self._catch_ups(scope, repeated, configs, {t.series_id for t in to_score})

        job = self.coalescer.run(Job(scope, checked, prepare))
        for result, verdict in zip(stored, job.verdicts[:len(stored)], strict=True):
            if verdict is not None and verdict.scored:
                _apply_verdict(result, verdict)

    def _catch_ups(self, scope, repeated: dict[str, CheckedPoint], configs,
                   scoring: set[str]) -> list[ToScore]:
        """A client repeats a point when it did not get the first answer, and the point may then
        have been stored without reaching detect (ingest died in between). For each series with
        only repeats in this call, its shard is asked to catch up to the latest one (previous
        time = its own time): a shard behind scores the stored points up to it, one that is not
        skips it, so nothing is scored twice. Series with a stored point catch up through it."""
        waiting = {sid: p for sid, p in repeated.items() if sid not in scoring}
        unknown = [sid for sid in waiting if sid not in configs]
        if unknown:  # catalog sends the configs of stored series only
            try:
                found = self._call(self.storage.GetSeriesConfigs,
                                   storage_pb2.GetSeriesConfigsRequest(metric_ids=unknown)).configs
            except ServiceError:  # best effort: the repeats are stored, the answer stands
                log.warning("no configs for repeated points; their series catch up on their next point",
                            extra={"series": len(unknown)})
                found = []
            configs = {**configs, **{c.metric_id: c.config for c in found}}
        return [ToScore(sid, scope, p.ts, p.value, configs[sid], p.ts)
                for sid, p in waiting.items() if sid in configs]


def _reject(result: ingest_pb2.PointResult, message: str, code: str) -> None:
    result.status = ingest_pb2.POINT_STATUS_REJECTED
    result.error, result.error_code = message, code


def _apply_rule_hits(result: ingest_pb2.PointResult, hits) -> None:
    for hit in hits:
        if _SEVERITY_RANK[hit.severity] > _SEVERITY_RANK[result.severity]:
            result.severity, result.anomaly_id = hit.severity, hit.anomaly_id
            result.type = common_pb2.ANOMALY_TYPE_THRESHOLD


def _apply_verdict(result: ingest_pb2.PointResult, verdict) -> None:
    result.scored = True
    result.anomaly_score = verdict.anomaly_score
    result.baseline.CopyFrom(verdict.baseline)
    result.expected_range.CopyFrom(verdict.expected_range)
    # The more severe verdict wins; on a tie the statistical one (API.md, "Precise rules").
    if verdict.anomaly_id and _SEVERITY_RANK[verdict.severity] >= _SEVERITY_RANK[result.severity]:
        result.severity, result.type, result.anomaly_id = verdict.severity, verdict.type, verdict.anomaly_id

"""Sends stored points to the detect shard that owns each series, all shards in parallel."""
from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import grpc
from opentelemetry import context as otel_context
from prometheus_client import Counter

from anomalywatch.catalog.v1 import metrics_pb2
from anomalywatch.common.v1 import common_pb2
from anomalywatch.detect.v1 import detect_pb2, detect_pb2_grpc
from services.common.sharding import shard_of
from services.common.timeutil import to_timestamp

log = logging.getLogger(__name__)
DETECT_FAILURES = Counter("aw_ingest_detect_unavailable_total", "Score calls that failed (points left unscored)",
                          ["shard"])


@dataclass(frozen=True)
class ToScore:
    series_id: str
    scope: common_pb2.Scope
    ts: float
    value: float
    config: metrics_pb2.AnomalyConfig
    previous_ts: float | None = None


class DetectRouter:
    def __init__(self, channels: list[grpc.Channel], timeout: float):
        self.stubs = [detect_pb2_grpc.DetectServiceStub(c) for c in channels]
        self.timeout = timeout
        self.pool = ThreadPoolExecutor(max_workers=max(2, len(self.stubs)), thread_name_prefix="detect-call")

    def score(self, points: list[ToScore]) -> list[detect_pb2.PointScore | None]:
        """A verdict per point, or None where its shard could not be reached (scored later)."""
        by_shard: dict[int, list[int]] = {}
        for i, p in enumerate(points):
            by_shard.setdefault(shard_of(p.series_id, len(self.stubs)), []).append(i)
        answers: list[detect_pb2.PointScore | None] = [None] * len(points)
        # The calls run on pool threads: carry the trace context there, so detect joins the trace.
        trace_context = otel_context.get_current()
        calls = {shard: self.pool.submit(self._call, shard, [points[i] for i in idx], trace_context)
                 for shard, idx in by_shard.items()}
        for shard, future in calls.items():
            scores = future.result()
            if scores is not None:
                for i, score in zip(by_shard[shard], scores, strict=True):
                    answers[i] = score
        return answers

    def _call(self, shard: int, points: list[ToScore], trace_context) -> list[detect_pb2.PointScore] | None:
        request = detect_pb2.ScorePointsRequest(points=[_to_proto(p) for p in points])
        token = otel_context.attach(trace_context)
        try:
            return list(self.stubs[shard].ScorePoints(request, timeout=self.timeout).scores)
        except grpc.RpcError as error:
            # The points are stored; the shard scores them from catalog when it is back.
            DETECT_FAILURES.labels(str(shard)).inc()
            log.warning("detect shard unavailable, points left for catch-up",
                        extra={"shard": shard, "code": str(error.code()), "points": len(points)})
            return None
        finally:
            otel_context.detach(token)


def _to_proto(p: ToScore) -> detect_pb2.PointToScore:
    message = detect_pb2.PointToScore(metric_id=p.series_id, scope=p.scope, time=to_timestamp(p.ts),
                                      value=p.value, config=p.config)
    if p.previous_ts is not None:
        message.previous_time.CopyFrom(to_timestamp(p.previous_ts))
    return message

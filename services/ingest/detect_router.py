"""Sends stored points to the detect shard that owns each series, all shards in parallel.

When a shard cannot be reached the points stay stored but unscored. The router remembers the
latest such point of each series and re-sends it every few seconds until the shard takes it:
the shard then scores every stored point it missed (its gap filling), so unscored points never
wait for the next point of their series."""
from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import grpc
from opentelemetry import context as otel_context
from prometheus_client import Counter

from anomalywatch.catalog.v1 import metrics_pb2
from anomalywatch.common.v1 import common_pb2
from anomalywatch.detect.v1 import detect_pb2, detect_pb2_grpc
from services.common.sharding import shard_of
from services.common.timeutil import to_timestamp

log = logging.getLogger(__name__)
DETECT_FAILURES = Counter("aw_ingest_detect_unavailable_total",
                          "Score calls that failed (points left unscored)", ["shard"])


class ToScore(NamedTuple):  # a tuple: one is made per point, and cheaply
    series_id: str
    scope: common_pb2.Scope
    ts: float
    value: float
    config: metrics_pb2.AnomalyConfig
    previous_ts: float | None = None


class DetectRouter:
    def __init__(self, channels: list[grpc.Channel], timeout: float, retry_every: float = 2.0):
        self.stubs = [detect_pb2_grpc.DetectServiceStub(c) for c in channels]
        self.timeout = timeout
        self.pool = ThreadPoolExecutor(max_workers=max(2, len(self.stubs)), thread_name_prefix="detect-call")
        self._pending: dict[str, ToScore] = {}  # series -> its latest unscored point
        self._lock = threading.Lock()
        self._retry_every = retry_every
        self._retrying = threading.Thread(target=self._retry_loop, name="detect-retry", daemon=True)
        self._retrying.start()

    def _retry_loop(self) -> None:
        while True:
            time.sleep(self._retry_every)
            with self._lock:
                pending, self._pending = list(self._pending.values()), {}
            if pending:
                self.score(pending)  # failures go back into _pending

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
            else:
                self._remember([points[i] for i in by_shard[shard]])
        return answers

    def _remember(self, points: list[ToScore]) -> None:
        with self._lock:
            for p in points:
                known = self._pending.get(p.series_id)
                if known is None or p.ts > known.ts:
                    self._pending[p.series_id] = p

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

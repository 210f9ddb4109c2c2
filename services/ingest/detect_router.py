"""Sends stored points to the detect shard that owns each series, all shards in parallel.

When a shard cannot be reached the points stay stored but unscored. The router remembers the
latest such point of each series and re-sends it every few seconds until the shard takes it:
the shard then scores every stored point it missed (its gap filling), so unscored points never
wait for the next point of their series. Points a shard refuses (INVALID_ARGUMENT) are not
re-sent: the shard's periodic catch-up scores them from catalog."""
from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import NamedTuple

import grpc
from opentelemetry import context as otel_context
from prometheus_client import Counter

from anomalywatch.catalog.v1 import metrics_pb2
from anomalywatch.detect.v1 import detect_pb2, detect_pb2_grpc
from services.common.sharding import shard_of
from services.common.timeutil import to_timestamp
from services.ingest.columns import Columns

log = logging.getLogger(__name__)
DETECT_FAILURES = Counter("aw_ingest_detect_unavailable_total",
                          "Score calls that failed (points left unscored)", ["shard"])


class SeriesToScore(NamedTuple):
    """A series of a ToScore batch: its id, config and the stored point before its first point."""
    series_id: str
    config: metrics_pb2.AnomalyConfig
    previous_ts: float | None


@dataclass
class Verdicts:
    """Detect's answers, one entry per point of a batch in each list; `scored` is False where the
    point's shard could not be reached (or it was already scored)."""
    scored: list[bool]
    learning: list[bool]
    score: list[float]
    severity: list[int]
    type: list[int]
    mean: list[float]
    std: list[float]
    lower: list[float]
    upper: list[float]
    anomaly_ids: dict[int, str]

    @classmethod
    def unscored(cls, n: int) -> Verdicts:
        return cls([False] * n, [False] * n, [0.0] * n, [0] * n, [0] * n, [0.0] * n, [0.0] * n, [0.0] * n,
                   [0.0] * n, {})

    def fill(self, positions: list[int] | range, answer: detect_pb2.ScorePointsResponse) -> None:
        """Takes a shard's answer for the batch points at `positions` (in its request's order)."""
        whole = isinstance(positions, range) and positions == range(len(self.scored))
        for mine, theirs in ((self.scored, answer.scored), (self.learning, answer.learning),
                             (self.score, answer.anomaly_score), (self.severity, answer.severity),
                             (self.type, answer.type), (self.mean, answer.baseline_mean),
                             (self.std, answer.baseline_std), (self.lower, answer.range_lower),
                             (self.upper, answer.range_upper)):
            if whole:       # one shard had the whole batch: a column at once
                if len(theirs) != len(mine):
                    raise ValueError(f"detect answered {len(theirs)} verdicts for {len(mine)} points")
                mine[:] = theirs
                continue
            for i, value in zip(positions, theirs, strict=True):
                mine[i] = value
        for a in answer.anomalies:
            self.anomaly_ids[positions[a.index]] = a.anomaly_id


class DetectRouter:
    def __init__(self, channels: list[grpc.Channel], timeout: float, retry_every: float = 2.0):
        self.stubs = [detect_pb2_grpc.DetectServiceStub(c) for c in channels]
        self.timeout = timeout
        self.pool = ThreadPoolExecutor(max_workers=max(2, len(self.stubs)), thread_name_prefix="detect-call")
        # series -> its latest unscored point: (its SeriesToScore, time, value)
        self._pending: dict[str, tuple[SeriesToScore, float, float]] = {}
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
                batch = Columns()
                for series, ts, value in pending:
                    batch.add(batch.series_position(series.series_id, series), ts, value)
                self.score(batch)  # failures go back into _pending

    def score(self, points: Columns) -> Verdicts:
        """A verdict per point of `points` (whose series are SeriesToScore, keyed by id); unscored
        where its shard could not be reached (scored later)."""
        n = len(points)
        verdicts = Verdicts.unscored(n)
        if n == 0:
            return verdicts
        parts = self._by_shard(points)
        # The calls run on pool threads: carry the trace context there, so detect joins the trace.
        trace_context = otel_context.get_current()
        calls = {shard: self.pool.submit(self._call, shard, part, trace_context)
                 for shard, (part, _) in parts.items()}
        for shard, future in calls.items():
            part, positions = parts[shard]
            answer = future.result()
            if answer is not None:
                verdicts.fill(positions, answer)
        return verdicts

    def _by_shard(self, points: Columns) -> dict[int, tuple[Columns, list[int] | range]]:
        """The batch split per shard: (its points, their positions in the batch)."""
        shards = [shard_of(s.series_id, len(self.stubs)) for s in points.series]
        if len(set(shards)) == 1:
            return {shards[0]: (points, range(len(points)))}
        parts: dict[int, tuple[Columns, list[int] | range]] = {}
        columns = zip(points.series_index, points.times, points.values, strict=True)
        for i, (j, ts, value) in enumerate(columns):
            part, positions = parts.setdefault(shards[j], (Columns(), []))
            series = points.series[j]
            part.add(part.series_position(series.series_id, series), ts, value)
            positions.append(i)
        return parts

    def _remember(self, points: Columns) -> None:
        latest: dict[str, tuple[SeriesToScore, float, float]] = {}
        previous: dict[str, float | None] = {}
        for j, ts, value in zip(points.series_index, points.times, points.values, strict=True):
            series = points.series[j]
            sid = series.series_id
            before = previous.get(sid, series.previous_ts)
            latest[sid] = (series._replace(previous_ts=before), ts, value)
            previous[sid] = ts
        with self._lock:
            for sid, point in latest.items():
                known = self._pending.get(sid)
                if known is None or point[1] > known[1]:
                    self._pending[sid] = point

    def _call(self, shard: int, points: Columns, trace_context) -> detect_pb2.ScorePointsResponse | None:
        request = detect_pb2.ScorePointsRequest(series=[_series_proto(s) for s in points.series],
                                                series_index=points.series_index, times=points.times,
                                                values=points.values)
        token = otel_context.attach(trace_context)
        try:
            return self.stubs[shard].ScorePoints(request, timeout=self.timeout)
        except grpc.RpcError as error:
            # The points are stored; the shard scores them from catalog when it is back.
            DETECT_FAILURES.labels(str(shard)).inc()
            if error.code() == grpc.StatusCode.INVALID_ARGUMENT:
                # A re-send would be refused again, and hold back every point re-sent with it:
                # the shard's periodic catch-up scores these from catalog instead.
                log.error("detect shard refused points, left for its catch-up",
                          extra={"shard": shard, "reason": error.details(), "points": len(points)})
            else:
                log.warning("detect shard unavailable, points left for catch-up",
                            extra={"shard": shard, "code": str(error.code()), "points": len(points)})
                self._remember(points)
            return None
        finally:
            otel_context.detach(token)


def _series_proto(s: SeriesToScore) -> detect_pb2.SeriesToScore:
    message = detect_pb2.SeriesToScore(metric_id=s.series_id, config=s.config)
    if s.previous_ts is not None:
        message.previous_time.CopyFrom(to_timestamp(s.previous_ts))
    return message

"""One detect shard's series: in-memory engine state, scoring with episodes applied in catalog,
checkpoints, restore and catch-up on start, gap filling, periodic catch-up on stored points that
never reached the shard, and missing-data detection.

Invariant: the engine never holds state whose episode events catalog has not applied. Scoring
and ApplyDetections of the events happen under one lock, and if ApplyDetections fails the touched
series' states are put back as they were before the batch, whose stored points are scored again
on next contact. Catalog ignores
detections at or before a series' `scored_until`, and every applied event moves it, so replaying
stored points after a checkpoint applies each event exactly once. Points without an event change
nothing in catalog but `scored_until` (read by the periodic catch-up to find series left
behind): their progress is sent once a second for all series together, not with every batch."""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import grpc
import numpy as np
from prometheus_client import Counter, Gauge, Histogram

from anomalywatch.catalog.v1 import metrics_pb2, storage_pb2, storage_pb2_grpc
from anomalywatch.detect.v1 import detect_pb2
from services.common.errors import ServiceError, from_rpc_error
from services.common.steps import GAPS_BEFORE_STALE, WARM_GAPS, stale_after, update_step
from services.common.timeutil import from_timestamp, to_timestamp
from services.detect import codes
from services.detect.conversions import SEVERITY, TYPE, detection, detector_config, missing_data
from services.detect.engine import DetectionEngine

log = logging.getLogger(__name__)

POINTS_SCORED = Counter("aw_detect_points_scored_total", "Points scored by this shard")
BATCH_SIZE = Histogram("aw_detect_batch_points", "Points per scored batch",
                       buckets=(1, 5, 10, 50, 100, 250, 500, 1000, 2500, 5000))
KERNEL_SECONDS = Histogram("aw_detect_kernel_seconds", "Kernel time per batch",
                           buckets=(1e-5, 5e-5, 1e-4, 5e-4, 1e-3, 5e-3, 0.01, 0.05, 0.1, 0.5))
ANOMALIES_OPENED = Counter("aw_detect_anomalies_opened_total", "Episodes opened", ["type"])
SERIES_HELD = Gauge("aw_detect_series", "Series held in memory by this shard")
CHECKPOINT_SECONDS = Histogram("aw_detect_checkpoint_seconds", "Time to save a round of checkpoints")
POINTS_CAUGHT_UP = Counter("aw_detect_points_caught_up_total",
                           "Stored points the periodic catch-up scored (ingest never delivered them)")
READ_PAGE = 10_000
CHECKPOINT_BATCH = 2000


@dataclass
class SeriesInfo:
    """What the shard tracks beside the engine state, for staleness: a series is stale when no
    point has arrived for several of its steps (by arrival, so a backfill is not an outage)."""
    last_ts: float
    last_value: float
    step: float
    arrived: float  # when its latest point arrived (the clock of this shard)
    gaps: int = 0  # gaps that made `step` (a restored series: as many as make it settled)


class Shard:
    def __init__(self, engine: DetectionEngine, storage: storage_pb2_grpc.StorageServiceStub,
                 shard_index: int, shard_count: int, timeout: float,
                 clock: Callable[[], float] = time.time, catch_up_grace: float = 15.0):
        self.engine, self.storage = engine, storage
        self.shard_index, self.shard_count = shard_index, shard_count
        self.timeout, self.clock = timeout, clock
        self.catch_up_grace = catch_up_grace
        # Series seen behind by the periodic catch-up: when first, and their last stored point then.
        self.behind_since: dict[str, tuple[float, float]] = {}
        self.lock = threading.Lock()
        self.info: dict[str, SeriesInfo] = {}
        self.dirty: set[str] = set()
        # Series in outage -> the time of their last point before it: a later point is data back.
        self.missing_open: dict[str, float] = {}
        # series -> (time, value) of its latest scored point whose progress catalog has not been told
        self.progress: dict[str, tuple[float, float]] = {}
        self.points_scored = 0
        self.ready = False

    def _call(self, method, request):
        try:
            return method(request, timeout=self.timeout)
        except grpc.RpcError as error:
            raise from_rpc_error(error) from None

    # ------------------------------------------------------------------ scoring
    def score_points(self, request: detect_pb2.ScorePointsRequest) -> detect_pb2.ScorePointsResponse:
        """Scores a columnar request (series once, points as packed arrays) in arrival order."""
        if not self.ready:
            raise ServiceError("UNAVAILABLE", "detect shard is restoring its state; retry shortly")
        names = [s.metric_id for s in request.series]
        ids = [names[j] for j in request.series_index]
        ts = np.array(request.times, dtype=np.float64)
        values = np.array(request.values, dtype=np.float64)
        configs = {s.metric_id: s.config for s in request.series}
        with self.lock:
            self._fill_gaps(request.series)
            anomaly_ids, batch = self._score_and_apply(ids, ts, values, configs)
        return _answers(batch, anomaly_ids)

    def _score_and_apply(self, ids: list[str], ts: np.ndarray, values: np.ndarray,
                         configs: dict[str, metrics_pb2.AnomalyConfig]) -> tuple[list[str], object]:
        """Scores in order and applies the episode events in catalog; caller holds the lock.
        Every point with an event (open, continue, close) is sent now; the progress of the
        others waits in `progress` for flush_progress."""
        before = self.engine.saved_states(configs)
        started = time.perf_counter()
        batch = self.engine.score(ids, ts, values, {sid: detector_config(c) for sid, c in configs.items()})
        KERNEL_SECONDS.observe(time.perf_counter() - started)
        BATCH_SIZE.observe(len(ids))
        scored = ~batch.skipped
        scored_at = np.flatnonzero(scored).tolist()  # positions of the scored points, in order
        latest = {ids[i]: i for i in scored_at}  # series -> its last scored point
        events = batch.episode_event
        chosen = np.flatnonzero(scored & ((events == codes.EVENT_OPEN) | (events == codes.EVENT_CONTINUE)
                                          | (events == codes.EVENT_CLOSE))).tolist()
        # Data is back for a series in outage: end the outage at its first point back, first.
        back = self._first_points_back(ids, ts, scored_at, latest)
        returning = list(back)
        detections = [missing_data(sid, float(ts[i]), float(values[i]), storage_pb2.EPISODE_EVENT_CLOSE)
                      for sid, i in back.items()]
        detections += [detection(ids[i], float(ts[i]), float(values[i]), batch, i) for i in chosen]
        anomaly_ids = [""] * len(ids)
        if detections:
            try:
                applied = self._call(self.storage.ApplyDetections, storage_pb2.ApplyDetectionsRequest(
                    detections=detections)).anomaly_ids
            except Exception:
                # Catalog did not take them (or failed in a way nobody expected): the states go
                # back to what catalog reflects, and the next contact scores these points again
                # from there. Nothing else was changed yet.
                self.engine.put_back(before)
                raise
            for i, anomaly_id in zip(chosen, applied[len(returning):], strict=True):
                anomaly_ids[i] = anomaly_id
        ts_list, value_list = ts.tolist(), values.tolist()
        applied_at = set(chosen)
        for sid, i in latest.items():
            if i in applied_at:  # its latest point's event moved scored_until already
                self.progress.pop(sid, None)
            else:
                self.progress[sid] = (ts_list[i], value_list[i])
        for sid in returning:
            del self.missing_open[sid]
        opened = np.flatnonzero(scored & (events == codes.EVENT_OPEN))
        if opened.size:
            names = batch.type_names()
            for i in opened.tolist():
                ANOMALIES_OPENED.labels(names[i] or "unknown").inc()
        arrived = self.clock()
        for i in scored_at:
            self._track(ids[i], ts_list[i], value_list[i], arrived)
        count = len(scored_at)
        self.points_scored += count
        POINTS_SCORED.inc(count)
        SERIES_HELD.set(len(self.info))
        return anomaly_ids, batch

    def _first_points_back(self, ids: list[str], ts: np.ndarray, scored_at: list[int],
                           latest: dict[str, int]) -> dict[str, int]:
        """Series in outage -> position of their first scored point after the outage's last point.
        Points up to it are history (a series rebuilt from its stored points replays them all),
        not data returning: closing there would end the outage before it started."""
        in_outage = {sid: self.missing_open[sid] for sid in latest if sid in self.missing_open}
        back: dict[str, int] = {}
        if in_outage:  # rare: the scored points of the batch only then
            for i in scored_at:
                sid = ids[i]
                if sid in in_outage and sid not in back and ts[i] > in_outage[sid]:
                    back[sid] = i
        return back

    def _track(self, sid: str, ts: float, value: float, arrived: float) -> None:
        """Plain numbers only: a part of a request kept here would keep the whole request (its
        thousands of points) in memory for as long as the series lives."""
        info = self.info.get(sid)
        if info is None:
            self.info[sid] = SeriesInfo(ts, value, 0.0, arrived)
        else:
            if ts > info.last_ts:
                info.step = update_step(info.step, ts - info.last_ts, info.gaps)
                info.gaps += 1
            info.last_ts, info.last_value, info.arrived = ts, value, arrived
        self.dirty.add(sid)

    def flush_progress(self) -> int:
        """Tells catalog how far each series has been scored since the last flush (one event-less
        detection per series; catalog only moves `scored_until` forward). Returns the series sent."""
        with self.lock:
            progress, self.progress = self.progress, {}
        detections, unusable = [], {}
        for sid, (ts, value) in progress.items():
            try:
                detections.append(storage_pb2.Detection(metric_id=sid, time=to_timestamp(ts), value=value))
            except Exception as error:  # noqa: BLE001 - that series alone is left out
                unusable[sid] = error
        try:
            if detections:
                unusable.update(self._apply_apart(detections))
        except Exception:  # whatever failed, catalog may not have it: sent again next time
            with self.lock:  # unless a later point has been recorded since
                for sid, point in progress.items():
                    if sid not in unusable:
                        self.progress.setdefault(sid, point)
            raise
        finally:
            if unusable:
                with self.lock:
                    for sid, error in unusable.items():
                        self._drop_unusable(sid, error)
        return len(progress) - len(unusable)

    def _apply_apart(self, detections: list[storage_pb2.Detection]) -> dict[str, ServiceError]:
        """Applies detections of distinct series (progress, outages) in one call. If catalog
        refuses it (VALIDATION_ERROR: a series it does not know, a time past its stored points),
        each goes alone, so that one series cannot hold back every other's for good; returns the
        refused ones' errors by series."""
        try:
            self._call(self.storage.ApplyDetections,
                       storage_pb2.ApplyDetectionsRequest(detections=detections))
            return {}
        except ServiceError as error:
            if error.code != "VALIDATION_ERROR":
                raise
        refused = {}
        for one in detections:
            try:
                self._call(self.storage.ApplyDetections, storage_pb2.ApplyDetectionsRequest(detections=[one]))
            except ServiceError as error:
                if error.code != "VALIDATION_ERROR":
                    raise
                refused[one.metric_id] = error
        return refused

    def _drop_unusable(self, sid: str, error: Exception) -> None:
        """Forgets a series whose state cannot be recorded in catalog (or catalog refuses), so it
        cannot fail the shard's flushes, checkpoints and staleness checks; it is rebuilt from
        stored points on next contact. Caller holds the lock."""
        log.error("series state cannot be recorded, rebuilding it from its points",
                  extra={"metric_id": sid, "error": repr(error)})
        self.engine.forget(sid)
        self.info.pop(sid, None)
        self.progress.pop(sid, None)
        self.dirty.discard(sid)

    # ------------------------------------------------------------------ catching up
    def _fill_gaps(self, series: Sequence[detect_pb2.SeriesToScore]) -> None:
        """Scores stored points the shard never saw (an earlier call failed, or the shard was
        down) before the new ones, so none is left unscored."""
        for s in series:
            if not s.HasField("previous_time"):
                continue
            previous = from_timestamp(s.previous_time)
            last = self.engine.last_timestamp(s.metric_id)
            if last is None or last < previous:
                self._replay(s.metric_id, last, s.config, until=previous)

    def _replay(self, sid: str, after: float | None, config: metrics_pb2.AnomalyConfig,
                until: float | None = None) -> int:
        """Feeds the series' stored points after `after` (up to `until`) through the engine and
        catalog; detections catalog already applied are ignored there."""
        total = 0
        while True:
            request = storage_pb2.ReadPointsRequest(metric_id=sid, limit=READ_PAGE)
            if after is not None:
                request.after_time.CopyFrom(to_timestamp(after))
            page = self._call(self.storage.ReadPoints, request)
            points = [(from_timestamp(p.time), p.value) for p in page.points]
            if until is not None:
                points = [(t, v) for t, v in points if t <= until]
            if points:
                ts = np.array([t for t, _ in points], dtype=np.float64)
                values = np.array([v for _, v in points], dtype=np.float64)
                self._score_and_apply([sid] * len(points), ts, values, {sid: config})
                after, total = float(ts[-1]), total + len(points)
            reached_until = until is not None and after is not None and after >= until
            if not page.has_more or reached_until or not points:
                return total

    def restore_when_catalog_answers(self, stopping: threading.Event, first_wait: float = 1.0) -> bool:
        """Restores, trying again (waits doubling up to 30 s) while catalog is unavailable: it may
        start after detect, or restart meanwhile. A retry resumes each series from where the
        failed attempt left it. False, not ready, if `stopping` is set first."""
        wait = first_wait
        while True:
            try:
                self.restore()
                return True
            except ServiceError as error:
                if error.code != "UNAVAILABLE":
                    raise
                log.warning("catalog unavailable during restore, trying again",
                            extra={"error": str(error), "retry_in_seconds": wait})
            if stopping.wait(wait):
                return False
            wait = min(2 * wait, 30.0)

    def restore(self) -> None:
        """Restores checkpoints and scores every point stored after them; then the shard is ready."""
        started = time.perf_counter()
        rows = self._shard_series()
        replayed, restored_at = 0, self.clock()
        with self.lock:
            for row in rows:
                sid = row.metric_id
                replayed += self._resume_alone(row)
                if row.HasField("last_time"):
                    # When it arrived is not stored: as if now (its time may be weeks old, a
                    # backfill), so a series gets 3 steps from the restart before it is stale.
                    last = from_timestamp(row.last_time)
                    info = self.info.setdefault(sid, SeriesInfo(last, 0.0, 0.0, restored_at))
                    if not info.step and row.step_seconds > 0:  # catalog's, made by the stored gaps
                        info.step, info.gaps = row.step_seconds, WARM_GAPS
                # After the replay: replayed points are history, not data returning.
                if row.missing_data_open:
                    self.missing_open[sid] = last if row.HasField("last_time") else -np.inf
            self.ready = True
        try:
            self.flush_progress()
        except Exception as error:  # noqa: BLE001 - kept for the progress timer's next flush
            log.warning("progress not flushed after restore", extra={"error": repr(error)})
        log.info("shard restored", extra={"series": len(rows), "points_replayed": replayed,
                                          "seconds": round(time.perf_counter() - started, 3)})

    def _shard_series(self) -> list[storage_pb2.ShardSeries]:
        request = storage_pb2.ListShardSeriesRequest(shard_index=self.shard_index,
                                                     shard_count=self.shard_count)
        try:  # a stream fails as it is read, not when called
            return list(self.storage.ListShardSeries(request, timeout=max(self.timeout, 300)))
        except grpc.RpcError as error:
            raise from_rpc_error(error) from None

    def _resume(self, row: storage_pb2.ShardSeries) -> int:
        """Scores the series' stored points the engine has not seen, from its state in memory or
        else from its checkpoint (or from the first point); caller holds the lock."""
        sid = row.metric_id
        after = self.engine.last_timestamp(sid)
        if after is None and row.HasField("checkpoint"):
            try:
                self.engine.restore(sid, row.checkpoint.state)
                after = from_timestamp(row.checkpoint.state_time)
            except ValueError:
                log.warning("unusable checkpoint, rebuilding from points", extra={"metric_id": sid})
        if not row.HasField("last_time"):
            return 0
        last = from_timestamp(row.last_time)
        if after is None or last > after:
            return self._replay(sid, after, row.config)
        if sid not in self.progress and (not row.HasField("scored_until")
                                         or from_timestamp(row.scored_until) < last):
            # Scored up to its last point, but that progress never reached catalog (the process
            # stopped before the flush): send it, or the series stays behind for good. Catalog
            # reads only the time of an event-less detection.
            self.progress[sid] = (last, 0.0)
        return 0

    def catch_up(self) -> int:
        """Scores stored points that never reached the shard and nothing else will deliver: ingest
        keeps its re-sends in memory only, and a series may get no further point. A series is
        caught up once it has stayed behind (latest stored point after `scored_until`) for
        `catch_up_grace` seconds with no progress on the points seen then, which leaves ingest's
        normal path, about to score them, alone. One catalog read when no series is behind.
        Returns the points scored."""
        if not self.ready:
            return 0
        now = self.clock()
        due, seen_now = [], {}
        for row in self._behind_series():
            sid, last = row.metric_id, from_timestamp(row.last_time)
            scored = from_timestamp(row.scored_until) if row.HasField("scored_until") else None
            seen = self.behind_since.get(sid)
            if seen is None or (scored is not None and scored >= seen[1]):
                seen = (now, last)  # newly behind, or what was seen then got scored
            elif now - seen[0] >= self.catch_up_grace:
                due.append(row)  # and still seen: if its catch-up fails, it is due again next time
            seen_now[sid] = seen
        self.behind_since = seen_now
        total = 0
        with self.lock:
            for row in due:
                total += self._resume_alone(row)
        self.flush_progress()
        if total:
            POINTS_CAUGHT_UP.inc(total)
            log.info("caught up on stored points", extra={"series": len(due), "points": total})
        return total

    def _resume_alone(self, row: storage_pb2.ShardSeries) -> int:
        """_resume, where a series that fails is left for the next catch-up rather than stopping
        the others' (every restore or check would fail at it again first); but catalog being
        unavailable stops the round, since every other series would wait out the same failure."""
        try:
            return self._resume(row)
        except Exception as error:  # noqa: BLE001 - that series alone is left behind
            if isinstance(error, ServiceError) and error.code == "UNAVAILABLE":
                raise
            log.error("series not caught up", extra={"metric_id": row.metric_id, "error": repr(error)})
            return 0

    def _behind_series(self) -> list[storage_pb2.ShardSeries]:
        rows, after = [], ""
        while True:
            page = self._call(self.storage.ListBehindSeries, storage_pb2.ListBehindSeriesRequest(
                shard_index=self.shard_index, shard_count=self.shard_count, after_metric_id=after))
            rows.extend(page.series)
            after = page.next_after_metric_id
            if not after:
                return rows

    # ------------------------------------------------------------------ checkpoints
    def checkpoint(self, everything: bool = False) -> int:
        with self.lock:
            chosen = list(self.engine.series_ids()) if everything else [s for s in self.dirty]
            states = []
            for sid in chosen:
                last = self.engine.last_timestamp(sid)
                if last is None:
                    continue
                try:
                    states.append(storage_pb2.Checkpoint(metric_id=sid, state=self.engine.snapshot(sid),
                                                         state_time=to_timestamp(last)))
                except Exception as error:  # noqa: BLE001 - that series alone is left out
                    self._drop_unusable(sid, error)
            self.dirty.difference_update(chosen)
        with CHECKPOINT_SECONDS.time():
            for start in range(0, len(states), CHECKPOINT_BATCH):
                try:
                    self._call(self.storage.SaveCheckpoints, storage_pb2.SaveCheckpointsRequest(
                        checkpoints=states[start:start + CHECKPOINT_BATCH]))
                except Exception:
                    with self.lock:  # try again next round
                        self.dirty.update(c.metric_id for c in states[start:])
                    raise
        return len(states)

    # ------------------------------------------------------------------ missing data
    def check_staleness(self) -> list[str]:
        """Opens a missing_data anomaly for each series silent for more than 3 of its steps."""
        now = self.clock()
        with self.lock:
            stale = [(sid, info) for sid, info in self.info.items()
                     if info.gaps >= GAPS_BEFORE_STALE and sid not in self.missing_open
                     and now - info.arrived > stale_after(info.step)]
            if not stale:
                return []
            outages = [missing_data(sid, now, info.last_value, storage_pb2.EPISODE_EVENT_OPEN)
                       for sid, info in stale]
            refused = self._apply_apart(outages)
            for sid, error in refused.items():
                self._drop_unusable(sid, error)
            stale = [(sid, info) for sid, info in stale if sid not in refused]
            self.missing_open.update((sid, info.last_ts) for sid, info in stale)
        for _ in stale:
            ANOMALIES_OPENED.labels("missing_data").inc()
        return [sid for sid, _ in stale]


_SEVERITY_OF_CODE = np.array(SEVERITY, dtype=np.int64)
_TYPE_OF_CODE = np.array(TYPE, dtype=np.int64)


def _answers(batch, anomaly_ids: list[str]) -> detect_pb2.ScorePointsResponse:
    """The verdicts as packed columns. A skipped point carries no score or baseline, and only a
    point of an anomaly carries its severity and type."""
    scored = ~batch.skipped
    in_anomaly = np.array([bool(a) for a in anomaly_ids], dtype=bool)

    def where_scored(column: np.ndarray) -> list[float]:
        return np.where(scored, column, 0.0).tolist()

    return detect_pb2.ScorePointsResponse(
        scored=scored.tolist(), learning=batch.learning.tolist(), anomaly_score=where_scored(batch.score),
        baseline_mean=where_scored(batch.mean), baseline_std=where_scored(batch.std),
        range_lower=where_scored(batch.lower), range_upper=where_scored(batch.upper),
        severity=np.where(in_anomaly, _SEVERITY_OF_CODE[batch.severity], 0).tolist(),
        type=np.where(in_anomaly, _TYPE_OF_CODE[batch.type], 0).tolist(),
        anomalies=[detect_pb2.PointAnomaly(index=i, anomaly_id=a) for i, a in enumerate(anomaly_ids) if a])


class Timer:
    """Runs `action` every `every` seconds on a daemon thread until stopped; failures are logged."""

    def __init__(self, name: str, every: float, action: Callable[[], object]):
        self.every, self.action = every, action
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():  # never started when the process stopped during its restore
            self._thread.join(timeout=10)

    def _loop(self) -> None:
        while not self._stop.wait(self.every):
            try:
                self.action()
            except Exception:  # noqa: BLE001 - the next tick retries
                log.exception("%s failed", self._thread.name)


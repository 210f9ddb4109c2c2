"""Concurrent ingest calls share catalog writes and detect calls (group commit).

Every call's checked points wait in a queue. One writer thread takes everything waiting (up to
MAX_GROUP points) and stores it with one catalog WritePoints per scope, and one scorer thread scores
what was stored with one call per detect shard and then wakes the callers. What a call costs beyond
its points (a catalog transaction and commit, a detect round trip, detect's ApplyDetections
transaction) is paid once per group, however many callers wait, and while one group is being
scored the next is being written.

Up to `lanes` writes are in flight at once, for groups that share no series: a write waits mostly
for the database (PostgreSQL's round trips and commit), and one writer at a time left catalog and
the database half idle under load.

Order holds: a group that shares a series with a write in flight is written after it, the scorer
takes groups in the order they were stored, and a call's points keep their order, so per series the
points reach catalog and detect in arrival order. A caller is answered only after its points are
durable (and scored, unless detect is unavailable).

A validate-only job (`X-Test-Only`) or an all-or-nothing one (flux) gets a WritePoints of its own
in the same order, since catalog rolls such a write back whole; a write that kept nothing is not
scored.
"""
from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from opentelemetry import context as otel_context

from anomalywatch.catalog.v1 import storage_pb2
from anomalywatch.common.v1 import common_pb2
from services.common.timeutil import from_timestamp
from services.ingest.columns import Columns
from services.ingest.detect_router import SeriesToScore, Verdicts

log = logging.getLogger(__name__)
MAX_GROUP = 5000  # catalog's WritePoints and detect's ScorePoints take at most 5000 points a call
WRITE_LANES = 2  # catalog writes in flight at once (Settings.ingest_write_lanes)
LINGER_SECONDS = 0.003  # how long the writer waits for more calls while others are in flight
STORED, DUPLICATE = storage_pb2.WRITE_OUTCOME_STORED, storage_pb2.WRITE_OUTCOME_DUPLICATE


@dataclass
class Written:
    """What catalog did with a job's points, one entry per point in each list."""
    outcomes: list[int]  # storage WriteOutcome
    series: list[storage_pb2.SeriesWritten]  # the point's series (id, config)
    count_after: list[int]  # for a stored point: its series' point count with it; for a repeat: then
    score_at: list[int]  # for a stored point: its position in the scored batch, else -1
    rejections: dict[int, storage_pb2.PointRejection] = field(default_factory=dict)
    rule_hits: dict[int, list[storage_pb2.RuleHit]] = field(default_factory=dict)
    rolled_back: bool = False  # judged only, nothing kept (nothing scored either)


@dataclass(eq=False)
class Job:
    scope: common_pb2.Scope
    points: Columns  # checked points; series are (metric, tags) keyed by (metric, *sorted tag items)
    validate_only: bool = False  # WritePoints' modes: such a job has a write of its own
    all_or_nothing: bool = False
    context: Any = field(default_factory=otel_context.get_current)
    done: threading.Event = field(default_factory=threading.Event)
    written: Written | None = None
    verdicts: Verdicts | None = None  # of the scored batch the job's stored points went into
    error: BaseException | None = None

    def fail(self, error: BaseException) -> None:
        self.error = error
        self.done.set()


@dataclass(eq=False)
class _Group:
    """Jobs of one scope written together, and their stored points (plus catch-ups) to score."""
    jobs: list[Job]
    to_score: Columns


class Coalescer:
    def __init__(self, write: Callable[[storage_pb2.WritePointsRequest], storage_pb2.WritePointsResponse],
                 score: Callable[[Columns], Verdicts], max_group: int = MAX_GROUP,
                 linger: float = LINGER_SECONDS, lanes: int = WRITE_LANES):
        self._write, self._score, self._max, self._linger = write, score, max_group, linger
        self._lane_count = max(1, lanes)
        self._lanes = ThreadPoolExecutor(self._lane_count, thread_name_prefix="ingest-write")
        self._writes = threading.Condition()  # guards the two below
        self._writing: set[tuple] = set()  # the series of the writes in flight
        self._write_count = 0
        self._lock = threading.Lock()
        self._in_flight = 0  # calls waiting here
        self._waiting: queue.SimpleQueue[Job] = queue.SimpleQueue()
        self._written: queue.SimpleQueue[_Group] = queue.SimpleQueue()
        self._carry: Job | None = None  # taken but did not fit in the last group (writer thread only)
        for name, loop in (("ingest-writer", self._write_loop), ("ingest-scorer", self._score_loop)):
            threading.Thread(target=loop, name=name, daemon=True).start()

    def run(self, job: Job) -> Job:
        """Stores and scores the job's points with whatever else is waiting; raises what failed."""
        with self._lock:
            self._in_flight += 1
        try:
            self._waiting.put(job)
            job.done.wait()
        finally:
            with self._lock:
                self._in_flight -= 1
        if job.error is not None:
            raise job.error
        return job

    # ------------------------------------------------------------------ writer
    def _take(self, source: queue.SimpleQueue, first, size: Callable[[Any], int],
              linger: float = 0.0) -> tuple[list, Any]:
        """`first` and whatever else waits in `source`, up to the group size; (taken, left over).
        With `linger`, waits that long for more while other calls are in flight (their callers
        are about to send again), so a busy service writes fewer, larger groups."""
        taken, total = [first], size(first)
        until = time.monotonic() + linger
        while total < self._max:
            try:
                item = source.get_nowait()
            except queue.Empty:
                left = until - time.monotonic()
                if left <= 0 or self._in_flight <= len(taken):
                    return taken, None
                try:
                    item = source.get(timeout=left)
                except queue.Empty:
                    return taken, None
            if total + size(item) > self._max:
                return taken, item
            taken.append(item)
            total += size(item)
        return taken, None

    def _write_loop(self) -> None:
        while True:
            first = self._carry or self._waiting.get()
            with self._writes:  # take the rest once a lane is free: what arrives meanwhile joins in
                self._writes.wait_for(lambda: self._write_count < self._lane_count)
            jobs, self._carry = self._take(self._waiting, first, lambda j: len(j.points), self._linger)
            by_scope: dict[tuple[str, int], list[Job]] = {}
            for job in jobs:
                scope = (job.scope.account_id, job.scope.environment)
                if job.validate_only or job.all_or_nothing:
                    # Alone: a rollback must not take others' points with it, nor theirs be judged
                    # only. The scope's earlier jobs go first, to keep the order of its series.
                    if scope in by_scope:
                        self._dispatch(scope, by_scope.pop(scope))
                    self._dispatch(scope, [job])
                else:
                    by_scope.setdefault(scope, []).append(job)
            for scope, group in by_scope.items():
                self._dispatch(scope, group)

    def _dispatch(self, scope: tuple[str, int], jobs: list[Job]) -> None:
        """Starts the group's write in a lane once a lane is free and no write in flight has any of
        its series (a series sent with its tags in another order is the same series here)."""
        combined = Columns()
        starts = [combined.extend(job.points) for job in jobs]
        series = {(scope, metric, *sorted(tags.items())) for metric, tags in combined.series}
        with self._writes:
            self._writes.wait_for(lambda: self._write_count < self._lane_count
                                  and self._writing.isdisjoint(series))
            self._writing |= series
            self._write_count += 1
        self._lanes.submit(self._write_in_lane, jobs, combined, starts, series)

    def _write_in_lane(self, jobs: list[Job], combined: Columns, starts: list[int],
                       series: set[tuple]) -> None:
        try:
            group = self._write_group(jobs, combined, starts)
            if group is None:  # nothing kept, nothing to score
                for job in jobs:
                    job.done.set()
            else:
                self._written.put(group)
        except BaseException as error:  # noqa: BLE001 - every caller of the group gets it
            for job in jobs:
                job.fail(error)
        finally:  # stored groups are queued for the scorer before a later write of their series starts
            with self._writes:
                self._writing -= series
                self._write_count -= 1
                self._writes.notify_all()

    def _write_group(self, jobs: list[Job], combined: Columns, starts: list[int]) -> _Group | None:
        """The group's stored points to score; None when the write kept nothing (a job alone)."""
        request = storage_pb2.WritePointsRequest(
            scope=jobs[0].scope, series=[storage_pb2.SeriesKey(metric=m, tags=t) for m, t in combined.series],
            series_index=combined.series_index, times=combined.times, values=combined.values,
            validate_only=jobs[0].validate_only, all_or_nothing=jobs[0].all_or_nothing)
        token = otel_context.attach(jobs[0].context)  # the group's calls join the first caller's trace
        try:
            answer = self._write(request)
        finally:
            otel_context.detach(token)
        outcomes, series = list(answer.outcomes), list(answer.series)
        if answer.rolled_back:
            to_score, count_after, score_at = Columns(), [0] * len(outcomes), [-1] * len(outcomes)
        else:
            to_score, count_after, score_at = _to_score(combined, outcomes, series)
        rejections = {r.index: r for r in answer.rejections}
        hits: dict[int, list[storage_pb2.RuleHit]] = {}
        for hit in answer.rule_hits:
            hits.setdefault(hit.index, []).append(hit)
        for job, start in zip(jobs, starts, strict=True):
            stop = start + len(job.points)
            job.written = Written(
                outcomes[start:stop], [series[j] for j in combined.series_index[start:stop]],
                count_after[start:stop], score_at[start:stop],
                {g - start: r for g, r in rejections.items() if start <= g < stop},
                {g - start: h for g, h in hits.items() if start <= g < stop}, answer.rolled_back)
        return None if answer.rolled_back else _Group(jobs, to_score)

    # ------------------------------------------------------------------ scorer
    def _score_loop(self) -> None:
        carry: _Group | None = None
        while True:
            first = carry or self._written.get()
            groups, carry = self._take(self._written, first, lambda g: len(g.to_score))
            try:
                self._score_groups(groups)
            except BaseException as error:  # noqa: BLE001 - stored already: the callers learn it failed
                log.exception("scoring a group of ingest calls failed")
                for group in groups:
                    for job in group.jobs:
                        job.fail(error)

    def _score_groups(self, groups: list[_Group]) -> None:
        combined = Columns()
        for group in groups:
            start = combined.extend(group.to_score)
            if start:
                for job in group.jobs:
                    job.written.score_at = [i + start if i >= 0 else -1 for i in job.written.score_at]
        token = otel_context.attach(groups[0].jobs[0].context)
        try:
            verdicts = self._score(combined)
        finally:
            otel_context.detach(token)
        for group in groups:
            for job in group.jobs:
                job.verdicts = verdicts
                job.done.set()


def _to_score(points: Columns, outcomes: list[int], series: list[storage_pb2.SeriesWritten]
              ) -> tuple[Columns, list[int], list[int]]:
    """The stored points to score, and per point its series' count with it (a repeat: the count
    as it stands) and its position in them (-1 when not stored).

    A client repeats a point when it did not get the first answer, and the point may then have
    been stored without reaching detect (ingest died in between). Each series with only repeats
    here is therefore sent its latest one too, with itself as the previous time: a shard behind
    scores the stored points up to it, one that is not skips it, so nothing is scored twice."""
    to_score = Columns()
    counts = [s.point_count_before for s in series]
    before = [from_timestamp(s.last_time_before) if s.HasField("last_time_before") else None for s in series]
    count_after, score_at = [0] * len(outcomes), [-1] * len(outcomes)
    repeated: dict[int, tuple[float, float]] = {}
    columns = zip(points.series_index, points.times, points.values, outcomes, strict=True)
    for g, (j, ts, value, outcome) in enumerate(columns):
        if outcome == STORED:
            counts[j] += 1
            count_after[g] = counts[j]
            s = series[j]
            k = to_score.series_position(s.metric_id, SeriesToScore(s.metric_id, s.config, before[j]))
            score_at[g] = to_score.add(k, ts, value)
        elif outcome == DUPLICATE:
            count_after[g] = counts[j]  # the repeat's series is still learning, or not, as it stands
            repeated[j] = (ts, value)
    for j, (ts, value) in repeated.items():
        s = series[j]
        if not to_score.knows(s.metric_id) and s.HasField("config"):
            to_score.add(to_score.series_position(s.metric_id, SeriesToScore(s.metric_id, s.config, ts)),
                         ts, value)
    return to_score, count_after, score_at

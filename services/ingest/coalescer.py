"""Concurrent ingest calls share catalog writes and detect calls (group commit).

Every call's checked points wait in a queue. One writer thread takes everything waiting (up to
MAX_GROUP points), stores it with one catalog WritePoints per scope, and hands it to one scorer
thread, which scores what the writer handed over with one call per detect shard and then wakes the
callers. What a call costs beyond its points (a catalog transaction and commit, a detect round trip,
detect's ApplyDetections transaction) is paid once per group, however many callers wait, and
while one group is being scored the next is being written.

Order holds: groups are written and scored in the order they were taken and a call's points keep
their order, so per series the points reach catalog and detect in arrival order. A caller is
answered only after its points are durable (and scored, unless detect is unavailable).
"""
from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from opentelemetry import context as otel_context

from anomalywatch.catalog.v1 import storage_pb2
from anomalywatch.common.v1 import common_pb2
from services.common.timeutil import to_timestamp
from services.ingest.validation import CheckedPoint

log = logging.getLogger(__name__)
MAX_GROUP = 5000  # catalog's WritePoints and detect's ScorePoints take at most 5000 points a call
LINGER_SECONDS = 0.003  # how long the writer waits for more calls while others are in flight

# (the written results of a call's points as (its index, result), the configs by series) -> what to score
Prepare = Callable[[list[tuple[int, storage_pb2.PointWriteResult]], dict[str, Any]], list]


@dataclass(eq=False)
class Job:
    scope: common_pb2.Scope
    checked: Sequence[tuple[int, CheckedPoint]]
    prepare: Prepare
    context: Any = field(default_factory=otel_context.get_current)
    done: threading.Event = field(default_factory=threading.Event)
    to_score: list = field(default_factory=list)
    verdicts: list = field(default_factory=list)
    error: BaseException | None = None

    def fail(self, error: BaseException) -> None:
        self.error = error
        self.done.set()


class Coalescer:
    def __init__(self, write: Callable[[storage_pb2.WritePointsRequest], storage_pb2.WritePointsResponse],
                 score: Callable[[list], list], max_group: int = MAX_GROUP, linger: float = LINGER_SECONDS):
        self._write, self._score, self._max, self._linger = write, score, max_group, linger
        self._lock = threading.Lock()
        self._in_flight = 0  # calls waiting here
        self._waiting: queue.SimpleQueue[Job] = queue.SimpleQueue()
        self._written: queue.SimpleQueue[list[Job]] = queue.SimpleQueue()
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
            jobs, self._carry = self._take(self._waiting, first, lambda j: len(j.checked), self._linger)
            by_scope: dict[tuple[str, int], list[Job]] = {}
            for job in jobs:
                by_scope.setdefault((job.scope.account_id, job.scope.environment), []).append(job)
            for group in by_scope.values():
                try:
                    self._write_group(group)
                except BaseException as error:  # noqa: BLE001 - every caller of the group gets it
                    for job in group:
                        job.fail(error)

    def _write_group(self, group: list[Job]) -> None:
        owners: list[tuple[Job, int]] = []  # by position in the WritePoints request
        writes = []
        for job in group:
            for i, p in job.checked:
                writes.append(storage_pb2.PointWrite(index=len(owners), metric=p.metric, tags=p.tags,
                                                     time=to_timestamp(p.ts), value=p.value, source=p.source))
                owners.append((job, i))
        token = otel_context.attach(group[0].context)  # the group's calls join the first caller's trace
        try:
            written = self._write(storage_pb2.WritePointsRequest(scope=group[0].scope, points=writes))
        finally:
            otel_context.detach(token)
        configs = {c.metric_id: c.config for c in written.configs}
        per_job: dict[Job, list[tuple[int, storage_pb2.PointWriteResult]]] = {job: [] for job in group}
        for w in written.results:
            job, i = owners[w.index]
            per_job[job].append((i, w))
        for job, results in per_job.items():
            job.to_score = job.prepare(results, configs)
        self._written.put(group)

    # ------------------------------------------------------------------ scorer
    def _score_loop(self) -> None:
        carry: list[Job] | None = None
        while True:
            first = carry or self._written.get()
            groups, carry = self._take(self._written, first, lambda g: sum(len(j.to_score) for j in g))
            jobs = [job for group in groups for job in group]
            try:
                self._score_jobs(jobs)
            except BaseException as error:  # noqa: BLE001 - stored already: the callers learn it failed
                log.exception("scoring a group of ingest calls failed")
                for job in jobs:
                    job.fail(error)

    def _score_jobs(self, jobs: list[Job]) -> None:
        combined = [p for job in jobs for p in job.to_score]
        if combined:
            token = otel_context.attach(jobs[0].context)
            try:
                verdicts = self._score(combined)
            finally:
                otel_context.detach(token)
            start = 0
            for job in jobs:
                job.verdicts = verdicts[start:start + len(job.to_score)]
                start += len(job.to_score)
        for job in jobs:
            job.done.set()

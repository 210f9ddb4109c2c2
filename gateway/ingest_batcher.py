"""Concurrent ingest requests of one API key reach ingest together, in one gRPC call.

A single-point request costs ingest and the gateway a whole gRPC call (~1 ms of CPU between
them) for a few bytes of data. Here the first request of a key to arrive sends its points at once
and becomes the key's leader; the requests of that key arriving while its call is in flight wait,
and when it returns the first of them leads the next call with all of them (up to the 500 points
a call takes). Nothing waits for company that is not coming: a lone request goes out at once, and
a group forms only from requests that would otherwise have queued for ingest anyway.

A caller's points keep their order, and a group's calls go out one after another, so the points
of every request reach ingest in arrival order. Every member of a group gets the call's failure.
The trace of the leading request holds the call's spans.

An all-or-nothing request (flux) is never grouped: its call stores all of its points or none, and
another request's bad point must not decide that. Nor is a test post: it is judged against the
stored data alone, and in one call with another test post each would be judged against the
other's unstored points (the second of two identical posts came back a duplicate). Such requests
of a key still go out in turn."""
from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from anomalywatch.ingest.v1 import ingest_pb2
from services.ingest.pipeline import MAX_POINTS

Send = Callable[[ingest_pb2.IngestRequest, str], ingest_pb2.IngestResponse]


@dataclass(eq=False)
class _Request:
    points: Sequence[ingest_pb2.Point]
    woken: threading.Event = field(default_factory=threading.Event)
    leads: bool = False  # woken to send the next call, not answered
    results: list[ingest_pb2.PointResult] | None = None
    error: BaseException | None = None


class IngestBatcher:
    def __init__(self, send: Send, max_points: int = MAX_POINTS):
        self._send, self._max = send, max_points
        self._lock = threading.Lock()
        # per (key, test_only, all_or_nothing) with a call in flight
        self._waiting: dict[tuple[str, bool, bool], list[_Request]] = {}

    def ingest(self, key: str, points: Sequence[ingest_pb2.Point], test_only: bool,
               all_or_nothing: bool = False) -> list[ingest_pb2.PointResult]:
        """The result of each point, in order (an IngestResponse's results for these points)."""
        if not 1 <= len(points) <= self._max:
            raise ValueError(f"1 to {self._max} points per request")
        mine, group = _Request(points), (key, test_only, all_or_nothing)
        with self._lock:
            waiting = self._waiting.get(group)
            if waiting is None:
                self._waiting[group] = [mine]
                mine.leads = True
            else:
                waiting.append(mine)
        if not mine.leads:
            mine.woken.wait()
        if mine.leads:
            self._lead(group)
        if mine.error is not None:
            raise mine.error
        return mine.results

    def _lead(self, group: tuple[str, bool, bool]) -> None:
        """Sends the waiting requests of the group (this thread's first) in one call, answers
        them, and hands the group to the first request left waiting, if any."""
        key, test_only, all_or_nothing = group
        with self._lock:
            waiting = self._waiting[group]
            taken, total = [], 0
            alone = all_or_nothing or test_only
            while waiting and total + len(waiting[0].points) <= self._max and not (alone and taken):
                total += len(waiting[0].points)
                taken.append(waiting.pop(0))
        try:
            answer = self._send(ingest_pb2.IngestRequest(
                points=[p for r in taken for p in r.points], test_only=test_only,
                all_or_nothing=all_or_nothing), key)
            start = 0
            for r in taken:
                r.results = list(answer.results[start:start + len(r.points)])
                for i, result in enumerate(r.results):
                    result.index = i
                start += len(r.points)
        except BaseException as error:  # noqa: BLE001 - every member learns what failed
            for r in taken:
                r.error = error
        finally:
            with self._lock:
                nxt = waiting[0] if waiting else None
                if nxt is None:
                    del self._waiting[group]
                else:
                    nxt.leads = True
            for r in taken:
                r.leads = False
                r.woken.set()
            if nxt is not None:
                nxt.woken.set()

"""services.ingest.coalescer: writes of groups with no series in common run at once (up to the
lanes); a group that shares a series with a write in flight waits for it, so per series the points
are stored and scored in arrival order; a failed write fails its callers and holds up nothing; a
validate-only or all-or-nothing call has a write of its own, and one that kept nothing is not scored."""
from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from anomalywatch.catalog.v1 import storage_pb2
from anomalywatch.common.v1 import common_pb2
from services.common.errors import ServiceError
from services.ingest.coalescer import Coalescer, Job
from services.ingest.columns import Columns
from services.ingest.detect_router import Verdicts

SCOPE = common_pb2.Scope(account_id="acct_1", environment=common_pb2.ENVIRONMENT_LIVE)


class FakeCatalog:
    """Stores every point; a write of a metric in `held` waits until released. Records how many
    writes were in flight at most and, per metric, the times in the order they were written."""

    def __init__(self, fail_metrics: frozenset[str] = frozenset()):
        self.lock = threading.Lock()
        self.in_flight = self.most_in_flight = 0
        self.written: dict[str, list[float]] = {}
        self.started: dict[str, int] = {}  # writes begun, per metric
        self.calls: list[list[str]] = []  # the metrics of each write
        self.modes: list[tuple[bool, bool]] = []  # (validate_only, all_or_nothing) of each write
        self.held: dict[str, threading.Event] = {}
        self.entered: dict[str, threading.Event] = {}
        self.fail_metrics = fail_metrics

    def hold(self, metric: str) -> None:
        self.held[metric], self.entered[metric] = threading.Event(), threading.Event()

    def __call__(self, request: storage_pb2.WritePointsRequest) -> storage_pb2.WritePointsResponse:
        metrics = [k.metric for k in request.series]
        with self.lock:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
            for m in metrics:
                self.started[m] = self.started.get(m, 0) + 1
            self.calls.append(sorted(metrics))
            self.modes.append((request.validate_only, request.all_or_nothing))
        try:
            for m in metrics:
                if m in self.entered:
                    self.entered[m].set()
                if m in self.held:
                    assert self.held[m].wait(10)
            if self.fail_metrics & set(metrics):
                raise ServiceError("UNAVAILABLE", "catalog is unavailable; retry shortly")
            with self.lock:
                for j, ts in zip(request.series_index, request.times, strict=True):
                    if not request.validate_only:
                        self.written.setdefault(metrics[j], []).append(ts)
            return storage_pb2.WritePointsResponse(
                outcomes=[storage_pb2.WRITE_OUTCOME_STORED] * len(request.times),
                series=[storage_pb2.SeriesWritten(metric_id=f"met_{m}") for m in metrics],
                rolled_back=request.validate_only)
        finally:
            with self.lock:
                self.in_flight -= 1


class FakeDetect:
    """Scores nothing; records the times of each series in the order they were sent."""

    def __init__(self):
        self.lock = threading.Lock()
        self.scored: dict[str, list[float]] = {}

    def __call__(self, points: Columns) -> Verdicts:
        with self.lock:
            for j, ts in zip(points.series_index, points.times, strict=True):
                self.scored.setdefault(points.series[j].series_id, []).append(ts)
        return Verdicts.unscored(len(points))


def job(metric: str, *times: float, **modes: bool) -> Job:
    points = Columns()
    j = points.series_position((metric,), (metric, {}))
    for ts in times:
        points.add(j, ts, 1.0)
    return Job(SCOPE, points, **modes)


def coalescer_of(lanes: int) -> tuple[FakeCatalog, FakeDetect, Coalescer]:
    catalog, detect = FakeCatalog(), FakeDetect()
    return catalog, detect, Coalescer(catalog, detect, linger=0.0, lanes=lanes)


def held_in_its_write(pool: ThreadPoolExecutor, catalog: FakeCatalog, coalescer: Coalescer, held: Job):
    """Submits `held` (one series) and waits until its write has begun and is held there."""
    metric = held.points.series[0][0]
    catalog.hold(metric)
    call = pool.submit(coalescer.run, held)
    assert catalog.entered[metric].wait(10)
    return call


def test_writes_of_different_series_are_in_flight_together():
    catalog, detect, coalescer = coalescer_of(lanes=2)
    with ThreadPoolExecutor(2) as pool:
        first = held_in_its_write(pool, catalog, coalescer, job("a", 1.0))
        # "a" is held in its write; "b" is written beside it and answered before "a" is released
        coalescer.run(job("b", 1.0))
        assert catalog.written == {"b": [1.0]} and not first.done()
        catalog.held["a"].set()
        first.result(10)
    assert catalog.most_in_flight == 2
    assert catalog.written == {"a": [1.0], "b": [1.0]}


def test_calls_arriving_while_every_lane_is_busy_are_written_together():
    catalog, detect, coalescer = coalescer_of(lanes=1)
    with ThreadPoolExecutor(3) as pool:
        first = held_in_its_write(pool, catalog, coalescer, job("a", 1.0))
        rest = [pool.submit(coalescer.run, job(m, 1.0)) for m in ("b", "c")]
        time.sleep(0.2)  # time enough for a second lane, were there one, to start "b"
        assert "b" not in catalog.started and not any(f.done() for f in rest)
        catalog.held["a"].set()
        for f in (first, *rest):
            f.result(10)
    assert catalog.calls == [["a"], ["b", "c"]]
    assert catalog.most_in_flight == 1


def test_a_series_in_a_write_in_flight_waits_for_it_and_keeps_its_order():
    catalog, detect, coalescer = coalescer_of(lanes=4)
    with ThreadPoolExecutor(4) as pool:
        first = held_in_its_write(pool, catalog, coalescer, job("a", 1.0, 2.0))
        coalescer.run(job("b", 1.0))  # a free lane and no series in common: not held up by "a"
        later = pool.submit(coalescer.run, job("a", 3.0))
        time.sleep(0.2)  # time enough for a free lane to start it, were it allowed to
        assert catalog.started["a"] == 1 and not later.done()
        catalog.held["a"].set()
        first.result(10)
        later.result(10)
    assert catalog.written["a"] == [1.0, 2.0, 3.0]
    assert detect.scored["met_a"] == [1.0, 2.0, 3.0]
    assert catalog.most_in_flight == 2  # "a" beside "b"; the second "a" never beside the first


def test_the_same_series_with_its_tags_in_another_order_is_the_same_series():
    catalog, detect, coalescer = coalescer_of(lanes=4)

    def tagged(order: list[tuple[str, str]], ts: float) -> Job:
        points = Columns()
        points.add(points.series_position(("a", *order), ("a", dict(order))), ts, 1.0)
        return Job(SCOPE, points)

    with ThreadPoolExecutor(2) as pool:
        first = held_in_its_write(pool, catalog, coalescer, tagged([("host", "h1"), ("dc", "eu")], 1.0))
        later = pool.submit(coalescer.run, tagged([("dc", "eu"), ("host", "h1")], 2.0))
        time.sleep(0.2)
        assert catalog.started["a"] == 1 and not later.done()
        catalog.held["a"].set()
        first.result(10)
        later.result(10)
    assert catalog.written["a"] == [1.0, 2.0]
    assert catalog.most_in_flight == 1


def test_a_failed_write_fails_its_callers_and_frees_its_series():
    catalog, detect, coalescer = coalescer_of(lanes=2)
    catalog.fail_metrics = frozenset({"bad"})
    with pytest.raises(ServiceError) as failed:
        coalescer.run(job("bad", 1.0))
    assert failed.value.code == "UNAVAILABLE"
    catalog.fail_metrics = frozenset()
    coalescer.run(job("bad", 2.0))  # the series is not left marked as in flight
    assert catalog.written == {"bad": [2.0]}
    assert detect.scored == {"met_bad": [2.0]}


def test_validate_only_and_all_or_nothing_calls_are_written_alone_in_order():
    catalog, detect, coalescer = coalescer_of(lanes=1)
    jobs = [job("b", 1.0), job("b", 2.0, validate_only=True), job("b", 3.0),
            job("b", 4.0, all_or_nothing=True), job("b", 5.0)]
    with ThreadPoolExecutor(6) as pool:
        first = held_in_its_write(pool, catalog, coalescer, job("a", 1.0))
        calls = []
        for i, j in enumerate(jobs):  # queued one after another while "a" holds the one lane
            calls.append(pool.submit(coalescer.run, j))
            deadline = time.monotonic() + 10
            while coalescer._in_flight < i + 2:  # the writer holds the first, waiting for the lane
                assert time.monotonic() < deadline, "the job never queued"
                time.sleep(0.005)
            time.sleep(0.01)  # from waiting here to in the queue
        catalog.held["a"].set()
        for f in (first, *calls):
            f.result(10)
    assert catalog.calls == [["a"], ["b"], ["b"], ["b"], ["b"], ["b"]]
    assert catalog.modes == [(False, False), (False, False), (True, False), (False, False), (False, True),
                             (False, False)]
    assert catalog.written["b"] == [1.0, 3.0, 4.0, 5.0]
    assert detect.scored["met_b"] == [1.0, 3.0, 4.0, 5.0]  # the validate-only point is never scored
    assert jobs[1].written.rolled_back and jobs[1].verdicts is None
    assert not jobs[3].written.rolled_back

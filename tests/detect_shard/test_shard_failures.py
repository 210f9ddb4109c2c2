"""The shard against a catalog that fails once, in any way (a ServiceError, a bug, a garbled
gRPC status): pending progress, dirty checkpoints and unapplied episode events are all kept or
rebuilt, so no point is lost or scored twice; and one series whose state cannot be recorded
(or that catalog refuses) does not stop the others'."""
from __future__ import annotations

import threading

import grpc
import numpy as np
import pytest
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from sqlalchemy import select

from services.catalog.models import Anomaly
from services.common.errors import ServiceError
from services.detect.engine import DetectionEngine
from services.detect.shard import Shard
from tests.detect_shard.conftest import (
    T0,
    Clock,
    new_shard,
    score,
    scored_until,
    stat_starts,
    to_score,
    write,
)


class GarbledStatus(grpc.RpcError):
    """A failed call whose rich status cannot be read: its ErrorInfo details are not JSON."""

    def code(self):
        return grpc.StatusCode.UNAVAILABLE

    def details(self):
        return "garbled"

    def trailing_metadata(self):
        detail = any_pb2.Any()
        detail.Pack(error_details_pb2.ErrorInfo(reason="UNAVAILABLE", metadata={"details": "{not json"}))
        status = status_pb2.Status(code=code_pb2.UNAVAILABLE, message="garbled", details=[detail])
        return (("grpc-status-details-bin", status.SerializeToString()),)


# (what catalog's stub raises, what reaches the shard's caller)
FAILURES = [(ServiceError("UNAVAILABLE", "catalog is down"), ServiceError),
            (RuntimeError("a bug in a catalog client"), RuntimeError),
            (GarbledStatus(), ServiceError)]  # its code, without the details it garbled


class FailsOnce:
    """The real catalog, except that the next call of a chosen method raises a chosen error."""

    def __init__(self, storage):
        self.storage, self.failing = storage, {}

    def fail_next(self, method: str, error: Exception) -> None:
        self.failing[method] = error

    def __getattr__(self, name):
        method = getattr(self.storage, name)

        def call(request, timeout=None):
            error = self.failing.pop(name, None)
            if error is not None:
                raise error
            return method(request, timeout=timeout)
        return call


def series(n: int, seed: int, spikes=()) -> tuple[np.ndarray, np.ndarray]:
    ts = T0 + 60.0 * np.arange(n)
    values = 50 + np.random.default_rng(seed).normal(0, 1, n)
    values[list(spikes)] += 30
    return ts, values


@pytest.mark.parametrize("error,raised", FAILURES, ids=["service_error", "bug", "garbled"])
def test_progress_a_failed_flush_did_not_deliver_is_sent_by_the_next(catalog, error, raised):
    db, storage, account_id = catalog
    ts, values = series(50, 0)
    flaky = FailsOnce(storage)
    shard = new_shard(flaky, Clock(ts[-1]))
    answer = write(storage, account_id, ts, values)
    shard.score_points(to_score(answer, ts, values))
    flaky.fail_next("ApplyDetections", error)
    with pytest.raises(raised):
        shard.flush_progress()
    assert shard.flush_progress() == 1
    assert scored_until(db, answer.series[0].metric_id) == ts[-1]


@pytest.mark.parametrize("error,raised", FAILURES, ids=["service_error", "bug", "garbled"])
def test_events_catalog_did_not_take_are_applied_exactly_once_later(catalog, error, raised):
    db, storage, account_id = catalog
    ts, values = series(300, 1, spikes=[210])
    flaky = FailsOnce(storage)
    shard = new_shard(flaky, Clock(ts[-1]))
    parts = [slice(0, 200), slice(200, 250), slice(250, 300)]
    answers = [write(storage, account_id, ts[p], values[p]) for p in parts]
    score(shard, answers[0], ts[parts[0]], values[parts[0]])
    flaky.fail_next("ApplyDetections", error)  # the spike's episode events are not applied
    with pytest.raises(raised):
        shard.score_points(to_score(answers[1], ts[parts[1]], values[parts[1]]))
    sid = answers[0].series[0].metric_id
    assert shard.engine.point_count(sid) == 200  # as before the batch: its points are scored next
    score(shard, answers[2], ts[parts[2]], values[parts[2]])
    reference = DetectionEngine().score(["x"] * 300, ts, values, {})
    expected = [ts[i] for i in np.flatnonzero(reference.episode_event == 1)]
    assert expected == [ts[210]]
    assert stat_starts(db, sid) == expected
    assert (shard.engine.point_count(sid), scored_until(db, sid)) == (300, ts[-1])


class CountsPointsRead:
    """The real catalog, counting the points ReadPoints answers."""

    def __init__(self, storage):
        self.storage, self.points_read = storage, 0

    def __getattr__(self, name):
        return getattr(self.storage, name)

    def ReadPoints(self, request, timeout=None):  # noqa: N802 - the stub's method
        page = self.storage.ReadPoints(request, timeout=timeout)
        self.points_read += len(page.points)
        return page


def test_after_a_failed_batch_only_its_points_are_scored_again(catalog):
    """Not the series' whole stored history, which one catalog hiccup made every series of the
    batch replay (weeks of points each) inside the next ScorePoints calls, holding up the shard."""
    db, storage, account_id = catalog
    ts, values = series(3000, 8, spikes=[2920])
    counting = CountsPointsRead(storage)
    flaky = FailsOnce(counting)
    shard = new_shard(flaky, Clock(ts[-1]))
    parts = [slice(0, 2900), slice(2900, 2950), slice(2950, 3000)]
    answers = [write(storage, account_id, ts[p], values[p]) for p in parts]
    score(shard, answers[0], ts[parts[0]], values[parts[0]])
    flaky.fail_next("ApplyDetections", RuntimeError("catalog hiccup"))  # the spike's events
    with pytest.raises(RuntimeError):
        shard.score_points(to_score(answers[1], ts[parts[1]], values[parts[1]]))
    counting.points_read = 0
    verdicts = score(shard, answers[2], ts[parts[2]], values[parts[2]])
    assert counting.points_read == 100  # stored after the last point scored: not all 3000
    reference = DetectionEngine().score(["x"] * 3000, ts, values, {})
    np.testing.assert_allclose([v.anomaly_score for v in verdicts], reference.score[2950:], atol=1e-9)
    sid = answers[0].series[0].metric_id
    assert stat_starts(db, sid) == [ts[i] for i in np.flatnonzero(reference.episode_event == 1)]
    assert scored_until(db, sid) == ts[-1]


@pytest.mark.parametrize("error,raised", FAILURES, ids=["service_error", "bug", "garbled"])
def test_series_a_failed_checkpoint_did_not_save_are_saved_by_the_next(catalog, error, raised):
    db, storage, account_id = catalog
    ts, values = series(50, 2)
    flaky = FailsOnce(storage)
    shard = new_shard(flaky, Clock(ts[-1]))
    score(shard, write(storage, account_id, ts, values), ts, values)
    flaky.fail_next("SaveCheckpoints", error)
    with pytest.raises(raised):
        shard.checkpoint()
    assert shard.checkpoint() == 1
    assert shard.checkpoint() == 0  # saved: nothing dirty any more


class SomeStatesBroken(DetectionEngine):
    """An engine whose snapshot of the series in `broken` fails."""

    broken: set[str] = set()

    def snapshot(self, series_id: str) -> bytes:
        if series_id in self.broken:
            raise ValueError("unusable state")
        return super().snapshot(series_id)


def test_a_series_whose_state_cannot_be_recorded_does_not_stop_the_others(catalog):
    db, storage, account_id = catalog
    ts, values = series(50, 3)
    engine = SomeStatesBroken()
    shard = new_shard(storage, Clock(ts[-1]), engine)
    good, bad = (write(storage, account_id, ts, values, metric=m) for m in ("good", "bad"))
    for answer in (good, bad):
        shard.score_points(to_score(answer, ts, values))
    good_id, bad_id = good.series[0].metric_id, bad.series[0].metric_id
    engine.broken = {bad_id}
    shard.progress[bad_id] = (1e300, 1.0)  # a time no Timestamp holds
    assert shard.flush_progress() == 1
    assert (scored_until(db, good_id), scored_until(db, bad_id)) == (ts[-1], None)
    assert shard.checkpoint() == 1
    assert bad_id not in shard.engine.series_ids()  # rebuilt from its points on next contact
    assert new_shard(storage, Clock(ts[-1])).engine.point_count(bad_id) == 50


def test_progress_not_flushed_before_a_stop_is_sent_after_the_restore(catalog):
    db, storage, account_id = catalog
    ts, values = series(50, 4)
    shard = new_shard(storage, Clock(ts[-1]))
    answer = write(storage, account_id, ts, values)
    shard.score_points(to_score(answer, ts, values))  # no flush before the process stops
    shard.checkpoint()
    sid = answer.series[0].metric_id
    assert scored_until(db, sid) is None
    new_shard(storage, Clock(ts[-1]))
    assert scored_until(db, sid) == ts[-1]  # else it would look behind for good


def test_a_restore_whose_progress_flush_fails_still_makes_the_shard_ready(catalog):
    db, storage, account_id = catalog
    ts, values = series(50, 5)
    write(storage, account_id, ts, values)  # stored, never scored: the restore scores them
    flaky = FailsOnce(storage)
    flaky.fail_next("ApplyDetections", RuntimeError("catalog hiccup"))
    shard = Shard(DetectionEngine(), flaky, 0, 1, 30.0, Clock(ts[-1]))
    shard.restore()
    assert shard.ready and shard.flush_progress() == 1


def test_a_series_catalog_refuses_does_not_hold_back_the_others_progress_or_outages(catalog):
    db, storage, account_id = catalog
    ts, values = series(50, 6)
    clock = Clock(ts[-1])
    shard = new_shard(storage, clock)
    answer = write(storage, account_id, ts, values)
    good = answer.series[0].metric_id
    shard.score_points(to_score(answer, ts, values))
    ghost = to_score(answer, ts, values)  # scored, never stored: catalog knows no such series
    ghost.series[0].metric_id = "met_ghost"
    ghost.series[0].ClearField("previous_time")
    shard.score_points(ghost)
    assert shard.flush_progress() == 1
    assert scored_until(db, good) == ts[-1]
    assert "met_ghost" not in shard.engine.series_ids()  # forgotten, not sent again
    assert shard.flush_progress() == 0
    shard.score_points(ghost)  # again, and both fall silent
    clock.now += 600
    assert shard.check_staleness() == [good]
    with db.read() as session:
        outage = session.scalars(select(Anomaly).where(Anomaly.type == "missing_data")).one()
    assert outage.series_id == good


class UnavailableFirst:
    """The real catalog, except that its first `failures` calls of any method are UNAVAILABLE."""

    def __init__(self, storage, failures: int):
        self.storage, self.failures = storage, failures

    def __getattr__(self, name):
        method = getattr(self.storage, name)

        def call(request, timeout=None):
            if self.failures:
                self.failures -= 1
                raise GarbledStatus()  # how a catalog that is not up yet answers: UNAVAILABLE
            return method(request, timeout=timeout)
        return call


def test_a_restore_tries_again_until_catalog_answers(catalog):
    db, storage, account_id = catalog
    ts, values = series(50, 7)
    sid = write(storage, account_id, ts, values).series[0].metric_id  # stored while detect was down
    shard = Shard(DetectionEngine(), UnavailableFirst(storage, 3), 0, 1, 30.0, Clock(ts[-1]))
    assert shard.restore_when_catalog_answers(threading.Event(), first_wait=0.001)
    assert shard.ready and shard.engine.point_count(sid) == 50
    assert scored_until(db, sid) == ts[-1]


def test_a_restore_waiting_for_catalog_gives_up_when_the_process_stops(catalog):
    _, storage, _ = catalog
    stopping = threading.Event()
    stopping.set()
    shard = Shard(DetectionEngine(), UnavailableFirst(storage, 1), 0, 1, 30.0, Clock(T0))
    assert not shard.restore_when_catalog_answers(stopping)
    assert not shard.ready


class ReadFailsFor:
    """The real catalog, except that reading the points of the series in `failing` fails."""

    def __init__(self, storage, error: Exception):
        self.storage, self.error, self.failing = storage, error, set()

    def __getattr__(self, name):
        return getattr(self.storage, name)

    def ReadPoints(self, request, timeout=None):  # noqa: N802 - the stub's method
        if request.metric_id in self.failing:
            raise self.error
        return self.storage.ReadPoints(request, timeout=timeout)


def test_a_series_whose_catch_up_fails_does_not_hold_back_the_others(catalog):
    db, storage, account_id = catalog
    ts, values = series(50, 9)
    clock = Clock(ts[-1])
    failing = ReadFailsFor(storage, ServiceError("INTERNAL_ERROR", "a row catalog cannot read"))
    shard = new_shard(failing, clock)
    ids = [write(storage, account_id, ts, values, metric=m).series[0].metric_id for m in ("a", "b", "c")]
    failing.failing = {min(ids)}  # the first the catch-up comes to
    assert shard.catch_up() == 0  # all three seen behind
    clock.now += shard.catch_up_grace
    assert shard.catch_up() == 100
    assert [scored_until(db, sid) for sid in sorted(ids)] == [None, ts[-1], ts[-1]]
    failing.failing = set()
    assert shard.catch_up() == 50  # due still: caught up at the next check, not a grace later
    assert scored_until(db, min(ids)) == ts[-1]


def test_a_catch_up_stops_its_round_while_catalog_is_unavailable(catalog):
    db, storage, account_id = catalog
    ts, values = series(50, 10)
    clock = Clock(ts[-1])
    failing = ReadFailsFor(storage, ServiceError("UNAVAILABLE", "catalog is down"))
    shard = new_shard(failing, clock)
    ids = [write(storage, account_id, ts, values, metric=m).series[0].metric_id for m in ("a", "b")]
    failing.failing = set(ids)
    shard.catch_up()
    clock.now += shard.catch_up_grace
    with pytest.raises(ServiceError):
        shard.catch_up()
    failing.failing = set()
    assert shard.catch_up() == 100


def test_a_series_whose_restore_fails_does_not_keep_the_shard_from_starting(catalog):
    db, storage, account_id = catalog
    ts, values = series(50, 11)
    clock = Clock(ts[-1])
    ids = [write(storage, account_id, ts, values, metric=m).series[0].metric_id for m in ("a", "b")]
    failing = ReadFailsFor(storage, ServiceError("INTERNAL_ERROR", "a row catalog cannot read"))
    failing.failing = {min(ids)}
    shard = new_shard(failing, clock)
    assert shard.ready and scored_until(db, max(ids)) == ts[-1]
    failing.failing = set()
    shard.catch_up()
    clock.now += shard.catch_up_grace
    assert shard.catch_up() == 50  # left behind, then caught up

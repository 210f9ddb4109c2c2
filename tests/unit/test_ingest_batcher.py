"""gateway.ingest_batcher: concurrent requests of one key share ingest calls; each gets its own
points' results in order, or the call's failure; keys and test posts never mix, and an
all-or-nothing request or a test post shares its call with no other."""
from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from anomalywatch.ingest.v1 import ingest_pb2
from gateway.ingest_batcher import IngestBatcher
from services.common.errors import ServiceError


class FakeIngest:
    """Answers each point with its metric as the metric_id; records the calls. While `gate` is
    closed, a call waits in flight."""

    def __init__(self, fail: bool = False):
        self.fail, self.calls, self.lock = fail, [], threading.Lock()
        self.all_or_nothing: list[bool] = []  # per call
        self.gate, self.entered = threading.Event(), threading.Event()
        self.gate.set()

    def __call__(self, request, key):
        with self.lock:
            self.calls.append((key, request.test_only, [p.metric for p in request.points]))
            self.all_or_nothing.append(request.all_or_nothing)
        self.entered.set()
        assert self.gate.wait(10)
        if self.fail:
            raise ServiceError("UNAVAILABLE", "a backing service is unavailable; retry shortly")
        return ingest_pb2.IngestResponse(results=[
            ingest_pb2.PointResult(index=i, status=ingest_pb2.POINT_STATUS_INGESTED, metric_id=p.metric)
            for i, p in enumerate(request.points)])


def points(*names):
    return [ingest_pb2.Point(metric=n, value=1.0) for n in names]


def queue_behind_a_call(batcher, send, pool, key="k", test_only=False, all_or_nothing=False):
    """Starts a call of `key` and holds it in flight; the future of its request."""
    send.gate.clear()
    first = pool.submit(batcher.ingest, key, points("first"), test_only, all_or_nothing)
    assert send.entered.wait(10)
    return first


def wait_queued(batcher, n, key="k", test_only=False, all_or_nothing=False):
    deadline = time.monotonic() + 10
    while len(batcher._waiting.get((key, test_only, all_or_nothing), [])) < n:
        assert time.monotonic() < deadline, "the requests never queued"
        time.sleep(0.005)


def test_a_lone_request_goes_out_alone_and_gets_its_results():
    send = FakeIngest()
    results = IngestBatcher(send).ingest("k", points("a", "b"), False)
    assert [(r.index, r.metric_id) for r in results] == [(0, "a"), (1, "b")]
    assert send.calls == [("k", False, ["a", "b"])]


def test_requests_arriving_during_a_call_share_the_next_one_and_keep_their_own_results():
    send = FakeIngest()
    batcher = IngestBatcher(send)
    with ThreadPoolExecutor(8) as pool:
        first = queue_behind_a_call(batcher, send, pool)
        rest = [pool.submit(batcher.ingest, "k", points(f"p{i}.0", f"p{i}.1"), False) for i in range(6)]
        wait_queued(batcher, 6)
        send.gate.set()
        assert [r.metric_id for r in first.result()] == ["first"]
        for i, future in enumerate(rest):
            assert [(r.index, r.metric_id) for r in future.result()] == [(0, f"p{i}.0"), (1, f"p{i}.1")]
    assert len(send.calls) == 2 and sorted(send.calls[1][2]) == sorted(
        f"p{i}.{j}" for i in range(6) for j in range(2))
    for i in range(6):  # each request's points stay together and in order
        names = send.calls[1][2]
        assert names.index(f"p{i}.1") == names.index(f"p{i}.0") + 1


def test_a_call_holds_at_most_max_points_and_the_rest_go_next():
    send = FakeIngest()
    batcher = IngestBatcher(send, max_points=4)
    with ThreadPoolExecutor(8) as pool:
        queue_behind_a_call(batcher, send, pool)
        futures = [pool.submit(batcher.ingest, "k", points(f"a{i}", f"b{i}", f"c{i}"), False)
                   for i in range(3)]
        wait_queued(batcher, 3)
        send.gate.set()
        assert all(len(f.result()) == 3 for f in futures)
    assert [len(names) for _, _, names in send.calls] == [1, 3, 3, 3]


def test_keys_and_test_posts_never_share_a_call():
    send = FakeIngest()
    batcher = IngestBatcher(send)
    send.gate.clear()  # all four in flight at once: each is the leader of its own group
    with ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(batcher.ingest, key, points(f"{key}{test}"), test)
                   for key in ("k1", "k2") for test in (False, True)]
        deadline = time.monotonic() + 10
        while len(send.calls) < 4:
            assert time.monotonic() < deadline, "the four calls never all went out"
            time.sleep(0.005)
        send.gate.set()
        for f in futures:
            f.result()
    assert sorted((key, test, names) for key, test, names in send.calls) == [
        ("k1", False, ["k1False"]), ("k1", True, ["k1True"]), ("k2", False, ["k2False"]),
        ("k2", True, ["k2True"])]


def test_every_member_of_a_failed_call_gets_its_error_and_the_next_call_still_goes():
    send = FakeIngest(fail=True)
    batcher = IngestBatcher(send)
    with ThreadPoolExecutor(8) as pool:
        first = queue_behind_a_call(batcher, send, pool)
        futures = [first] + [pool.submit(batcher.ingest, "k", points(f"p{i}"), False) for i in range(5)]
        wait_queued(batcher, 5)
        send.gate.set()
        for f in futures:
            with pytest.raises(ServiceError) as caught:
                f.result()
            assert caught.value.code == "UNAVAILABLE"
    send.fail = False
    assert [r.metric_id for r in batcher.ingest("k", points("after"), False)] == ["after"]


@pytest.mark.parametrize(("test_only", "all_or_nothing"), [(False, True), (True, False)],
                         ids=["all_or_nothing", "test_only"])
def test_an_all_or_nothing_request_or_a_test_post_shares_its_call_with_no_other_and_they_go_in_turn(
        test_only, all_or_nothing):
    """A test post is judged against the stored data alone: grouped with another, each was judged
    against the other's unstored points too."""
    send = FakeIngest()
    batcher = IngestBatcher(send)
    mode = {"test_only": test_only, "all_or_nothing": all_or_nothing}
    with ThreadPoolExecutor(8) as pool:
        first = queue_behind_a_call(batcher, send, pool, **mode)
        rest = []
        for i in range(3):  # queued one after another, so their order is known
            rest.append(pool.submit(batcher.ingest, "k", points(f"p{i}.0", f"p{i}.1"), test_only,
                                    all_or_nothing))
            wait_queued(batcher, i + 1, **mode)
        send.gate.set()
        assert [r.metric_id for r in first.result(10)] == ["first"]
        for i, future in enumerate(rest):
            assert [(r.index, r.metric_id) for r in future.result(10)] == [(0, f"p{i}.0"), (1, f"p{i}.1")]
    assert [names for _, _, names in send.calls] == [["first"], ["p0.0", "p0.1"], ["p1.0", "p1.1"],
                                                      ["p2.0", "p2.1"]]
    assert {test for _, test, _ in send.calls} == {test_only}
    assert set(send.all_or_nothing) == {all_or_nothing}

"""StorageService called in process (its callers are internal and send no key): what a request
that ingest would never send answers, and that nothing of it is stored."""
from __future__ import annotations

import math

import pytest
from sqlalchemy import func, select

from anomalywatch.catalog.v1 import storage_pb2
from anomalywatch.common.v1 import common_pb2
from services.catalog.models import Anomaly, PointRow, Series
from services.catalog.storage_servicer import StorageServicer
from services.common.config import PlanLimits
from services.common.errors import ServiceError
from services.common.timeutil import EARLIEST, LATEST

from .conftest import T0

NOW = T0 + 10_000


@pytest.fixture
def storage(db) -> StorageServicer:
    return StorageServicer(db, lambda plan: PlanLimits(1000, 50, None), lambda: NOW)


@pytest.fixture
def scope(seed) -> common_pb2.Scope:
    return common_pb2.Scope(account_id=seed.account(), environment=common_pb2.ENVIRONMENT_LIVE)


def write_request(scope, times, metric="cpu", tags=None, values=None) -> storage_pb2.WritePointsRequest:
    return storage_pb2.WritePointsRequest(
        scope=scope, series=[storage_pb2.SeriesKey(metric=metric, tags=tags or {})],
        series_index=[0] * len(times), times=times, values=values or [1.0] * len(times))


def refused(call, request) -> ServiceError:
    with pytest.raises(ServiceError) as caught:
        call(request, None)
    assert caught.value.grpc_code.name == "INVALID_ARGUMENT"
    return caught.value


def stored(db, scope) -> tuple[int, int]:
    """(series, points) of the scope's account."""
    with db.read() as session:
        numbers = select(Series.number).where(Series.account_id == scope.account_id)
        return (session.scalar(select(func.count()).select_from(Series)
                               .where(Series.account_id == scope.account_id)),
                session.scalar(select(func.count()).select_from(PointRow)
                               .where(PointRow.series_number.in_(numbers))))


@pytest.mark.parametrize("bad", [1e300, -1e300, 9.3e18, 2.0**62, LATEST + 1.0, EARLIEST - 1.0])
def test_a_time_no_timestamp_holds_is_refused_and_nothing_is_stored(db, storage, scope, bad):
    error = refused(storage.WritePoints, write_request(scope, [T0, bad]))
    assert error.details == {"field": "times"}
    assert stored(db, scope) == (0, 0)


def test_the_extreme_times_a_timestamp_holds_are_stored_and_read_back(db, storage, scope):
    answer = storage.WritePoints(write_request(scope, [float(EARLIEST), T0, float(LATEST)]), None)
    assert list(answer.outcomes) == [storage_pb2.WRITE_OUTCOME_STORED] * 3
    metric_id = answer.series[0].metric_id
    points = storage.ReadPoints(storage_pb2.ReadPointsRequest(metric_id=metric_id), None).points
    assert [p.time.seconds for p in points] == [EARLIEST, int(T0), LATEST]
    behind = storage.ListBehindSeries(storage_pb2.ListBehindSeriesRequest(shard_index=0, shard_count=1), None)
    assert metric_id in [s.metric_id for s in behind.series]


@pytest.mark.parametrize("metric", ["", "cpu\n", "cpu\x00", "a\nb", "x" * 256, "x" * 100_000, "cpu load",
                                    "caf\u00e9", "\u0661", "cpu;drop"])
def test_a_metric_name_the_contract_refuses_is_refused(db, storage, scope, metric):
    error = refused(storage.WritePoints, write_request(scope, [T0], metric=metric))
    assert error.details == {"field": "series.metric", "index": 0}
    assert stored(db, scope) == (0, 0)


@pytest.mark.parametrize("tags", [{"": "a"}, {"k\x00": "a"}, {"k" * 256: "a"}, {"k": "v" * 256},
                                  {"k": "a\x00"}, {f"k{i}": "v" for i in range(33)}])
def test_tags_the_contract_refuses_are_refused(db, storage, scope, tags):
    request = write_request(scope, [T0], tags={"host": "a"})
    request.series.add(metric="cpu", tags=tags)
    request.series_index.append(1)
    request.times.append(T0)
    request.values.append(2.0)
    error = refused(storage.WritePoints, request)
    assert error.details == {"field": "series.tags", "index": 1}
    assert stored(db, scope) == (0, 0)  # the good series of the call neither


def test_the_longest_name_and_the_most_tags_are_stored(db, storage, scope):
    tags = {f"{i:0255d}": "v" * 255 for i in range(32)}
    answer = storage.WritePoints(write_request(scope, [T0], metric="a.B-c_d:e/" + "x" * 245, tags=tags), None)
    assert list(answer.outcomes) == [storage_pb2.WRITE_OUTCOME_STORED]
    assert stored(db, scope) == (1, 1)


@pytest.fixture
def written(storage, scope) -> str:
    """The id of a series with points at T0, T0 + 60 and T0 + 120."""
    answer = storage.WritePoints(write_request(scope, [T0, T0 + 60, T0 + 120], values=[1.0, 50.0, 1.0]), None)
    return answer.series[0].metric_id


def detection(series_id: str, **fields) -> storage_pb2.Detection:
    """A spike opening an episode at T0 + 60, changed by `fields` (dotted names reach into messages)."""
    message = storage_pb2.Detection(
        metric_id=series_id, value=50.0, score=0.99, severity=common_pb2.SEVERITY_CRITICAL,
        type=common_pb2.ANOMALY_TYPE_SPIKE, baseline=common_pb2.Baseline(mean=1.0, std=0.5),
        expected_range=common_pb2.ExpectedRange(lower=0.0, upper=2.0), event=storage_pb2.EPISODE_EVENT_OPEN)
    message.time.seconds = int(T0) + 60
    for name, value in fields.items():
        target, _, leaf = name.rpartition(".")
        owner = message
        for part in filter(None, target.split(".")):
            owner = getattr(owner, part)
        if leaf == "time" and value is None:
            owner.ClearField("time")
        else:
            setattr(owner, leaf, value)
    return message


def anomalies_of(db, series_id: str) -> list[tuple[str, str]]:
    with db.read() as session:
        return [(a.type, a.description) for a in session.scalars(
            select(Anomaly).where(Anomaly.series_id == series_id))]


def scored_until(db, series_id: str) -> float | None:
    with db.read() as session:
        return session.get(Series, series_id).scored_until


def test_a_detection_as_detect_sends_it_opens_an_anomaly(db, storage, written):
    request = storage_pb2.ApplyDetectionsRequest(detections=[detection(written)])
    answer = storage.ApplyDetections(request, None)
    assert answer.anomaly_ids[0].startswith("anom_")
    assert anomalies_of(db, written) == [("spike", "cpu rose to 50, 4900% above its expected 1")]
    assert scored_until(db, written) == T0 + 60


@pytest.mark.parametrize(("fields", "field"), [
    ({"value": math.nan}, "value"), ({"value": math.inf}, "value"), ({"score": math.nan}, "score"),
    ({"score": 1.5}, "score"), ({"score": -0.1}, "score"), ({"baseline.mean": math.nan}, "baseline.mean"),
    ({"baseline.std": math.inf}, "baseline.std"),
    ({"expected_range.lower": -math.inf}, "expected_range.lower"),
    ({"expected_range.upper": math.nan}, "expected_range.upper"),
    ({"event": 99}, "event"), ({"severity": 99}, "severity"), ({"type": 99}, "type"),
    ({"type": common_pb2.ANOMALY_TYPE_THRESHOLD}, "type"), ({"metric_id": "met_nosuchseries"}, "metric_id"),
    ({"metric_id": ""}, "metric_id"), ({"time.seconds": 2**62}, "time"), ({"time.nanos": -5}, "time"),
    ({"time.seconds": int(T0) + 121}, "time"), ({"time": None}, "time"),
    ({"end_time.seconds": 2**62}, "end_time"), ({"end_time.nanos": 10**9}, "end_time"),
])
def test_a_detection_detect_would_not_send_is_refused_and_nothing_is_applied(db, storage, written, fields,
                                                                              field):
    good = detection(written, event=storage_pb2.EPISODE_EVENT_UNSPECIFIED,
                     severity=common_pb2.SEVERITY_UNSPECIFIED, type=common_pb2.ANOMALY_TYPE_UNSPECIFIED)
    good.time.seconds = int(T0)
    request = storage_pb2.ApplyDetectionsRequest(detections=[good, detection(written, **fields)])
    error = refused(storage.ApplyDetections, request)
    assert error.details == {"field": f"detections[1].{field}"}
    assert anomalies_of(db, written) == [] and scored_until(db, written) is None


def test_missing_data_opens_at_the_shards_time_after_the_latest_point(db, storage, written):
    late = detection(written, type=common_pb2.ANOMALY_TYPE_MISSING_DATA,
                     severity=common_pb2.SEVERITY_WARNING)
    late.time.seconds = int(T0) + 3600
    answer = storage.ApplyDetections(storage_pb2.ApplyDetectionsRequest(detections=[late]), None)
    assert answer.anomaly_ids[0] and [kind for kind, _ in anomalies_of(db, written)] == ["missing_data"]


def test_read_points_refuses_a_negative_limit_and_a_time_no_timestamp_holds(storage, written):
    error = refused(storage.ReadPoints, storage_pb2.ReadPointsRequest(metric_id=written, limit=-1))
    assert error.details == {"field": "limit"}
    for name in ("after_time", "latest_before_time"):
        request = storage_pb2.ReadPointsRequest(metric_id=written)
        getattr(request, name).nanos = -5
        assert refused(storage.ReadPoints, request).details == {"field": name}
    answer = storage.ReadPoints(storage_pb2.ReadPointsRequest(metric_id=written, limit=2), None)
    assert len(answer.points) == 2 and answer.has_more


def posts_of(storage, scope) -> list[str]:
    answer = storage.ListTestPosts(storage_pb2.ListTestPostsRequest(
        scope=scope, page=common_pb2.PageRequest(page_size=1000)), None)
    assert answer.page.total_size == len(answer.posts)
    return [p.metric for p in answer.posts]


def test_test_posts_keep_the_newest_thousand_names_of_a_scope(db, seed, scope):
    clock = [NOW]
    storage = StorageServicer(db, lambda plan: PlanLimits(1000, 50, None), lambda: clock[0])
    for batch in range(3):
        clock[0] = NOW + batch
        names = [f"b{batch}.m{i:04d}" for i in range(800)]
        request = storage_pb2.RecordTestPostRequest(scope=scope, metrics=names + names[:5])
        storage.RecordTestPost(request, None)
    kept = posts_of(storage, scope)
    assert kept == [f"b2.m{i:04d}" for i in range(800)] + [f"b1.m{i:04d}" for i in range(200)]
    other = common_pb2.Scope(account_id=seed.account(), environment=common_pb2.ENVIRONMENT_LIVE)
    storage.RecordTestPost(storage_pb2.RecordTestPostRequest(scope=other, metrics=["x"]), None)
    assert len(posts_of(storage, scope)) == 1000  # another scope's names take none of this one's


@pytest.mark.parametrize("metrics", [["ok"] * 5001, [f"m{i}" for i in range(50_000)], ["ok", ""], ["a\n"],
                                     ["a\x00b"], ["x" * 256]])
def test_test_posts_refuse_names_no_point_could_carry_and_more_than_a_write(storage, scope, metrics):
    storage.RecordTestPost(storage_pb2.RecordTestPostRequest(scope=scope, metrics=["before"]), None)
    error = refused(storage.RecordTestPost, storage_pb2.RecordTestPostRequest(scope=scope, metrics=metrics))
    assert error.details == {"field": "metrics"}
    assert posts_of(storage, scope) == ["before"]


def shard_series(storage) -> list[storage_pb2.ShardSeries]:
    request = storage_pb2.ListShardSeriesRequest(shard_index=0, shard_count=1)
    return list(storage.ListShardSeries(request, None))


def checkpoint_of(storage, metric_id: str) -> storage_pb2.Checkpoint | None:
    found = next(s for s in shard_series(storage) if s.metric_id == metric_id)
    return found.checkpoint if found.HasField("checkpoint") else None


def checkpoint(metric_id: str, state: bytes, seconds: int, nanos: int = 0) -> storage_pb2.Checkpoint:
    return storage_pb2.Checkpoint(metric_id=metric_id, state=state,
                                  state_time={"seconds": seconds, "nanos": nanos})


@pytest.mark.parametrize(("seconds", "nanos"), [(2**62, 0), (LATEST + 1, 0), (int(T0), -5), (int(T0), 10**9)])
def test_a_checkpoint_time_no_timestamp_holds_is_refused_and_nothing_is_saved(storage, written, seconds,
                                                                               nanos):
    request = storage_pb2.SaveCheckpointsRequest(checkpoints=[checkpoint(written, b"s", seconds, nanos)])
    assert refused(storage.SaveCheckpoints, request).details == {"field": "checkpoints[0].state_time"}
    assert checkpoint_of(storage, written) is None


def test_at_most_2000_checkpoints_a_call_and_of_one_series_the_newest_is_kept(storage, written):
    many = [checkpoint(written, b"s", int(T0))] * 2001
    assert refused(storage.SaveCheckpoints, storage_pb2.SaveCheckpointsRequest(checkpoints=many)).details == {
        "field": "checkpoints"}
    again = [checkpoint(written, b"older", int(T0)), checkpoint(written, b"newer", int(T0) + 60),
             checkpoint(written, b"oldest", int(T0) - 60)]
    storage.SaveCheckpoints(storage_pb2.SaveCheckpointsRequest(checkpoints=again), None)
    saved = checkpoint_of(storage, written)
    assert (saved.state, saved.state_time.seconds) == (b"newer", int(T0) + 60)

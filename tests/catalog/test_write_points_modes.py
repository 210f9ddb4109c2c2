"""WritePoints' validate-only and all-or-nothing modes, on SQLite and PostgreSQL: the outcomes are a
real write's, and what is rolled back leaves no point, series, progress or rule anomaly behind."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from anomalywatch.catalog.v1 import storage_pb2
from anomalywatch.common.v1 import common_pb2
from services.catalog.models import Anomaly, PointRow, Rule, Series
from services.catalog.storage_servicer import StorageServicer
from services.common.config import PlanLimits
from services.common.ids import new_id

from .conftest import T0

NOW = T0 + 10_000
STORED, DUPLICATE, REJECTED = (storage_pb2.WRITE_OUTCOME_STORED, storage_pb2.WRITE_OUTCOME_DUPLICATE,
                               storage_pb2.WRITE_OUTCOME_REJECTED)


@pytest.fixture
def storage(db) -> StorageServicer:
    return StorageServicer(db, lambda plan: PlanLimits(1000, 50, 2), lambda: NOW)  # two series a scope


@pytest.fixture
def scope(seed, db) -> common_pb2.Scope:
    """A scope holding series `old` with a point (T0, 1.0), and a rule that every value above 5 breaks."""
    account_id = seed.account()
    with db.transaction() as session:
        session.add(Rule(id=new_id("rule"), account_id=account_id, environment="live", name="high",
                         metric="*", operator="greater_than", threshold=5.0, severity="critical",
                         created_at=T0, updated_at=T0))
    return common_pb2.Scope(account_id=account_id, environment=common_pb2.ENVIRONMENT_LIVE)


def request(scope, series: list[str], points: list[tuple[int, float, float]],
            **mode) -> storage_pb2.WritePointsRequest:
    return storage_pb2.WritePointsRequest(
        scope=scope, series=[storage_pb2.SeriesKey(metric=m) for m in series],
        series_index=[j for j, _, _ in points], times=[t for _, t, _ in points],
        values=[v for _, _, v in points], **mode)


def contents(db, scope) -> tuple:
    """Everything a write changes in the scope: series (with progress), points, anomalies."""
    with db.read() as session:
        series = session.execute(select(Series.name, Series.last_ts, Series.point_count)
                                 .where(Series.account_id == scope.account_id).order_by(Series.name)).all()
        numbers = select(Series.number).where(Series.account_id == scope.account_id)
        points = session.execute(select(PointRow.ts, PointRow.value)
                                 .where(PointRow.series_number.in_(numbers))
                                 .order_by(PointRow.ts, PointRow.value)).all()
        anomalies = session.scalar(select(func.count()).select_from(Anomaly)
                                   .where(Anomaly.account_id == scope.account_id))
    return [tuple(s) for s in series], [tuple(p) for p in points], anomalies


def judged(answer: storage_pb2.WritePointsResponse) -> tuple:
    return (list(answer.outcomes), [(r.index, r.error, r.error_code) for r in answer.rejections],
            [(s.point_count_before, s.last_time_before.seconds) for s in answer.series])


# old: a repeat, one out of order, one after; new: a new series (9 breaks the rule); third: over quota
MIXED = (["old", "new", "third"],
         [(0, T0, 1.0), (0, T0 - 10, 2.0), (0, T0 + 10, 9.0), (1, T0, 9.0), (2, T0, 1.0)])


def test_validate_only_answers_a_real_writes_outcomes_and_keeps_nothing(db, storage, scope):
    storage.WritePoints(request(scope, ["old"], [(0, T0, 1.0)]), None)
    before = contents(db, scope)
    trial = storage.WritePoints(request(scope, *MIXED, validate_only=True), None)
    assert trial.rolled_back and not trial.rule_hits
    assert contents(db, scope) == before
    old, new, third = trial.series
    assert old.metric_id and not new.metric_id and not third.metric_id  # `new` was never kept
    real = storage.WritePoints(request(scope, *MIXED), None)
    assert not real.rolled_back and len(real.rule_hits) == 2
    assert judged(trial) == judged(real)
    assert list(real.outcomes) == [DUPLICATE, REJECTED, STORED, STORED, REJECTED]
    assert [r.error_code for r in real.rejections] == ["VALIDATION_ERROR", "OVER_QUOTA"]


def test_all_or_nothing_keeps_nothing_when_a_point_is_out_of_order(db, storage, scope):
    storage.WritePoints(request(scope, ["old"], [(0, T0, 1.0)]), None)
    before = contents(db, scope)
    answer = storage.WritePoints(request(scope, *MIXED, all_or_nothing=True), None)
    assert answer.rolled_back and not answer.rule_hits and not answer.series[1].metric_id
    assert contents(db, scope) == before
    assert list(answer.outcomes) == [DUPLICATE, REJECTED, STORED, STORED, REJECTED]
    assert answer.rejections[0].error.startswith("invalid timestamp - ")


def test_all_or_nothing_keeps_the_rest_when_only_the_quota_refuses(db, storage, scope):
    storage.WritePoints(request(scope, ["old"], [(0, T0, 1.0)]), None)
    series, points = ["old", "new", "third"], [(0, T0, 1.0), (0, T0 + 10, 9.0), (1, T0, 9.0), (2, T0, 1.0)]
    answer = storage.WritePoints(request(scope, series, points, all_or_nothing=True), None)
    assert not answer.rolled_back and len(answer.rule_hits) == 2
    assert list(answer.outcomes) == [DUPLICATE, STORED, STORED, REJECTED]
    assert [r.error_code for r in answer.rejections] == ["OVER_QUOTA"]
    assert contents(db, scope) == ([("new", T0, 1), ("old", T0 + 10, 2)],
                                   [(T0, 1.0), (T0, 9.0), (T0 + 10, 9.0)], 2)

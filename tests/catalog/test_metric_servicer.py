"""MetricService called in process with a key in the call's metadata: requests no client of the
contract could make answer INVALID_ARGUMENT and change nothing."""
from __future__ import annotations

import base64
import math
import threading
import time

import pytest
from sqlalchemy import func, select

from anomalywatch.catalog.v1 import metrics_pb2
from anomalywatch.common.v1 import common_pb2
from services.catalog import configs
from services.catalog.metric_servicer import MetricServicer
from services.catalog.models import AnomalyConfigRow, Series
from services.common.auth import PrincipalCache
from services.common.errors import ServiceError

from .conftest import T0, KeyContext

NOW = T0 + 10_000
RETENTION = 30 * 86400.0


@pytest.fixture
def metrics(db, keys) -> MetricServicer:
    return MetricServicer(db, PrincipalCache(keys.lookup), RETENTION, lambda: NOW)


@pytest.fixture
def caller(seed, keys):
    """(scope, context) of a read+write key, its account holding one series `api.requests`."""
    scope = seed.scope()
    seed.series(scope, "api.requests", {"host": "a"})
    return scope, KeyContext(keys.make(scope))


def refused(call, request, context) -> ServiceError:
    with pytest.raises(ServiceError) as caught:
        call(request, context)
    assert caught.value.grpc_code.name == "INVALID_ARGUMENT"
    return caught.value


@pytest.mark.parametrize("count", [33, 5000])
def test_list_metrics_refuses_more_tag_filters_than_a_series_has_tags(metrics, caller, count):
    _, context = caller
    error = refused(metrics.ListMetrics, metrics_pb2.ListMetricsRequest(
        tags={f"k{i}": "v" for i in range(count)}), context)
    assert error.details == {"field": "tags"}
    most = {"host": "a", **{f"k{i}": "v" for i in range(31)}}
    assert metrics.ListMetrics(metrics_pb2.ListMetricsRequest(tags=most), context).page.total_size == 0


def test_list_metrics_refuses_a_page_token_past_any_offset(metrics, caller):
    _, context = caller
    page = common_pb2.PageRequest(page_token=base64.urlsafe_b64encode(b"o:3000000000").decode())
    error = refused(metrics.ListMetrics, metrics_pb2.ListMetricsRequest(page=page), context)
    assert error.details == {"field": "page_token"}


@pytest.mark.parametrize("name", ["", "a b", "a\n", "a\x00b", "caf\u00e9", "x" * 256, "cpu;drop"])
@pytest.mark.parametrize("method", ["GetAnomalyConfig", "UpdateAnomalyConfig"])
def test_a_config_for_a_name_no_series_can_have_is_refused(db, metrics, caller, name, method):
    scope, context = caller
    request_type = getattr(metrics_pb2, f"{method}Request")
    request = request_type(name_or_id=name)
    if method == "UpdateAnomalyConfig":
        request.config.sensitivity = "high"
    error = refused(getattr(metrics, method), request, context)
    assert error.details == {"field": "name_or_id"}
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(AnomalyConfigRow)
                              .where(AnomalyConfigRow.account_id == scope.account_id)) == 0


def test_a_config_for_a_name_of_the_whole_alphabet_is_kept(metrics, caller):
    _, context = caller
    name = "a.B-c_d:e/9"
    answer = metrics.UpdateAnomalyConfig(metrics_pb2.UpdateAnomalyConfigRequest(
        name_or_id=name, config=metrics_pb2.AnomalyConfig(sensitivity="high")), context)
    assert answer.overrides.sensitivity == "high" and answer.metric == name


@pytest.mark.parametrize("name", ["met_cpu", "met_abc.def", "met_" + "a" * 15, "met_" + "A" * 16])
def test_a_metric_named_like_an_id_prefix_is_configured_by_name(metrics, caller, name):
    _, context = caller
    answer = metrics.UpdateAnomalyConfig(metrics_pb2.UpdateAnomalyConfigRequest(
        name_or_id=name, config=metrics_pb2.AnomalyConfig(sensitivity="high")), context)
    assert (answer.metric, answer.metric_id, answer.overrides.sensitivity) == (name, "", "high")
    read = metrics.GetAnomalyConfig(metrics_pb2.GetAnomalyConfigRequest(name_or_id=name), context)
    assert read.effective.sensitivity == "high"


def test_an_unknown_series_id_is_not_found_and_configures_nothing(db, metrics, caller):
    scope, context = caller
    with pytest.raises(ServiceError) as caught:
        metrics.UpdateAnomalyConfig(metrics_pb2.UpdateAnomalyConfigRequest(
            name_or_id="met_0123456789abcdef", config=metrics_pb2.AnomalyConfig(sensitivity="high")), context)
    assert caught.value.code == "METRIC_NOT_FOUND"
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(AnomalyConfigRow)
                              .where(AnomalyConfigRow.account_id == scope.account_id)) == 0


@pytest.mark.postgres
@pytest.mark.parametrize("db", ["postgres"], indirect=True)
def test_two_first_writers_of_one_config_both_succeed_and_merge(db, seed):
    """The second waits on the first's uncommitted row; it failed on the duplicate key (a 500)."""
    scope = seed.scope()
    first_flushed, failures = threading.Event(), []

    def first():
        with db.transaction() as session:
            configs.upsert(session, scope, "name", "api.latency", {"sensitivity": "high"}, T0)
            session.flush()
            first_flushed.set()
            time.sleep(1.0)  # the second writer reaches its INSERT meanwhile

    def second():
        first_flushed.wait()
        try:
            with db.transaction() as session:
                configs.upsert(session, scope, "name", "api.latency", {"seasonality": "daily"}, T0 + 1)
        except Exception as error:  # whatever escaped is the failure
            failures.append(error)

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    with db.read() as session:
        row = configs.load_rows(session, scope, [("name", "api.latency")])[("name", "api.latency")]
    assert (row.sensitivity, row.seasonality, row.updated_at) == ("high", "daily", T0 + 1)


@pytest.mark.parametrize("values", [[1.7e308, 1.7e308, -1.7e308, 1e-320], [1e200, -1e200],
                                    [-1.7e308, 1.7e308]])
def test_the_stats_of_finite_values_near_the_float_limit_are_finite(db, seed, metrics, caller, values):
    """Their sums and squares overflow: mean, std and percentiles were inf or nan (null in JSON)."""
    scope, context = caller
    series_id = seed.series(scope, "huge.values")
    times = [NOW - 100 + i for i in range(len(values))]
    seed.points(series_id, list(zip(times, values, strict=True)))
    with db.transaction() as session:
        series = session.get(Series, series_id)
        series.first_ts, series.last_ts, series.last_value, series.point_count = (
            times[0], times[-1], values[-1], len(values))
    stats = metrics.GetMetric(metrics_pb2.GetMetricRequest(metric_id=series_id), context).metric.stats
    numbers = {k: getattr(stats, k) for k in ("mean", "std", "min", "max", "p50", "p95", "p99")}
    assert all(map(math.isfinite, numbers.values())), numbers
    assert stats.mean == pytest.approx(math.fsum(v / 4 for v in values) / len(values) * 4, rel=1e-12)
    assert (stats.min, stats.max) == (min(values), max(values))
    assert min(values) <= stats.p50 <= stats.p95 <= stats.p99 <= max(values)

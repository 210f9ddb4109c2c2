"""The SDK against the real running system where a user's names and lists are unusual: metric
names that are URL dot-segments, and series with more points than one answer holds."""
from __future__ import annotations

import pytest
from anomalywatch_sdk import Client

pytestmark = pytest.mark.e2e


@pytest.fixture
def fresh(system):
    """A client of a new account of its own (names such as `..` are not shared with other tests)."""
    _, key = system.new_key()
    with Client(key, base_url=system.base_url, timeout=30) as client:
        yield client


def test_metric_names_that_are_dot_segments_reach_their_own_configuration(fresh):
    """`..` went to /v1/anomaly_config (404 NOT_FOUND) and `.` to /v1/metrics/anomaly_config, the
    series `anomaly_config` (404 METRIC_NOT_FOUND, or its data)."""
    fresh.metrics.put_anomaly_config("..", sensitivity="high")
    fresh.metrics.put_anomaly_config(".", sensitivity="low")
    assert fresh.metrics.get_anomaly_config("..")["overrides"] == {"sensitivity": "high"}
    assert fresh.metrics.get_anomaly_config(".")["overrides"] == {"sensitivity": "low"}
    assert fresh.metrics.get_anomaly_config("...")["overrides"] == {}

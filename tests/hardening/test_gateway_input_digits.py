"""Numbers written in other scripts' digits ('²', '٣', '２４') are refused end to end, in the
envelope, naming the field; the services' own patterns would read most of them as numbers."""
from __future__ import annotations

import time

import pytest

from tests.hardening.conftest import assert_clean

pytestmark = pytest.mark.e2e


def refused(answer, field: str) -> None:
    assert answer.status_code == 400, answer.text[:300]
    error = answer.json()["error"]
    assert error["code"] in ("VALIDATION_ERROR", "INVALID_THRESHOLD") and error["details"]["field"] == field


@pytest.fixture(scope="module")
def metric_id(system, admin) -> str:
    point = {"metric": "hard.digits", "value": 1, "timestamp": time.time()}
    answer = system.session(admin[1]).post(f"{system.base_url}/v1/ingest", json=point, timeout=30)
    assert answer.status_code == 200, answer.text
    return answer.json()["metric_id"]


@pytest.mark.parametrize("limit", ["²", "٣", "５", "+5", "1_0"])
def test_a_points_limit_in_other_digits_is_400(system, api, metric_id, limit):
    answer = api.get(f"{system.base_url}/v1/metrics/{metric_id}/points", params={"limit": limit}, timeout=10)
    refused(answer, "limit")
    assert_clean(answer, system)


@pytest.mark.parametrize("window", ["٣d", "２４h"])
def test_a_comparison_window_in_other_digits_is_400_and_changes_nothing(system, api, window):
    url = f"{system.base_url}/v1/metrics/hard.digits/anomaly_config"
    refused(api.put(url, json={"comparison_window": window}, timeout=10), "comparison_window")
    assert api.get(url, timeout=10).json()["data"]["overrides"] == {}


@pytest.mark.parametrize("horizon", ["٣", "٣h", "２４h"])
def test_a_horizon_in_other_digits_is_400(system, api, metric_id, horizon):
    answer = api.post(f"{system.base_url}/v1/forecast", json={"metric_id": metric_id, "horizon": horizon},
                      timeout=30)
    refused(answer, "horizon")

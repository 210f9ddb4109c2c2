"""Ingest end to end: what a client cannot have meant is refused and stores nothing; an invalid
single point names its field, whichever service judged it."""
from __future__ import annotations

import json
import time

import pytest
import requests

from tests.hardening.conftest import assert_clean

pytestmark = pytest.mark.e2e
JSON = {"Content-Type": "application/json"}


def stored(system, api, name: str) -> list[dict]:
    return api.get(f"{system.base_url}/v1/metrics", params={"name": name}, timeout=10).json()["data"]


def test_a_point_naming_its_metric_twice_is_400_and_neither_series_is_made(system, api):
    t = int(time.time()) - 5
    raw = f'{{"metric": "dupkey.a", "metric": "dupkey.b", "value": 1, "timestamp": {t}}}'
    answer = api.post(f"{system.base_url}/v1/ingest", data=raw, headers=JSON, timeout=30)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["details"] == {"field": "metric"}
    assert_clean(answer, system)
    assert stored(system, api, "dupkey.a") == [] and stored(system, api, "dupkey.b") == []


def test_a_flux_post_naming_its_key_twice_is_400_and_stores_nothing(system, admin, api):
    t = int(time.time()) - 5
    raw = json.dumps({"key": admin[1], "metrics": [{"metric": "dupkey.flux", "timestamp": t, "value": 1}]})
    raw = raw.replace('{"key"', '{"key": "aw_live_nobody", "key"', 1)
    answer = requests.post(f"{system.base_url}/flux/metric_data_post", data=raw, headers=JSON, timeout=30)
    expected = {"code": 400, "message": 'invalid json data - duplicate key "key"'}
    assert (answer.status_code, answer.json()) == (400, expected)
    assert stored(system, api, "dupkey.flux") == []


def test_an_unreadable_x_test_only_stores_nothing_and_a_readable_one_decides(system, api):
    t = int(time.time()) - 5
    url = f"{system.base_url}/v1/ingest"
    refused = api.post(url, json={"metric": "dryhdr.m", "value": 1, "timestamp": t},
                       headers={"X-Test-Only": "on"}, timeout=30)
    assert refused.status_code == 400 and refused.json()["error"]["details"]["field"] == "X-Test-Only"
    dry = api.post(url, json={"metric": "dryhdr.m", "value": 1, "timestamp": t},
                   headers={"X-Test-Only": "TRUE"}, timeout=30)
    assert dry.status_code == 200 and dry.json()["metric_id"] is None
    assert stored(system, api, "dryhdr.m") == []
    real = api.post(url, json={"metric": "dryhdr.m", "value": 1, "timestamp": t},
                    headers={"X-Test-Only": "false"}, timeout=30)
    assert real.status_code == 200 and real.json()["metric_id"].startswith("met_")
    assert [m["point_count"] for m in stored(system, api, "dryhdr.m")] == [1]


def test_a_single_point_catalog_refuses_names_its_field(system, api):
    t = int(time.time()) - 20
    url = f"{system.base_url}/v1/ingest"
    first = api.post(url, json={"metric": "field.order", "value": 1, "timestamp": t}, timeout=30)
    assert first.status_code == 200
    late = api.post(url, json={"metric": "field.order", "value": 2, "timestamp": t - 1}, timeout=30)
    assert late.status_code == 400
    assert late.json()["error"]["details"] == {"index": 0, "reason": "VALIDATION_ERROR", "field": "timestamp"}


def test_a_repeated_query_parameter_is_400(system, api):
    answer = api.get(f"{system.base_url}/v1/ingest/test?limit=1&limit=2", timeout=10)
    assert answer.status_code == 400 and answer.json()["error"]["details"] == {"field": "limit"}
    answer = api.get(f"{system.base_url}/v1/metrics?tag.env=a&tag.env=b", timeout=10)
    assert answer.status_code == 400 and answer.json()["error"]["details"] == {"field": "tag.env"}

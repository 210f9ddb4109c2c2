"""The series rules that need the stored data (chronological order, exact repeats, the plan's series
quota) hold for `X-Test-Only` posts and for flux posts as for real ones.

Both are judged in catalog's WritePoints: a test post is judged there and rolled back
(`validate_only`), and a flux post is written all or nothing (`all_or_nothing`)."""
from __future__ import annotations

import time

import pytest
import requests

pytestmark = pytest.mark.e2e

TEST_ONLY = {"X-Test-Only": "true"}


def ingest(system, api, body, **headers):
    return api.post(f"{system.base_url}/v1/ingest", json=body, headers=headers, timeout=60)


def stored_points(system, api, name: str) -> list[dict]:
    found = api.get(f"{system.base_url}/v1/metrics", params={"name": name}, timeout=10).json()["data"]
    if not found:
        return []
    answer = api.get(f"{system.base_url}/v1/metrics/{found[0]['id']}/points", timeout=10)
    return answer.json()["data"]


def test_a_test_post_is_refused_out_of_order_as_a_real_one(system, api):
    t = int(time.time()) - 60
    assert ingest(system, api, {"metric": "hard.trial.order", "value": 1, "timestamp": t}).status_code == 200
    real = ingest(system, api, {"metric": "hard.trial.order", "value": 2, "timestamp": t - 10})
    assert real.status_code == 400 and real.json()["error"]["code"] == "VALIDATION_ERROR"
    trial = ingest(system, api, {"metric": "hard.trial.order", "value": 2, "timestamp": t - 10}, **TEST_ONLY)
    assert (trial.status_code, trial.json()) == (real.status_code, real.json())
    # An exact repeat is accepted by both, and a batch is judged point by point alike.
    repeat = ingest(system, api, {"metric": "hard.trial.order", "value": 1, "timestamp": t}, **TEST_ONLY)
    assert repeat.status_code == 200 and repeat.json()["status"] == "duplicate"
    batch = {"points": [{"metric": "hard.trial.order", "value": 3, "timestamp": t + 2},
                        {"metric": "hard.trial.order", "value": 4, "timestamp": t + 1}]}
    answer = ingest(system, api, batch, **TEST_ONLY)
    assert answer.status_code == 207 and [r["status"] for r in answer.json()["results"]] == [200, 400]
    assert [p["value"] for p in stored_points(system, api, "hard.trial.order")] == [1]


def test_a_test_post_of_a_new_series_over_the_quota_is_refused(system):
    _, key = system.new_key(plan="free")  # 1,000 series
    api = system.session(key)
    t = int(time.time()) - 10
    for start in (0, 500):
        body = {"points": [{"metric": f"hard.trial.q{i}", "value": 1, "timestamp": t}
                           for i in range(start, start + 500)]}
        assert ingest(system, api, body).status_code == 200
    trial = ingest(system, api, {"points": [{"metric": "hard.trial.new", "value": 1, "timestamp": t},
                                            {"metric": "hard.trial.q1", "value": 2, "timestamp": t + 1}]},
                   **TEST_ONLY)
    assert trial.status_code == 207
    results = trial.json()["results"]
    assert results[0]["error"] == "over quota - this plan allows 1000 series" and results[1]["status"] == 200


def test_a_flux_post_with_a_metric_out_of_order_is_400_and_stores_nothing(system, api, admin):
    url = f"{system.base_url}/flux/metric_data_post"
    t = int(time.time()) - 60
    first = requests.post(url, json={"key": admin[1], "metrics": [
        {"metric": "hard.flux.old", "timestamp": t, "value": 1}]}, timeout=30)
    assert first.status_code == 204
    answer = requests.post(url, json={"key": admin[1], "metrics": [
        {"metric": "hard.flux.new", "timestamp": t, "value": 1},
        {"metric": "hard.flux.old", "timestamp": t - 10, "value": 2}]}, timeout=30)
    assert answer.status_code == 400, answer.text
    body = answer.json()
    assert set(body) == {"code", "message"} and body["code"] == 400
    assert body["message"].startswith(f"invalid timestamp - {t - 10} - timestamp is not after")
    assert stored_points(system, api, "hard.flux.new") == []
    # An exact repeat is no invalid metric.
    again = requests.post(url, json={"key": admin[1], "metrics": [
        {"metric": "hard.flux.old", "timestamp": t, "value": 1}]}, timeout=30)
    assert again.status_code == 204

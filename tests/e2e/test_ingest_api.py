"""Ingest through the REST gateway against the real processes."""
from __future__ import annotations

import time

import pytest

pytestmark = pytest.mark.e2e


def now_iso(offset: float = 0.0) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + offset))


def test_auth_failures_are_401_and_a_missing_scope_is_403(system, admin):
    url = f"{system.base_url}/v1/ingest"
    body = {"metric": "m", "value": 1, "timestamp": now_iso()}
    import requests
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic abc"},
                    {"Authorization": "Bearer aw_live_" + "x" * 32}):
        answer = requests.post(url, json=body, headers=headers, timeout=10)
        assert answer.status_code == 401, headers
        assert answer.json()["error"]["code"] == "UNAUTHORIZED"
    _, read_only = system.new_key(scopes="read", account=admin[0])
    answer = system.session(read_only).post(url, json=body, timeout=10)
    assert answer.status_code == 403 and answer.json()["error"]["code"] == "FORBIDDEN"


def test_single_point_is_stored_and_read_back(system, api):
    answer = api.post(f"{system.base_url}/v1/ingest", json={
        "metric": "api.requests", "value": 42.5, "timestamp": now_iso(-5), "tags": {"host": "web-1"}},
        timeout=30)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["status"] == "ingested" and body["metric_id"].startswith("met_")
    assert body["learning"] is True and body["severity"] is None and body["anomaly_id"] is None
    for field in ("anomaly_score", "baseline", "expected_range", "type"):
        assert field in body
    metric = api.get(f"{system.base_url}/v1/metrics/{body['metric_id']}", timeout=10).json()["data"]
    assert metric["name"] == "api.requests" and metric["tags"] == {"host": "web-1"}
    assert metric["stats"]["last_value"] == 42.5
    points = api.get(f"{system.base_url}/v1/metrics/{body['metric_id']}/points", timeout=10).json()["data"]
    assert [p["value"] for p in points] == [42.5]
    listed = api.get(f"{system.base_url}/v1/metrics", params={"name": "api.requests", "tag.host": "web-1"},
                     timeout=10).json()
    assert [m["id"] for m in listed["data"]] == [body["metric_id"]]
    assert listed["pagination"]["total"] == 1


def test_invalid_single_point_is_400_and_changes_nothing(system, api):
    answer = api.post(f"{system.base_url}/v1/ingest",
                      json={"metric": "bad name", "value": 1, "timestamp": now_iso()}, timeout=10)
    assert answer.status_code == 400
    assert answer.json()["error"] == {"code": "VALIDATION_ERROR",
                                      "message": "invalid metric - bad name - invalid characters in name",
                                      "details": {"index": 0, "reason": "VALIDATION_ERROR",
                                                  "field": "metric"}}
    found = api.get(f"{system.base_url}/v1/metrics", params={"name": "bad name"}, timeout=10)
    assert found.json()["data"] == []


def test_batch_with_rejections_is_207_with_a_result_per_point(system, api):
    t = time.time() - 100
    points = [{"metric": "batch.m", "value": i, "timestamp": t + i} for i in range(5)]
    points.insert(2, {"metric": "batch.m", "value": float("nan"), "timestamp": t + 2.5})
    points.append({"metric": "batch.m", "value": 1, "timestamp": t + 1})  # out of order, different value
    points.append({"metric": "batch.m", "value": 4, "timestamp": t + 4})  # exact repeat of a stored point
    points.append({"metric": "batch.m", "value": 1, "timestamp": t + 10, "colour": "red"})
    answer = api.post(f"{system.base_url}/v1/ingest", data=__import__("json").dumps({"points": points}),
                      headers={"Content-Type": "application/json"}, timeout=30)
    assert answer.status_code == 207, answer.text
    body = answer.json()
    assert (body["accepted"], body["rejected"]) == (6, 3)
    statuses = [r["status"] for r in body["results"]]
    assert statuses == [200, 200, 400, 200, 200, 200, 400, 200, 400]
    assert body["results"][2]["error"] == "invalid value - NaN"
    assert "chronological order" in body["results"][6]["error"]
    assert body["results"][7]["status"] == 200 and body["results"][7]["outcome"] == "duplicate"
    assert body["results"][8]["error"] == "Invalid parameter received - colour"
    metric_id = body["results"][0]["metric_id"]
    points = api.get(f"{system.base_url}/v1/metrics/{metric_id}/points", timeout=10).json()["data"]
    assert [p["value"] for p in points] == [0, 1, 2, 3, 4]


def test_all_accepted_batch_is_200_and_repeating_it_changes_nothing(system, api):
    t = time.time() - 50
    batch = {"points": [{"metric": "idem.m", "value": i * 1.5, "timestamp": t + i, "tags": {"k": "v"}}
                        for i in range(20)]}
    first = api.post(f"{system.base_url}/v1/ingest", json=batch, timeout=30)
    assert first.status_code == 200 and first.json()["accepted"] == 20
    again = api.post(f"{system.base_url}/v1/ingest", json=batch, timeout=30)
    assert again.status_code == 200 and again.json()["accepted"] == 20
    assert {(r["status"], r["outcome"]) for r in again.json()["results"]} == {(200, "duplicate")}
    metric_id = first.json()["results"][0]["metric_id"]
    data = api.get(f"{system.base_url}/v1/metrics/{metric_id}/points", timeout=10).json()["data"]
    assert len(data) == 20


def test_unusable_bodies_are_400_415_and_413(system, api):
    url = f"{system.base_url}/v1/ingest"
    not_json = api.post(url, data="{not json", headers={"Content-Type": "application/json"}, timeout=10)
    assert not_json.status_code == 400
    assert api.post(url, json={"points": []}, timeout=10).status_code == 400
    over = {"points": [{"metric": "m", "value": 1, "timestamp": time.time()}] * 501}
    too_many = api.post(url, json=over, timeout=10)
    assert too_many.status_code == 400 and "at most 500" in too_many.json()["error"]["message"]
    plain = api.post(url, data="metric=m", headers={"Content-Type": "text/plain"}, timeout=10)
    assert plain.status_code == 415
    huge = api.post(url, data=b"{" + b" " * (1024 * 1024 + 10) + b"}",
                    headers={"Content-Type": "application/json"}, timeout=30)
    assert huge.status_code == 413 and huge.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"
    assert api.post(url, json=[1, 2], timeout=10).status_code == 400


def test_test_only_points_are_validated_but_not_stored(system, api):
    answer = api.post(f"{system.base_url}/v1/ingest", json={"metric": "trial.metric", "value": 1,
                                                            "timestamp": now_iso()},
                      headers={"X-Test-Only": "true"}, timeout=10)
    assert answer.status_code == 200 and answer.json()["metric_id"] is None
    found = api.get(f"{system.base_url}/v1/metrics", params={"name": "trial.metric"}, timeout=10)
    assert found.json()["data"] == []
    posts = api.get(f"{system.base_url}/v1/ingest/test", timeout=10).json()["data"]
    assert any(p["metric"] == "trial.metric" and p["count"] >= 1 for p in posts)


def test_series_quota_of_the_plan(system):
    account, key = system.new_key(plan="free")
    api = system.session(key)
    # The free plan allows 1,000 series: fill them in two batches of 500, then one more.
    t = int(time.time()) - 10
    for start in (0, 500):
        body = {"points": [{"metric": f"q.m{i}", "value": 1, "timestamp": t}
                           for i in range(start, start + 500)]}
        assert api.post(f"{system.base_url}/v1/ingest", json=body, timeout=60).status_code == 200
    over = api.post(f"{system.base_url}/v1/ingest", json={"points": [
        {"metric": "q.new", "value": 1, "timestamp": t}, {"metric": "q.m1", "value": 2, "timestamp": t + 1}]},
        timeout=30)
    assert over.status_code == 207
    results = over.json()["results"]
    assert results[0]["error"] == "over quota - this plan allows 1000 series" and results[1]["status"] == 200


def test_anomify_endpoint(system, admin):
    import requests
    url = f"{system.base_url}/flux/metric_data_post"
    key = admin[1]
    t = int(time.time()) - 5
    ok = requests.post(url, json={"key": key,
                                  "metrics": [{"metric": "flux.a", "timestamp": t, "value": 1.0},
                                              {"metric": "flux.b", "timestamp": t, "value": 2.2}]},
                       timeout=30)
    assert ok.status_code == 204 and ok.text == ""
    cases = [
        ({"key": key, "metrics": [{"metric": "flux a", "timestamp": t, "value": 1}]}, 400,
         "invalid metric - flux a - invalid characters in name"),
        ({"key": key, "metrics": [{"metric": "flux.a", "timestamp": t + 0.5, "value": 1}]}, 400,
         f"invalid timestamp - {t + 0.5} - timestamp is not an int"),
        ({"key": key, "metrics": [{"metric": "flux.a", "timestamp": t}]}, 400, "no value parameter present"),
        ({"key": key}, 400, "no metric data passed"),
        ({"metrics": []}, 401, "no key passed"),
        ({"key": "aw_live_" + "z" * 32, "metrics": [{"metric": "a", "timestamp": t, "value": 1}]}, 401,
         "invalid key"),
        ({"key": key, "metrics": [{"metric": "a", "timestamp": t, "value": 1}] * 501}, 400,
         "too many metrics - at most 500 per post"),
        ({"key": key, "metrics": [], "extra": 1}, 400, "Invalid parameter received - extra"),
    ]
    for body, status, message in cases:
        answer = requests.post(url, json=body, timeout=30)
        assert (answer.status_code, answer.json()) == (status, {"code": status, "message": message}), body
    assert requests.post(url, data="nope", timeout=10).json() == {"code": 400, "message": "invalid json data"}
    big = requests.post(url, data=b"x" * (1024 * 1024 + 1), timeout=30)
    assert (big.status_code, big.json()) == (413, {"code": 413, "message": "payload too large"})
    # a flux post with a metric over the plan's quota answers 207 with Anomify's body
    _, free_key = system.new_key(plan="free")
    requests.post(url, json={"key": free_key, "metrics": [{"metric": f"fq{i}", "timestamp": t, "value": 1}
                                                          for i in range(500)]}, timeout=60)
    requests.post(url, json={"key": free_key, "metrics": [{"metric": f"fq{i}", "timestamp": t, "value": 1}
                                                          for i in range(500, 1000)]}, timeout=60)
    partial = requests.post(url, json={"key": free_key, "metrics": [
        {"metric": "fq1", "timestamp": t + 1, "value": 1},
        {"metric": "fq-new", "timestamp": t + 1, "value": 1}]}, timeout=30)
    assert partial.status_code == 207
    body = partial.json()
    assert body["rejected metrics"] == ["fq-new"] and body["processed metrics"] == ["fq1"]
    assert body["message"] == "1 metrics were processed and 1 metrics were rejected"
    assert body["error"].startswith("over quota - ")


def test_test_keys_see_only_sandbox_data(system, admin):
    account = admin[0]
    _, live_key = system.new_key(account=account, environment="live")
    _, test_key = system.new_key(account=account, environment="test")
    t = now_iso(-1)
    live = system.session(live_key).post(f"{system.base_url}/v1/ingest",
                                         json={"metric": "env.m", "value": 1, "timestamp": t},
                                         timeout=30).json()
    sandbox = system.session(test_key)
    assert sandbox.get(f"{system.base_url}/v1/metrics/{live['metric_id']}", timeout=10).status_code == 404
    found = sandbox.get(f"{system.base_url}/v1/metrics", params={"name": "env.m"}, timeout=10)
    assert found.json()["data"] == []
    mine = sandbox.post(f"{system.base_url}/v1/ingest", json={"metric": "env.m", "value": 2, "timestamp": t},
                        timeout=30).json()
    assert mine["metric_id"] != live["metric_id"]


def test_unknown_routes_and_methods_use_the_envelope(system, api):
    missing = api.get(f"{system.base_url}/v1/nothing-here", timeout=10)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "NOT_FOUND"
    wrong = api.delete(f"{system.base_url}/v1/ingest", timeout=10)
    assert wrong.status_code == 405 and wrong.json()["error"]["code"] == "METHOD_NOT_ALLOWED"
    unknown = api.get(f"{system.base_url}/v1/metrics/met_doesnotexist0000", timeout=10)
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "METRIC_NOT_FOUND"

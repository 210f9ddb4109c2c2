"""Real answers of the running system, for every operation, validated against the documented
schemas: successes and the error answers (400, 401, 403, 404, 409, 413, 415, 422, 429, 503)."""

from __future__ import annotations

import time
import uuid

import pytest
import requests

from gateway.openapi import document
from services.common.timeutil import iso

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
METHODS = ("get", "post", "put", "patch", "delete")


def _url(system, path: str) -> str:
    return f"{system.base_url}{path}"


@pytest.fixture
def api(system, keys) -> requests.Session:
    return system.session(keys["admin"])


def _name(prefix: str) -> str:
    return f"oa.{prefix}.{uuid.uuid4().hex[:8]}"


def test_ops_endpoints(system, contract):
    for path in ("/healthz", "/readyz", "/metrics", "/v1/openapi.json", "/docs"):
        contract.check(requests.get(_url(system, path), timeout=10))


def test_every_authenticated_operation_answers_401_without_a_valid_key(system, contract):
    for path, item in document()["paths"].items():
        for method in METHODS:
            op = item.get(method)
            if op is None or not op["security"]:
                continue
            concrete = path.replace("{", "x").replace("}", "")
            for headers in (
                {},
                {"Authorization": "Bearer aw_live_not_a_real_key"},
                {"Authorization": "Basic x"},
            ):
                answer = requests.request(
                    method, _url(system, concrete), headers=headers, json={}, timeout=10
                )
                assert answer.status_code == 401, (method, path, answer.text)
                contract.check(answer)


def test_every_scoped_operation_answers_403_with_a_key_lacking_its_scope(system, keys, contract):
    for path, item in document()["paths"].items():
        for method in METHODS:
            op = item.get(method)
            scope = op and op.get("x-required-scope")
            if not scope or not op["security"]:
                continue
            key = keys["read"] if scope == "ingest" else keys["ingest"]
            concrete = path.replace("{", "x").replace("}", "")
            answer = requests.request(
                method,
                _url(system, concrete),
                headers={"Authorization": f"Bearer {key}"},
                json={},
                timeout=10,
            )
            assert answer.status_code == 403, (method, path, answer.text)
            contract.check(answer)


def test_ingest(system, api, contract):
    name, now = _name("ingest"), time.time()
    contract.check(
        api.post(
            _url(system, "/v1/ingest"),
            json={
                "metric": name,
                "value": 1.5,
                "timestamp": iso(now - 5),
                "tags": {"host": "a"},
                "source": "test",
            },
            timeout=30,
        )
    )
    batch = {
        "points": [
            {"metric": name, "value": 2.0, "timestamp": now - 2, "tags": {"host": "a"}},
            {"metric": name, "value": 3.0, "timestamp": now - 1, "tags": {"host": "a"}},
        ]
    }
    assert contract.check(api.post(_url(system, "/v1/ingest"), json=batch, timeout=30))["accepted"] == 2
    partial = {
        "points": [
            {"metric": name, "value": 4.0, "timestamp": now, "tags": {"host": "a"}},
            {"metric": "bad name", "value": 1, "timestamp": now},
        ]
    }
    answer = api.post(_url(system, "/v1/ingest"), json=partial, timeout=30)
    assert answer.status_code == 207
    contract.check(answer)
    for body in ({"metric": name, "value": "x", "timestamp": now}, {"points": []}, [1]):
        answer = api.post(_url(system, "/v1/ingest"), json=body, timeout=30)
        assert answer.status_code == 400
        contract.check(answer)
    answer = api.post(
        _url(system, "/v1/ingest"), data="metric=m", headers={"Content-Type": "text/plain"}, timeout=10
    )
    assert answer.status_code == 415
    contract.check(answer)
    answer = api.post(
        _url(system, "/v1/ingest"),
        data=b"x" * (1024 * 1024 + 1),
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    assert answer.status_code == 413
    contract.check(answer)
    test_only = api.post(
        _url(system, "/v1/ingest"),
        json={"metric": _name("trial"), "value": 1, "timestamp": now},
        headers={"X-Test-Only": "true"},
        timeout=30,
    )
    assert contract.check(test_only)["metric_id"] is None
    assert contract.check(api.get(_url(system, "/v1/ingest/test"), timeout=10))["data"]
    contract.check(api.get(_url(system, "/v1/ingest/test"), params={"limit": "-1"}, timeout=10))


def test_flux(system, keys, contract):
    url, now = _url(system, "/flux/metric_data_post"), int(time.time())
    ok = requests.post(
        url,
        json={"key": keys["admin"], "metrics": [{"metric": _name("flux"), "timestamp": now, "value": 1}]},
        timeout=30,
    )
    assert ok.status_code == 204
    contract.check(ok)
    for body, status in (
        ({"key": keys["admin"], "metrics": [{"metric": "a b", "timestamp": now, "value": 1}]}, 400),
        ({"metrics": []}, 401),
        ({"key": "aw_live_nope", "metrics": []}, 401),
        ({"key": keys["read"], "metrics": [{"metric": "m", "timestamp": now, "value": 1}]}, 403),
    ):
        answer = requests.post(url, json=body, timeout=30)
        assert answer.status_code == status, (body, answer.text)
        contract.check(answer)
    huge = requests.post(
        url, data=b"x" * (1024 * 1024 + 1), headers={"Content-Type": "application/json"}, timeout=30
    )
    assert huge.status_code == 413
    contract.check(huge)


def test_metrics_and_configs(system, api, contract):
    name, now = _name("metric"), time.time()
    metric_id = contract.check(
        api.post(
            _url(system, "/v1/ingest"),
            json={"metric": name, "value": 1.0, "timestamp": now, "tags": {"k": "v"}},
            timeout=30,
        )
    )["metric_id"]
    assert contract.check(api.get(_url(system, "/v1/metrics"), params={"name": name}, timeout=10))["data"]
    contract.check(
        api.get(_url(system, "/v1/metrics"), params={"tag.k": "v", "page": 2, "limit": 5000}, timeout=10)
    )
    contract.check(api.get(_url(system, "/v1/metrics"), params={"offset": "x"}, timeout=10))
    contract.check(api.get(_url(system, f"/v1/metrics/{metric_id}"), timeout=10))
    contract.check(api.get(_url(system, "/v1/metrics/met_nope"), timeout=10))
    contract.check(
        api.get(_url(system, f"/v1/metrics/{metric_id}/points"), params={"from": "2020-01-01"}, timeout=10)
    )
    contract.check(
        api.get(_url(system, f"/v1/metrics/{metric_id}/points"), params={"limit": "0"}, timeout=10)
    )
    contract.check(api.get(_url(system, "/v1/metrics/met_nope/points"), timeout=10))
    for target in (name, metric_id, "oa/with/slash"):
        contract.check(api.get(_url(system, f"/v1/metrics/{target}/anomaly_config"), timeout=10))
        contract.check(
            api.put(
                _url(system, f"/v1/metrics/{target}/anomaly_config"),
                json={"sensitivity": "high", "min_data_points": 20},
                timeout=10,
            )
        )
    bad = api.put(
        _url(system, f"/v1/metrics/{name}/anomaly_config"), json={"spike_threshold": 0.5}, timeout=10
    )
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "INVALID_THRESHOLD"
    contract.check(bad)
    contract.check(api.put(_url(system, f"/v1/metrics/{name}/anomaly_config"), json={"nope": 1}, timeout=10))
    contract.check(
        api.put(_url(system, "/v1/metrics/met_nope/anomaly_config"), json={"enabled": False}, timeout=10)
    )


def test_rules_and_anomalies(system, api, contract):
    name = _name("rules")
    rules = _url(system, "/v1/anomalies/rules")
    created = api.post(
        rules,
        json={
            "name": name,
            "condition": {"metric": name, "operator": "greater_than", "threshold": 90},
            "severity": "critical",
        },
        timeout=10,
    )
    assert created.status_code == 201, created.text
    rule_id = contract.check(created)["data"]["id"]
    contract.check(
        api.post(
            rules,
            json={"name": name, "condition": {"metric": "x", "operator": "equal", "threshold": 1}},
            timeout=10,
        )
    )  # 409
    contract.check(api.post(rules, json={"name": "x", "condition": {"metric": "x"}}, timeout=10))  # 400
    contract.check(api.get(rules, timeout=10))
    contract.check(api.get(f"{rules}/{rule_id}", timeout=10))
    contract.check(api.get(f"{rules}/rule_nope", timeout=10))
    contract.check(
        api.patch(
            f"{rules}/{rule_id}", json={"condition": {"threshold": 80}, "scope": {"tags": {}}}, timeout=10
        )
    )
    contract.check(api.patch(f"{rules}/rule_nope", json={"enabled": False}, timeout=10))

    point = contract.check(
        api.post(
            _url(system, "/v1/ingest"),
            json={"metric": name, "value": 95.0, "timestamp": time.time()},
            timeout=30,
        )
    )
    anomaly_id = point["anomaly_id"]
    assert anomaly_id and point["type"] == "threshold"
    anomalies = _url(system, "/v1/anomalies")
    assert contract.check(api.get(anomalies, params={"metric": name, "status": "open"}, timeout=10))["data"]
    contract.check(api.get(anomalies, params={"severity": "nope"}, timeout=10))
    contract.check(api.get(anomalies, params={"from": "yesterday"}, timeout=10))
    contract.check(api.get(f"{anomalies}/{anomaly_id}", timeout=10))
    contract.check(api.get(f"{anomalies}/anom_nope", timeout=10))
    contract.check(api.post(f"{anomalies}/{anomaly_id}/acknowledge", json={"note": "looking"}, timeout=10))
    contract.check(api.post(f"{anomalies}/{anomaly_id}/acknowledge", timeout=10))  # no body at all
    contract.check(api.post(f"{anomalies}/anom_nope/acknowledge", json={}, timeout=10))
    contract.check(api.post(f"{anomalies}/{anomaly_id}/resolve", json={"root_cause": "nope"}, timeout=10))
    contract.check(
        api.post(
            f"{anomalies}/{anomaly_id}/resolve", json={"root_cause": "deployment", "note": "ok"}, timeout=10
        )
    )
    again = api.post(f"{anomalies}/{anomaly_id}/resolve", json={}, timeout=10)
    assert again.status_code == 409
    contract.check(again)
    contract.check(api.post(f"{anomalies}/{anomaly_id}/acknowledge", json={}, timeout=10))  # 409
    contract.check(api.post(f"{anomalies}/anom_nope/resolve", json={}, timeout=10))
    contract.check(
        api.post(
            f"{anomalies}/{anomaly_id}/resolve", data="x", headers={"Content-Type": "text/plain"}, timeout=10
        )
    )  # 415
    stats = contract.check(api.get(f"{anomalies}/stats", timeout=10))["data"]
    assert stats["mean_time_to_resolve"] is not None
    contract.check(api.get(f"{anomalies}/stats", params={"from": "2026-13-01"}, timeout=10))
    contract.check(api.get(f"{anomalies}/summary", timeout=10))
    contract.check(api.get(f"{anomalies}/summary", params={"x": "1"}, timeout=10))

    deleted = api.delete(f"{rules}/{rule_id}", timeout=10)
    assert deleted.status_code == 204
    contract.check(deleted)
    contract.check(api.delete(f"{rules}/{rule_id}", timeout=10))  # 404


def test_forecast(system, api, contract):
    name, now = _name("forecast"), time.time()
    step = 300
    points = [{"metric": name, "value": 10 + (i % 12), "timestamp": now - (60 - i) * step} for i in range(60)]
    assert (
        contract.check(api.post(_url(system, "/v1/ingest"), json={"points": points}, timeout=60))["rejected"]
        == 0
    )
    url = _url(system, "/v1/forecast")
    result = contract.check(
        api.post(url, json={"metric": name, "horizon": "1h", "confidence": 0.9}, timeout=60)
    )
    assert len(result["forecast"]) == 12
    short = _name("short")
    contract.check(
        api.post(_url(system, "/v1/ingest"), json={"metric": short, "value": 1, "timestamp": now}, timeout=30)
    )
    insufficient = api.post(url, json={"metric": short, "horizon": "1h"}, timeout=60)
    assert insufficient.status_code == 422
    contract.check(insufficient)
    unavailable = api.post(url, json={"metric": name, "horizon": "1h", "model": "timesfm-v2"}, timeout=60)
    assert unavailable.status_code == 400 and unavailable.json()["error"]["code"] == "MODEL_UNAVAILABLE"
    contract.check(unavailable)
    contract.check(api.post(url, json={"metric": "oa.unknown.series", "horizon": "1h"}, timeout=60))  # 404
    contract.check(api.post(url, json={"metric": name, "horizon": "1h", "confidence": 2}, timeout=60))  # 400
    contract.check(api.get(_url(system, "/v1/forecast/models"), timeout=10))


def test_api_keys(system, api, contract):
    url = _url(system, "/v1/api-keys")
    created = api.post(url, json={"name": "oa", "scopes": ["read"], "environment": "test"}, timeout=10)
    assert created.status_code == 201
    key_id = contract.check(created)["data"]["id"]
    contract.check(api.post(url, json={"scopes": ["read"], "expires_at": "2001-01-01T00:00:00Z"}, timeout=10))
    contract.check(api.get(url, timeout=10))
    contract.check(api.get(url, params={"page": "0"}, timeout=10))
    revoked = api.delete(f"{url}/{key_id}", timeout=10)
    assert revoked.status_code == 204
    contract.check(revoked)
    contract.check(api.delete(f"{url}/key_nope", timeout=10))


def test_rate_limited_answers(system, contract):
    """A free key (burst 5/s): requests in quick succession meet a 429 with Retry-After."""
    _, key = system.new_key(plan="free")
    session = system.session(key)
    answers = []
    while len(answers) < 40 and not any(a.status_code == 429 for a in answers):
        answers.append(session.get(_url(system, "/v1/anomalies/summary"), timeout=10))
    assert answers[-1].status_code == 429, [a.status_code for a in answers]
    for answer in answers:
        contract.check(answer)


def test_unavailable_backends_answer_503(system, api, contract):
    """With forecast and then ingest stopped, their endpoints (and /readyz for ingest) answer 503."""
    local = system.local
    for name, calls in (
        ("forecast", [("get", "/v1/forecast/models", None)]),
        (
            "ingest",
            [
                ("post", "/v1/ingest", {"metric": "oa.down", "value": 1, "timestamp": time.time()}),
                ("get", "/readyz", None),
            ],
        ),
    ):
        process = local.process(name)
        local.stop_process(process)
        try:
            for method, path, body in calls:
                answer = api.request(method, _url(system, path), json=body, timeout=30)
                assert answer.status_code == 503, (name, path, answer.text)
                contract.check(answer)
        finally:
            local.start_process(process)
            local.wait_ready(process)


def test_every_operation_was_checked_with_a_success_and_an_error(contract):
    if not contract.seen:
        pytest.skip("runs after the scenario tests of this module")
    doc = contract.doc
    for path, item in doc["paths"].items():
        for method in METHODS:
            if method not in item:
                continue
            statuses = {status for p, m, status in contract.seen if (p, m) == (path, method)}
            assert any(s < 300 for s in statuses), (method, path, statuses)
            if item[method]["security"] or "x-required-scope" in item[method]:
                assert any(s >= 400 for s in statuses), (method, path, statuses)
    checked = {status for *_, status in contract.seen}
    assert {200, 201, 204, 207, 400, 401, 403, 404, 409, 413, 415, 422, 429, 503} <= checked

"""Isolation through REST: for every endpoint that takes an id, another account's id and the same
account's other environment (aw_test_ against aw_live_) answer exactly like an id that does not
exist (same status, same body but for the id), change nothing, and lists never show them.

API keys are the account's, not an environment's (a key is created with either `environment`, and
an admin key lists and revokes every key of its account): for them only another account is a
stranger."""

from __future__ import annotations

import time

import pytest

from tests.e2e.builders import create_rule, grid, ingest, new_user

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def owner(system):
    """A live account with a series, a threshold anomaly, a rule and a second key."""
    user = new_user(system)
    rule = create_rule(user, "iso-rule", "iso.m", "greater_than", 100, "critical")
    results = ingest(user, "iso.m", grid(12, end_offset=10, step=3600.0), [10.0] * 11 + [500.0])
    anomaly_id, metric_id = results[-1]["anomaly_id"], results[-1]["metric_id"]
    assert anomaly_id and metric_id
    key = user.post("/v1/api-keys", {"name": "spare", "scopes": ["read"]}).json()["data"]
    return {"user": user, "anomaly": anomaly_id, "metric": metric_id, "rule": rule["id"], "key": key["id"]}


@pytest.fixture(scope="module", params=["other account", "same account, test environment"])
def intruder(request, system, owner):
    if request.param == "other account":
        return new_user(system)
    return new_user(system, environment="test", account=owner["user"].account_id)


def unknown_like(real_id: str) -> str:
    prefix, _, rest = real_id.partition("_")
    return f"{prefix}_{'0' * len(rest)}"


# (method, path template, body, which owner id goes in)
REQUESTS = [
    ("GET", "/v1/anomalies/{id}", None, "anomaly"),
    ("POST", "/v1/anomalies/{id}/acknowledge", {"note": "mine now"}, "anomaly"),
    ("POST", "/v1/anomalies/{id}/resolve", {"root_cause": "other"}, "anomaly"),
    ("GET", "/v1/anomalies/rules/{id}", None, "rule"),
    ("PATCH", "/v1/anomalies/rules/{id}", {"enabled": False}, "rule"),
    ("DELETE", "/v1/anomalies/rules/{id}", None, "rule"),
    ("GET", "/v1/metrics/{id}", None, "metric"),
    ("GET", "/v1/metrics/{id}/points", None, "metric"),
    ("GET", "/v1/metrics/{id}/anomaly_config", None, "metric"),
    ("PUT", "/v1/metrics/{id}/anomaly_config", {"min_data_points": 50}, "metric"),
    ("POST", "/v1/forecast", {"metric_id": "{id}", "horizon": "3h"}, "metric"),
]
KEY_REQUESTS = [("DELETE", "/v1/api-keys/{id}", None, "key")]


def send(user, method: str, path: str, body, target: str):
    if body is not None:
        body = {k: (v.format(id=target) if isinstance(v, str) else v) for k, v in body.items()}
    return user.http.request(method, user.url(path.format(id=target)), json=body, timeout=30)


def normalized(response, target: str) -> tuple[int, str]:
    return response.status_code, response.text.replace(target, "<id>")


@pytest.mark.parametrize(
    ("method", "path", "body", "kind"), REQUESTS, ids=[f"{m} {p}" for m, p, _, _ in REQUESTS]
)
def test_a_foreign_id_answers_exactly_like_a_nonexistent_one(owner, intruder, method, path, body, kind):
    assert_like_nonexistent(owner, intruder, method, path, body, kind)


@pytest.mark.parametrize(
    ("method", "path", "body", "kind"), KEY_REQUESTS, ids=[p for _, p, _, _ in KEY_REQUESTS]
)
def test_another_accounts_key_id_answers_exactly_like_a_nonexistent_one(
    system, owner, method, path, body, kind
):
    assert_like_nonexistent(owner, new_user(system), method, path, body, kind)


def test_a_sandbox_admin_key_manages_only_sandbox_keys(system, owner):
    """A test key reaches only sandbox data: a live key of its own account is neither listed nor
    revocable by it (404 as an unknown id), and it cannot mint one (403); a live admin sees both."""
    sandbox = new_user(system, environment="test", account=owner["user"].account_id)
    listed = sandbox.get("/v1/api-keys", limit=1000).json()["data"]
    assert owner["key"] not in {k["id"] for k in listed} and {k["environment"] for k in listed} == {"test"}
    assert sandbox.delete(f"/v1/api-keys/{owner['key']}").status_code == 404
    minted = sandbox.post("/v1/api-keys", {"name": "up", "scopes": ["read"], "environment": "live"})
    assert minted.status_code == 403 and minted.json()["error"]["code"] == "FORBIDDEN"
    own = sandbox.post("/v1/api-keys", {"name": "own", "scopes": ["read"]})
    assert own.status_code == 201 and own.json()["data"]["environment"] == "test"
    everything = {k["id"] for k in owner["user"].get("/v1/api-keys", limit=1000).json()["data"]}
    assert {owner["key"], own.json()["data"]["id"]} <= everything


def assert_like_nonexistent(owner, intruder, method, path, body, kind):
    foreign = owner[kind]
    answer = send(intruder, method, path, body, foreign)
    missing = send(intruder, method, path, body, unknown_like(foreign))
    assert answer.status_code == 404, answer.text
    assert normalized(answer, foreign) == normalized(missing, unknown_like(foreign))
    assert answer.json()["error"]["code"].endswith("NOT_FOUND")


def test_nothing_of_the_owner_changed_and_lists_show_nothing_foreign(owner, intruder):
    user = owner["user"]
    anomaly = user.get(f"/v1/anomalies/{owner['anomaly']}").json()["data"]
    assert anomaly["status"] == "active" and anomaly["events"] == []
    rule = user.get(f"/v1/anomalies/rules/{owner['rule']}").json()["data"]
    assert rule["enabled"] is True
    config = user.get(f"/v1/metrics/{owner['metric']}/anomaly_config").json()["data"]
    assert config["overrides"] == {}
    keys = {k["id"]: k for k in user.get("/v1/api-keys").json()["data"]}
    assert keys[owner["key"]]["revoked_at"] is None
    for path, field in (
        ("/v1/anomalies", "id"),
        ("/v1/anomalies/rules", "id"),
        ("/v1/metrics", "id"),
    ):
        seen = {item[field] for item in intruder.get(path, limit=1000).json()["data"]}
        assert not seen & {owner["anomaly"], owner["rule"], owner["metric"]}, path
    assert intruder.get("/v1/anomalies/stats").json()["data"]["by_metric"].get("iso.m") is None
    assert intruder.get("/v1/anomalies", metric="iso.m").json()["meta"]["total"] == 0


def test_names_are_per_account_and_environment(owner, intruder):
    by_name = intruder.post("/v1/forecast", {"metric": "iso.m", "horizon": "3h"})
    assert by_name.status_code == 404 and by_name.json()["error"]["code"] == "METRIC_NOT_FOUND"
    # The intruder's own rule of the same name does not conflict with the owner's, nor fire on it.
    create_rule(intruder, "iso-rule", "iso.m", "less_than", 0, "info")
    user = owner["user"]
    after = user.post("/v1/ingest", {"metric": "iso.m", "value": -1.0, "timestamp": time.time() - 5})
    assert after.status_code == 200 and after.json()["anomaly_id"] is None
    assert [r["name"] for r in user.get("/v1/anomalies/rules").json()["data"]] == ["iso-rule"]

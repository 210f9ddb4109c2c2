"""`POST|GET|DELETE /v1/api-keys` end to end: the key shown once, listing without it, revocation,
expiry, scopes and account isolation."""
from __future__ import annotations

import time

import pytest
import requests

from tests.hardening.conftest import assert_clean

pytestmark = pytest.mark.e2e


def iso(offset: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + offset))


def create(system, api, **body) -> requests.Response:
    return api.post(f"{system.base_url}/v1/api-keys", json=body, timeout=10)


def listed(system, api) -> list[dict]:
    answer = api.get(f"{system.base_url}/v1/api-keys", params={"limit": 1000}, timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()["data"]


def test_creation_shows_the_full_key_once_with_its_prefix(system, api):
    answer = create(system, api, name="ci", scopes=["ingest", "read"], environment="test")
    assert answer.status_code == 201, answer.text
    data = answer.json()["data"]
    assert data["key"].startswith("aw_test_") and len(data["key"]) == len("aw_test_") + 32
    assert data["prefix"] == data["key"][:12]
    assert data["id"].startswith("key_") and data["name"] == "ci"
    assert sorted(data["scopes"]) == ["ingest", "read"] and data["environment"] == "test"
    assert data["revoked_at"] is None and data["expires_at"] is None and data["created_at"].endswith("Z")
    # The new key works, in its environment, with its scopes.
    works = system.session(data["key"]).get(f"{system.base_url}/v1/metrics", timeout=10)
    assert works.status_code == 200
    # The list shows its prefix and metadata, never the key.
    answer = api.get(f"{system.base_url}/v1/api-keys", params={"limit": 1000}, timeout=10)
    assert data["key"] not in answer.text and data["key"][12:] not in answer.text
    entry = next(k for k in answer.json()["data"] if k["id"] == data["id"])
    assert "key" not in entry and entry["prefix"] == data["prefix"]
    assert answer.json()["pagination"]["total"] >= 2


def test_environment_defaults_to_the_callers(system, api):
    answer = create(system, api, scopes=["read"])
    assert answer.status_code == 201 and answer.json()["data"]["key"].startswith("aw_live_")


def test_revoked_keys_stay_listed_with_revoked_at_and_are_refused(system, api):
    data = create(system, api, name="to revoke", scopes=["read"]).json()["data"]
    assert system.session(data["key"]).get(f"{system.base_url}/v1/metrics", timeout=10).status_code == 200
    answer = api.delete(f"{system.base_url}/v1/api-keys/{data['id']}", timeout=10)
    assert answer.status_code == 204 and answer.content == b""
    time.sleep(1.0)  # refused everywhere within 1 s
    refused = system.session(data["key"]).get(f"{system.base_url}/v1/metrics", timeout=10)
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "UNAUTHORIZED"
    entry = next(k for k in listed(system, api) if k["id"] == data["id"])
    assert entry["revoked_at"] is not None and entry["revoked_at"].endswith("Z")
    # Revoking again changes nothing.
    assert api.delete(f"{system.base_url}/v1/api-keys/{data['id']}", timeout=10).status_code == 204


def test_expires_at_in_the_past_is_400(system, api):
    answer = create(system, api, scopes=["read"], expires_at=iso(-60))
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["code"] == "VALIDATION_ERROR" and error["details"]["field"] == "expires_at"


@pytest.mark.parametrize("body", [
    {"scopes": "read"}, {"scopes": []}, {"scopes": ["superuser"]},
    {"scopes": ["read"], "environment": "prod"},
    {"scopes": ["read"], "expires_at": "tomorrow"}, {"scopes": ["read"], "colour": "red"},
    {"scopes": ["read"], "name": 5}, {"scopes": ["read"], "name": "x" * 256},
])
def test_invalid_creations_are_400(system, api, body):
    answer = create(system, api, **body)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["code"] == "VALIDATION_ERROR"
    assert_clean(answer, system)


def test_an_expired_key_is_401(system, api):
    data = create(system, api, name="short-lived", scopes=["read"], expires_at=iso(3)).json()["data"]
    assert data["expires_at"] is not None
    session = system.session(data["key"])
    assert session.get(f"{system.base_url}/v1/metrics", timeout=10).status_code == 200
    deadline = time.time() + 3 + 1.0 + 1.0  # expiry (whole seconds) + the 1 s refusal bound
    while time.time() < deadline:
        answer = session.get(f"{system.base_url}/v1/metrics", timeout=10)
        if answer.status_code == 401:
            break
        assert answer.status_code == 200
        time.sleep(0.2)
    assert answer.status_code == 401 and answer.json()["error"]["code"] == "UNAUTHORIZED"


def test_another_accounts_key_is_not_found(system, api):
    _, other_admin = system.new_key(scopes="admin,read")
    other = system.session(other_admin)
    theirs = other.post(f"{system.base_url}/v1/api-keys", json={"scopes": ["read"]},
                        timeout=10).json()["data"]
    answer = api.delete(f"{system.base_url}/v1/api-keys/{theirs['id']}", timeout=10)
    assert answer.status_code == 404 and answer.json()["error"]["code"] == "KEY_NOT_FOUND"
    unknown = api.delete(f"{system.base_url}/v1/api-keys/key_doesnotexist", timeout=10)
    assert unknown.status_code == 404 and unknown.json()["error"] == {**unknown.json()["error"],
                                                                      "code": "KEY_NOT_FOUND"}
    # ...and their key still works, and our list does not show it.
    assert system.session(theirs["key"]).get(f"{system.base_url}/v1/metrics", timeout=10).status_code == 200
    assert theirs["id"] not in [k["id"] for k in listed(system, api)]


def test_without_the_admin_scope_every_key_route_is_403(system, admin):
    _, reader = system.new_key(scopes="ingest,read,write,forecast", account=admin[0])
    session = system.session(reader)
    for method, path, body in (("POST", "/v1/api-keys", {"scopes": ["read"]}), ("GET", "/v1/api-keys", None),
                               ("DELETE", "/v1/api-keys/key_x", None)):
        answer = session.request(method, f"{system.base_url}{path}", json=body, timeout=10)
        assert answer.status_code == 403, (method, path, answer.text)
        error = answer.json()["error"]
        assert error["code"] == "FORBIDDEN" and error["details"]["required_scope"] == "admin"
        assert answer.headers["X-RateLimit-Limit"] == "10000"  # a valid key: headers even on a 403


def test_without_a_key_every_key_route_is_401(system):
    for method, path in (("POST", "/v1/api-keys"), ("GET", "/v1/api-keys"), ("DELETE", "/v1/api-keys/key_x")):
        answer = requests.request(method, f"{system.base_url}{path}", json={"scopes": ["read"]}, timeout=10)
        assert answer.status_code in (401, 429), answer.text
        assert answer.json()["error"]["code"] in ("UNAUTHORIZED", "RATE_LIMITED")

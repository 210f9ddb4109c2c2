"""Regression tests for what the fuzzing found, each against the running system and validated
against the document."""

from __future__ import annotations

import time

import pytest

from gateway.openapi import document
from tests.openapi.contract import Contract

pytestmark = [pytest.mark.e2e]


@pytest.fixture(scope="module")
def contract() -> Contract:
    return Contract()


@pytest.fixture
def api(system, admin_key):
    return system.session(admin_key)


@pytest.mark.parametrize(
    "body",
    [
        {"scopes": ["read"], "environment": {}},
        {"scopes": ["read"], "environment": ""},
        {"scopes": ["read"], "environment": 0},
        {"scopes": ["read"], "name": 0},
        {"scopes": ["read"], "name": []},
    ],
)
def test_a_key_field_of_the_wrong_type_is_400_not_a_default(system, api, contract, body):
    """Found: `{"environment": {}}` (or "" or 0) created a key in the caller's environment, and a
    falsy `name` of any type became ""."""
    answer = api.post(f"{system.base_url}/v1/api-keys", json=body, timeout=10)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["details"]["field"] in ("environment", "name")
    contract.check(answer)


def test_null_key_fields_still_mean_the_defaults(system, api, contract):
    answer = api.post(
        f"{system.base_url}/v1/api-keys",
        json={"scopes": ["read"], "environment": None, "name": None},
        timeout=10,
    )
    assert answer.status_code == 201, answer.text
    assert contract.check(answer)["data"]["environment"] == "live"


def _empty_value_cases():
    for path, item in document()["paths"].items():
        for method, op in item.items():
            for parameter in op.get("parameters", []):
                if "$ref" in parameter:
                    parameter = document()["components"]["parameters"][parameter["$ref"].rsplit("/", 1)[-1]]
                if parameter["in"] == "query":
                    yield pytest.param(
                        path,
                        method,
                        parameter["name"],
                        parameter["allowEmptyValue"],
                        id=f"{method} {path} {parameter['name']}",
                    )


@pytest.mark.parametrize("path, method, name, empty_is_absent", list(_empty_value_cases()))
def test_an_empty_query_value_is_absent_exactly_where_documented(
    system, api, contract, path, method, name, empty_is_absent
):
    """Found: `?to=` answered 200 where the document allowed only a date-time; the gateway reads
    an empty value as absent, which the document now says (`allowEmptyValue`), and where it does not
    (points' `limit`) the answer is 400."""
    metric_id = api.post(
        f"{system.base_url}/v1/ingest",
        json={"metric": "fz.empty", "value": 1, "timestamp": time.time()},
        timeout=30,
    ).json()["metric_id"]
    concrete = path.replace("{metric_id}", metric_id)
    answer = api.request(method, f"{system.base_url}{concrete}", params={name: ""}, timeout=10)
    assert (answer.status_code < 300) if empty_is_absent else (answer.status_code == 400), answer.text
    contract.check(answer)


def test_a_config_name_no_metric_can_have_is_a_documented_404(system, api, contract):
    """Found: a name with a newline does not match Flask's `path` converter, so the answer is the
    unknown-route 404 `NOT_FOUND`, which the document listed only as METRIC_NOT_FOUND."""
    for method in ("get", "put"):
        answer = api.request(
            method, f"{system.base_url}/v1/metrics/a%0Ab/anomaly_config", json={}, timeout=10
        )
        assert answer.status_code == 404 and answer.json()["error"]["code"] == "NOT_FOUND"
        contract.check(answer)


def test_a_batch_of_only_invalid_points_is_207_with_each_rejected(system, api, contract):
    """Found: schemathesis expects a 4xx for a batch holding an invalid point; the contract answers
    207 with a result per point (400 only for an unusable body), as the document says."""
    body = {
        "points": [
            {"metric": "fz.batch", "value": 1, "timestamp": time.time(), "unknown": 1},
            {"metric": "bad name", "value": 1, "timestamp": time.time()},
        ]
    }
    answer = api.post(f"{system.base_url}/v1/ingest", json=body, timeout=30)
    assert answer.status_code == 207
    result = contract.check(answer)
    assert result["status"] == "rejected" and [r["status"] for r in result["results"]] == [400, 400]


NUL_REQUESTS = [
    ("get", "/v1/metrics?name=a%00b", None),
    ("get", "/v1/metrics?tag.host=a%00b", None),
    ("get", "/v1/metrics?tag.a%00b=x", None),
    ("get", "/v1/anomalies?tag.host=a%00b", None),
    ("get", "/v1/metrics/met_%00", None),
    ("get", "/v1/metrics/met_%00/points", None),
    ("get", "/v1/metrics/a%00b/anomaly_config", None),
    ("put", "/v1/metrics/a%00b/anomaly_config", {"enabled": True}),
    ("delete", "/v1/api-keys/key_%00", None),
    ("post", "/v1/api-keys", {"scopes": ["read"], "name": "a\x00b"}),
    ("post", "/v1/ingest", {"metric": "fz.nul", "value": 1, "tags": {"host": "a\x00b"}}),
    ("post", "/v1/ingest", {"metric": "fz.nul", "value": 1, "tags": {"a\x00b": "x"}}),
    ("post", "/v1/ingest", {"metric": "fz.nul", "value": 1, "source": "a\x00b"}),
]


@pytest.mark.parametrize("method, path, body", NUL_REQUESTS, ids=[f"{m} {p}" for m, p, _ in NUL_REQUESTS])
def test_a_nul_character_is_a_400_naming_the_field(system, api, contract, method, path, body):
    """Found on PostgreSQL (which refuses NUL in text): each of these was a 500 (a NUL source was
    accepted)."""
    if body is not None and "metric" in body:
        body = {**body, "timestamp": time.time()}
    answer = api.request(method, f"{system.base_url}{path}", json=body, timeout=30)
    assert answer.status_code == 400, answer.text
    contract.check(answer)


def test_a_padded_comparison_window_is_stored_stripped_and_an_overlong_one_is_400(system, api, contract):
    """Found on PostgreSQL: a valid duration padded with whitespace past the column's 16
    characters (`" \\n\\v 40710.49\\r\\t\\n..."`) was a 500 (value too long for varchar(16))."""
    url = f"{system.base_url}/v1/metrics/fz.window/anomaly_config"
    padded = api.put(
        url, json={"comparison_window": " \n\u000b \f24h\r\t\n\t\f\r\u000b\n\u000b\n   "}, timeout=10
    )
    assert padded.status_code == 200, padded.text
    assert contract.check(padded)["data"]["comparison_window"] == "24h"
    overlong = api.put(url, json={"comparison_window": "00000000000000000024h"}, timeout=10)
    assert overlong.status_code == 400 and overlong.json()["error"]["details"]["field"] == "comparison_window"
    contract.check(overlong)

"""Where the running gateway and its OpenAPI document (and API.md) disagreed, as schemathesis found:
each test pins the side API.md says is right."""
from __future__ import annotations

import pytest

from gateway.openapi import document
from tests.openapi.contract import Contract

FLUX = "/flux/metric_data_post"


@pytest.fixture(scope="module")
def client():
    from gateway.app import create_app

    return create_app().test_client()  # the gRPC channels are lazy: routing needs none of them


@pytest.mark.parametrize("method", ["get", "put", "patch", "delete"])
def test_a_wrong_method_on_flux_is_405_in_anomifys_shape_with_allow(client, method):
    answer = getattr(client, method)(FLUX)
    assert answer.status_code == 405
    assert answer.get_json() == {"code": 405, "message": "method not allowed on this endpoint"}
    assert "POST" in answer.headers["Allow"]
    assert Contract().schema_validator(document()["components"]["schemas"]["FluxError"]).is_valid(
        answer.get_json())


def test_a_wrong_method_elsewhere_stays_in_the_envelope(client):
    answer = client.get("/v1/ingest")
    assert answer.status_code == 405
    assert answer.get_json()["error"]["code"] == "METHOD_NOT_ALLOWED"


def _server_takes_test_only(app, value: str) -> bool:
    from gateway.routes.ingest import is_test_only
    from services.common.errors import ServiceError

    with app.test_request_context("/v1/ingest", method="POST", headers={"X-Test-Only": value}):
        try:
            is_test_only()
        except ServiceError:
            return False
        return True


@pytest.mark.parametrize("path", ["/v1/ingest", FLUX])
def test_the_documented_x_test_only_values_are_the_ones_the_server_takes(client, path):
    header = next(p for p in document()["paths"][path]["post"]["parameters"] if p["name"] == "X-Test-Only")
    validator = Contract().schema_validator(header["schema"])
    for value in ("true", "TRUE", "Yes", "1", "false", "No", "0", "", "on", "ture", "truefalse", "2"):
        assert validator.is_valid(value) == _server_takes_test_only(client.application, value), value



def _request_schema(operation: dict, where: str, name: str | None = None) -> dict:
    if where == "body":
        return operation["requestBody"]["content"]["application/json"]["schema"]
    doc = document()
    params = [doc["components"]["parameters"][p["$ref"].rsplit("/", 1)[1]] if "$ref" in p else p
              for p in operation["parameters"]]
    return next(p["schema"] for p in params if p["name"] == name)


RULE = {"name": "oas.rule", "condition": {"metric": "oas.m", "operator": "greater_than", "threshold": 1}}
# Requests the gateway refuses with 400 although the document declared them valid.
REFUSED = [
    ("post", "/v1/anomalies/rules", "body", None, {**RULE, "name": "nul\u0000name"}),
    ("post", "/v1/anomalies/rules", "body", None,
     {**RULE, "condition": {**RULE["condition"], "metric": "\u00ea"}}),
    ("post", "/v1/anomalies/rules", "body", None, {**RULE, "scope": {"tags": {"": "x"}}}),
    ("patch", "/v1/anomalies/rules/{rule_id}", "body", None, {"description": "a\u0000"}),
    ("post", "/v1/anomalies/{anomaly_id}/acknowledge", "body", None, {"note": "a\u0000b"}),
    ("post", "/v1/anomalies/{anomaly_id}/resolve", "body", None, {"note": "\u0000", "root_cause": "bug"}),
    ("post", "/v1/forecast", "body", None, {"metric": "oas.m", "horizon": "0"}),
    ("post", "/v1/forecast", "body", None, {"metric": "oas.m", "horizon": "00"}),
    ("post", "/v1/api-keys", "body", None, {"scopes": ["read"], "expires_at": ""}),
    ("get", "/v1/metrics", "query", "name", "a\u0000"),
    ("get", "/v1/anomalies", "query", "metric", "a\u0000"),
    ("get", "/v1/metrics/{name_or_id}/anomaly_config", "path", "name_or_id", "\u00f1\u00e9"),
    ("get", "/v1/anomalies/{anomaly_id}", "path", "anomaly_id", "anom_\u0000"),
]


@pytest.mark.e2e
@pytest.mark.parametrize(("method", "template", "where", "name", "value"), REFUSED)
def test_what_the_gateway_refuses_the_document_does_not_declare_valid(system, api, method, template, where,
                                                                       name, value):
    from urllib.parse import quote

    operation = document()["paths"][template][method]
    path = template.replace("{rule_id}", "rule_none").replace("{anomaly_id}", "anom_none")
    if where == "path":
        path = template.replace("{" + name + "}", quote(value, safe=""))
    answer = api.request(method, f"{system.base_url}{path}", timeout=30,
                         json=value if where == "body" else None,
                         params={name: value} if where == "query" else None)
    assert answer.status_code == 400, answer.text
    schema = _request_schema(operation, where, name)
    assert not Contract().schema_validator(schema).is_valid(value), (template, value, answer.text)


@pytest.mark.e2e
def test_page_has_one_documented_bound_whatever_the_limit(system, api):
    from gateway.request_io import MAX_PAGE

    schema = _request_schema(document()["paths"]["/v1/api-keys"]["get"], "query", "page")
    validator = Contract().schema_validator(schema)
    url = f"{system.base_url}/v1/api-keys"
    for limit in ("1", "1000"):  # the last page is taken at the smallest limit and the largest
        answer = api.get(url, params={"page": MAX_PAGE, "limit": limit}, timeout=10)
        assert (answer.status_code, validator.is_valid(MAX_PAGE)) == (200, True), answer.text
    answer = api.get(url, params={"page": MAX_PAGE + 1, "limit": "1"}, timeout=10)
    assert (answer.status_code, validator.is_valid(MAX_PAGE + 1)) == (400, False), answer.text

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


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

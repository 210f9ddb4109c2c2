"""Every endpoint that reads query parameters refuses one it does not know (a typo such as
`?stauts=active` must not silently widen the answer), in the envelope, naming it."""
from __future__ import annotations

import time

import pytest

pytestmark = pytest.mark.e2e

LISTS = ["/v1/anomalies", "/v1/anomalies/stats", "/v1/anomalies/summary", "/v1/anomalies/rules",
         "/v1/metrics", "/v1/api-keys", "/v1/ingest/test"]


@pytest.mark.parametrize("path", LISTS)
def test_an_unknown_query_parameter_is_400_naming_it(system, api, path):
    answer = api.get(f"{system.base_url}{path}", params={"stauts": "active"}, timeout=10)
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert error["code"] == "VALIDATION_ERROR" and error["details"]["field"] == "stauts"


def test_points_refuse_unknown_parameters_and_take_their_own(system, api):
    answer = api.post(f"{system.base_url}/v1/ingest", json={"metric": "qp.m", "value": 1,
                                                            "timestamp": time.time() - 1}, timeout=10)
    assert answer.status_code == 200, answer.text
    points = f"{system.base_url}/v1/metrics/{answer.json()['metric_id']}/points"
    assert api.get(points, params={"from": "2020-01-01", "to": "2100-01-01", "limit": 5}, timeout=10).ok
    wrong = api.get(points, params={"offset": 5}, timeout=10)
    assert wrong.status_code == 400 and wrong.json()["error"]["details"]["field"] == "offset"


@pytest.mark.parametrize("path", ["/v1/metrics", "/v1/anomalies"])
def test_more_tag_filters_than_a_series_can_carry_are_400(system, api, path):
    def tags(n: int) -> dict[str, str]:
        return {f"tag.k{i}": "v" for i in range(n)}

    assert api.get(f"{system.base_url}{path}", params=tags(32), timeout=10).status_code == 200
    refused = api.get(f"{system.base_url}{path}", params=tags(33), timeout=10)
    assert refused.status_code == 400 and refused.json()["error"]["details"]["field"] == "tag"


@pytest.mark.parametrize("path", ["points", "anomalies"])
def test_a_window_from_after_to_is_400_naming_from_on_points_as_on_anomalies(system, api, path):
    answer = api.post(f"{system.base_url}/v1/ingest", json={"metric": "qp.window", "value": 1,
                                                            "timestamp": time.time() - 1}, timeout=10)
    assert answer.status_code == 200, answer.text
    url = (f"{system.base_url}/v1/metrics/{answer.json()['metric_id']}/points" if path == "points"
           else f"{system.base_url}/v1/anomalies")
    refused = api.get(url, params={"from": "2030-01-02", "to": "2030-01-01"}, timeout=10)
    assert refused.status_code == 400, refused.text
    assert refused.json()["error"]["details"]["field"] == "from"
    assert api.get(url, params={"from": "2030-01-01", "to": "2030-01-01"}, timeout=10).status_code == 200

"""The SDK against answers a proxy or a broken middlebox can give: every failure is one of the
SDK's own exceptions (AnomalyWatchError), never a JSON decoding or arithmetic error."""
from __future__ import annotations

import anomalywatch_sdk as sdk
import pytest

from tests.sdk.test_transport import make_client, server  # noqa: F401 - the scripted server fixture


@pytest.mark.parametrize("body", [b"<html><body>It works!</body></html>", b'{"data": {"id": "met_1"',
                                  b"\xff\xfe"])
def test_a_successful_status_with_a_body_that_is_not_json_is_an_sdk_error(server, body):  # noqa: F811
    url, script = server
    script.answers = [(200, {}, body, 0)]
    client, _ = make_client(url, max_retries=0)
    with pytest.raises(sdk.InvalidResponseError) as caught:
        client.metrics.get("met_1")
    assert isinstance(caught.value, sdk.AnomalyWatchError) and caught.value.status == 200
    assert "not JSON" in str(caught.value)


@pytest.mark.parametrize("value", ["inf", "1e400", "-inf", "nan", "many"])
def test_rate_limit_headers_that_are_not_integers_are_ignored(server, value):  # noqa: F811
    url, script = server
    script.answers = [(200, {"X-RateLimit-Limit": value, "X-RateLimit-Remaining": "7"}, {"data": {}}, 0)]
    client, _ = make_client(url, max_retries=0)
    assert client.metrics.get("met_1") == {}
    assert client.last_rate_limit.limit is None and client.last_rate_limit.remaining == 7


@pytest.mark.parametrize("status", [502, 504])
def test_a_proxys_bad_gateway_or_timeout_is_retried_for_an_idempotent_request(server, status):  # noqa: F811
    url, script = server
    script.answers = [(status, {}, b"<html>proxy</html>", 0), (200, {}, {"data": {"id": "met_1"}}, 0)]
    client, sleeps = make_client(url, max_retries=2)
    assert client.metrics.get("met_1") == {"id": "met_1"}
    assert len(script.requests) == 2 and len(sleeps) == 1


@pytest.mark.parametrize("status", [502, 504])
def test_a_proxys_bad_gateway_is_not_resent_for_a_request_that_is_not_idempotent(server, status):  # noqa: F811
    """An acknowledge may have been carried out behind the proxy: it is not sent twice."""
    url, script = server
    script.answers = [(status, {}, b"<html>proxy</html>", 0), (200, {}, {"data": {}}, 0)]
    client, sleeps = make_client(url, max_retries=2)
    with pytest.raises(sdk.ApiError) as caught:
        client.anomalies.acknowledge("anom_1")
    assert caught.value.status == status and len(script.requests) == 1 and sleeps == []

"""The SDK where a mistake would act twice, crash outside its own errors or leak the key: a 503 is
not resent for a request a repeat could double, a list answer of the wrong shape is the SDK's own
error, and a key is checked before it goes into a header."""
from __future__ import annotations

import anomalywatch_sdk as sdk
import pytest
from anomalywatch_sdk import Client

from tests.sdk.test_transport import KEY, envelope, make_client, server  # noqa: F401 - the scripted server


@pytest.mark.parametrize("call", [
    lambda c: c.api_keys.create(["read"], name="ci"),
    lambda c: c.anomalies.resolve("anom_1", root_cause="bug"),
    lambda c: c.rules.create("slow", {"metric": "m", "operator": "greater_than", "threshold": 1}),
], ids=["create key", "resolve", "create rule"])
def test_a_503_is_not_resent_for_a_request_a_repeat_could_double(server, call):  # noqa: F811
    """The gateway answers 503 also when a service behind it timed out after committing: sent
    again, a key would be made twice, or a resolve that worked would come back 409."""
    url, script = server
    script.answers = [(503, {"Retry-After": "1"}, envelope("UNAVAILABLE"), 0), (201, {}, {"data": {}}, 0)]
    client, sleeps = make_client(url, max_retries=3)
    with pytest.raises(sdk.UnavailableError):
        call(client)
    assert len(script.requests) == 1 and sleeps == []


def test_a_503_is_resent_for_an_idempotent_request_and_a_429_for_any(server):  # noqa: F811
    url, script = server
    script.answers = [(503, {"Retry-After": "1"}, envelope("UNAVAILABLE"), 0), (204, {}, None, 0)]
    client, sleeps = make_client(url, max_retries=3)
    client.api_keys.revoke("key_1")
    assert [r[0] for r in script.requests] == ["DELETE", "DELETE"] and len(sleeps) == 1
    script.requests.clear()
    script.answers = [(429, {"Retry-After": "1"}, envelope("RATE_LIMITED"), 0), (201, {}, {"data": {}}, 0)]
    client.api_keys.create(["read"])
    assert [r[0] for r in script.requests] == ["POST", "POST"] and len(sleeps) == 2


@pytest.mark.parametrize("body", [{"keys": []}, [], None, {"data": {"id": "key_1"}, "pagination": {}},
                                  {"data": [], "pagination": 5}, {"data": None, "pagination": {}}])
def test_a_list_answer_of_the_wrong_shape_is_an_invalid_response(server, body):  # noqa: F811
    url, script = server
    script.answers = [(200, {}, body if body is not None else b"null", 0)]
    client, _ = make_client(url, max_retries=0)
    with pytest.raises(sdk.InvalidResponseError) as caught:
        client.api_keys.page()
    assert caught.value.status == 200
    with pytest.raises(sdk.InvalidResponseError):
        list(client.api_keys.list())


def test_a_key_read_from_a_file_is_sent_without_its_newline(server):  # noqa: F811
    url, script = server
    script.answers = [(200, {}, {"data": [], "pagination": {"total": 0, "limit": 50, "offset": 0,
                                                               "has_more": False}}, 0)]
    client = Client(f"  {KEY}\n", base_url=url, max_retries=0)
    client.api_keys.page()
    assert script.requests[0][2]["Authorization"] == f"Bearer {KEY}"


@pytest.mark.parametrize("key", [KEY[:10] + "\n" + KEY[10:], KEY[:10] + " " + KEY[10:], KEY + "\x00",
                                 KEY[:-1] + "é", "", "  \n", None, 5])
def test_a_key_no_header_can_carry_is_refused_without_echoing_it(key):
    with pytest.raises(ValueError) as caught:
        Client(key)
    assert "k" * 8 not in str(caught.value)

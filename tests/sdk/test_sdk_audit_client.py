"""The SDK as a user meets it, against the scripted loopback server: bodies JSON cannot carry are
refused before anything is sent, a server that trickles its answer cannot hold a call past its
timeout, names that are path dot-segments reach their own resource, and list helpers see every page."""
from __future__ import annotations

import decimal
import json

import anomalywatch_sdk as sdk
import pytest

from tests.sdk.test_transport import make_client, server  # noqa: F401 - the scripted server fixture


@pytest.mark.parametrize(("call", "where"), [
    (lambda c: c.ingest.point("m", float("nan"), timestamp=1), "value"),
    (lambda c: c.ingest.point("m", 1.0, timestamp=float("inf")), "timestamp"),
    (lambda c: c.ingest.batch([{"metric": "m", "value": 1, "timestamp": 1},
                               {"metric": "m", "value": float("-inf"), "timestamp": 2}]), "points[1].value"),
    (lambda c: c.rules.create("r", {"metric": "m", "operator": "greater_than", "threshold": float("nan")}),
     "condition.threshold"),
    (lambda c: c.metrics.put_anomaly_config("m", spike_threshold=float("inf")), "spike_threshold"),
], ids=["point value", "point timestamp", "batch", "rule", "config"])
def test_a_nan_or_infinity_is_a_value_error_naming_the_field_and_nothing_is_sent(server, call, where):  # noqa: F811
    """It was a TransportError after max_retries sleeps: requests refused the body inside the send
    and the retry loop took that for a lost connection."""
    url, script = server
    client, sleeps = make_client(url, max_retries=3)
    with pytest.raises(ValueError) as caught:
        call(client)
    assert not isinstance(caught.value, sdk.AnomalyWatchError)
    assert f"{where} is " in str(caught.value) and "finite" in str(caught.value)
    assert script.requests == [] and sleeps == []


def test_a_value_json_cannot_carry_is_a_type_error_and_nothing_is_sent(server):  # noqa: F811
    url, script = server
    client, sleeps = make_client(url, max_retries=3)
    with pytest.raises(TypeError) as caught:
        client.ingest.point("m", decimal.Decimal("1.5"), timestamp=1)
    assert "Decimal" in str(caught.value)
    assert script.requests == [] and sleeps == []


def test_a_finite_body_is_sent_as_json(server):  # noqa: F811
    url, script = server
    script.answers = [(200, {}, {"status": "ingested"}, 0)]
    client, _ = make_client(url, max_retries=0)
    client.ingest.point("métrique", 1.5, timestamp=7, tags={"host": "wéb"})
    _, _, headers, body = script.requests[0]
    assert headers["Content-Type"] == "application/json"
    assert json.loads(body) == {"metric": "métrique", "value": 1.5, "timestamp": 7, "tags": {"host": "wéb"}}

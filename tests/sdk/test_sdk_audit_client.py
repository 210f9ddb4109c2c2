"""The SDK as a user meets it, against the scripted loopback server: bodies JSON cannot carry are
refused before anything is sent, a server that trickles its answer cannot hold a call past its
timeout, names that are path dot-segments reach their own resource, and list helpers see every page."""
from __future__ import annotations

import decimal
import json
import socket
import threading

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


@pytest.fixture
def trickler():
    """A loopback server that answers one byte every 50 ms: the status line and then headers
    without end ("headers"), or headers and then a body of 100,000 bytes ("body"). Each socket read
    gets a byte well within any timeout, so only a deadline on the whole answer ends the call."""
    stop = threading.Event()
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    mode = {"value": "body"}

    def answer(connection):
        with connection:
            try:
                connection.recv(65536)
                if mode["value"] == "body":
                    connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                       b"Content-Length: 100000\r\n\r\n")
                    chunk = b" "
                else:
                    connection.sendall(b"HTTP/1.1 200 OK\r\n")
                    chunk = b"X-Slow: 1\r\n"
                while not stop.wait(0.05):
                    connection.sendall(chunk)
            except OSError:
                pass  # the client gave up and hung up

    def serve():
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=answer, args=(connection,), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}", mode
    stop.set()
    listener.close()


@pytest.mark.parametrize("part", ["headers", "body"])
def test_a_server_that_trickles_its_answer_cannot_hold_a_call_past_its_timeout(trickler, part):
    """`timeout` was handed to requests, which bounds each socket read alone: a byte every 50 ms
    held the call for as long as the server went on (here: until the test's bounded wait gave up)."""
    url, mode = trickler
    mode["value"] = part
    client = sdk.Client("aw_live_" + "k" * 32, base_url=url, timeout=0.5, max_retries=1, sleep=lambda s: None)
    outcome: list[BaseException] = []

    def call():
        try:
            client.metrics.get("met_1")
        except BaseException as error:  # noqa: B036 - handed to the test thread
            outcome.append(error)

    worker = threading.Thread(target=call, daemon=True)
    worker.start()
    worker.join(15)
    assert not worker.is_alive(), "the call is still reading the trickle"
    assert len(outcome) == 1 and isinstance(outcome[0], sdk.RequestTimeout), outcome
    client.close()


def test_a_kept_alive_connection_is_reused_after_the_deadline_checks():
    """Each read's shortened socket timeout is put back: the next request on the connection is sent
    and read as usual."""
    accepted = []
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    body = b'{"data": {"id": "met_1"}}'

    def serve():
        connection, _ = listener.accept()
        accepted.append(connection)
        with connection:
            for _ in range(3):
                request = b""
                while b"\r\n\r\n" not in request:
                    request += connection.recv(65536)
                connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                   b"Content-Length: %d\r\n\r\n%s" % (len(body), body))

    worker = threading.Thread(target=serve, daemon=True)
    worker.start()
    with sdk.Client("aw_live_" + "k" * 32, base_url=f"http://127.0.0.1:{listener.getsockname()[1]}",
                    timeout=5, max_retries=0) as client:
        for _ in range(3):
            assert client.metrics.get("met_1") == {"id": "met_1"}
    worker.join(10)
    listener.close()
    assert len(accepted) == 1


@pytest.mark.parametrize(("name", "path"), [
    ("..", "/v1/metrics/%2E%2E/anomaly_config"), (".", "/v1/metrics/%2E/anomaly_config"),
    ("...", "/v1/metrics/.../anomaly_config"), ("a/../b", "/v1/metrics/a%2F..%2Fb/anomaly_config"),
    ("100% a", "/v1/metrics/100%25%20a/anomaly_config"),
    ("métrique", "/v1/metrics/m%C3%A9trique/anomaly_config"),
])
def test_a_name_is_one_path_segment_even_when_it_is_all_dots(server, name, path):  # noqa: F811
    url, script = server
    script.answers = [(200, {}, {"data": {}}, 0)]
    client, _ = make_client(url, max_retries=0)
    client.metrics.put_anomaly_config(name, sensitivity="high")
    client.metrics.get_anomaly_config(name)
    assert [(r[0], r[1]) for r in script.requests] == [("PUT", path), ("GET", path)]
    script.answers = [(200, {}, {"data": [], "pagination": {"has_more": False}}, 0)]
    client.metrics.page(name="..", tags={"a b": "c/d"})
    assert script.requests[-1][1] == "/v1/metrics?name=..&tag.a+b=c%2Fd"

"""The SDK's HTTP behaviour against a scripted loopback HTTP server: typed exceptions from the
envelope, retries with backoff on 429/503 that respect Retry-After, no retry where a resend is
unsafe or pointless, timeouts and connection failures."""
from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import anomalywatch_sdk as sdk
import pytest
from anomalywatch_sdk import Client

KEY = "aw_live_" + "k" * 32


class Script:
    """Answers in order: (status, headers, body or None, delay seconds); repeats the last one."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.requests: list[tuple[str, str, dict, bytes]] = []


@pytest.fixture
def server():
    script = Script((200, {}, {"ok": True}, 0))

    class Handler(BaseHTTPRequestHandler):
        def _answer(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            script.requests.append((self.command, self.path, dict(self.headers), body))
            index = min(len(script.requests) - 1, len(script.answers) - 1)
            status, headers, payload, delay = script.answers[index]
            if delay:
                time.sleep(delay)
            data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
            data = b"" if payload is None else data
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _answer

        def log_message(self, *args):
            pass

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        block_on_close = False

        def handle_error(self, request, client_address):
            pass  # a client that timed out and hung up

    httpd = Server(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", script
    httpd.shutdown()
    httpd.server_close()


def make_client(base_url: str, **kwargs):
    sleeps: list[float] = []
    client = Client(KEY, base_url=base_url, sleep=sleeps.append, **kwargs)
    return client, sleeps


def envelope(code: str, message: str = "m", details: dict | None = None) -> dict:
    return {"error": {"code": code, "message": message, "details": details or {}}}


@pytest.mark.parametrize(("status", "code", "cls"), [
    (400, "VALIDATION_ERROR", sdk.ValidationError), (400, "INVALID_THRESHOLD", sdk.ValidationError),
    (401, "UNAUTHORIZED", sdk.AuthenticationError), (403, "FORBIDDEN", sdk.PermissionDenied),
    (404, "ANOMALY_NOT_FOUND", sdk.NotFoundError), (409, "ALREADY_RESOLVED", sdk.ConflictError),
    (413, "PAYLOAD_TOO_LARGE", sdk.PayloadTooLargeError),
    (422, "INSUFFICIENT_DATA", sdk.InsufficientDataError),
    (429, "RATE_LIMITED", sdk.RateLimitError), (500, "INTERNAL_ERROR", sdk.InternalServerError),
    (503, "UNAVAILABLE", sdk.UnavailableError),
])
def test_each_status_raises_its_typed_exception_with_the_envelope(server, status, code, cls):
    url, script = server
    script.answers = [(status, {"Retry-After": "1"}, envelope(code, "what went wrong", {"field": "x"}), 0)]
    client, _ = make_client(url, max_retries=0)
    with pytest.raises(cls) as caught:
        client.metrics.get("met_1")
    error = caught.value
    assert isinstance(error, sdk.ApiError) and isinstance(error, sdk.AnomalyWatchError)
    assert (error.status, error.code, error.message, error.details) == (status, code, "what went wrong",
                                                                         {"field": "x"})
    assert error.envelope == envelope(code, "what went wrong", {"field": "x"})


def test_anomify_errors_and_non_json_errors_are_typed_too(server):
    url, script = server
    message = "invalid metric - a b - invalid characters in name"
    script.answers = [(400, {}, {"code": 400, "message": message}, 0)]
    client, _ = make_client(url, max_retries=0)
    with pytest.raises(sdk.ValidationError) as caught:
        client.ingest.anomify([{"metric": "a b", "timestamp": 1, "value": 1}])
    assert caught.value.code == "VALIDATION_ERROR"
    assert caught.value.message == message
    script.answers = [(502, {}, b"<html>bad gateway</html>", 0)]
    with pytest.raises(sdk.InternalServerError) as caught:
        client.metrics.get("met_1")
    assert caught.value.status == 502 and "bad gateway" in caught.value.message


def test_503_is_retried_with_growing_jittered_backoff_then_succeeds(server):
    url, script = server
    script.answers = [(503, {}, envelope("UNAVAILABLE"), 0)] * 3 + [(200, {}, {"data": {"id": "met_1"}}, 0)]
    client, sleeps = make_client(url, max_retries=3, backoff_factor=0.5)
    assert client.metrics.get("met_1") == {"id": "met_1"}
    assert len(script.requests) == 4 and len(sleeps) == 3
    for attempt, delay in enumerate(sleeps):
        assert 0 <= delay <= 0.5 * 2 ** attempt


def test_429_waits_at_least_retry_after(server):
    url, script = server
    script.answers = [(429, {"Retry-After": "2"}, envelope("RATE_LIMITED"), 0),
                      (200, {"X-RateLimit-Limit": "100", "X-RateLimit-Remaining": "41",
                             "X-RateLimit-Reset": "1700000000"}, {"data": []}, 0)]
    client, sleeps = make_client(url, max_retries=3)
    client.metrics.page()
    assert len(sleeps) == 1 and 2 <= sleeps[0] <= 3
    assert client.last_rate_limit == sdk.RateLimit(100, 41, 1700000000)


def test_retries_are_bounded_and_the_last_error_is_raised(server):
    url, script = server
    script.answers = [(429, {"Retry-After": "1"}, envelope("RATE_LIMITED", "slow down"), 0)]
    client, sleeps = make_client(url, max_retries=2)
    with pytest.raises(sdk.RateLimitError) as caught:
        client.ingest.point("m", 1.0, timestamp=1_700_000_000)
    assert len(script.requests) == 3 and len(sleeps) == 2
    assert caught.value.retry_after == 1 and caught.value.message == "slow down"


def test_a_retry_after_longer_than_max_backoff_is_not_waited_for(server):
    url, script = server
    script.answers = [(429, {"Retry-After": "120"}, envelope("RATE_LIMITED"), 0)]
    client, sleeps = make_client(url, max_retries=3, max_backoff=30)
    with pytest.raises(sdk.RateLimitError) as caught:
        client.metrics.get("met_1")
    assert sleeps == [] and len(script.requests) == 1 and caught.value.retry_after == 120


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 413, 422, 500])
def test_other_errors_are_not_retried(server, status):
    url, script = server
    script.answers = [(status, {}, envelope("X"), 0)]
    client, sleeps = make_client(url, max_retries=3)
    with pytest.raises(sdk.ApiError):
        client.metrics.get("met_1")
    assert len(script.requests) == 1 and sleeps == []


def test_a_batch_with_rejections_is_data_not_an_exception(server):
    url, script = server
    body = {"status": "partial", "accepted": 1, "rejected": 1,
            "results": [{"index": 0, "status": 200, "metric_id": "met_1"},
                        {"index": 1, "status": 400, "error": "invalid value - x"}]}
    script.answers = [(207, {}, body, 0)]
    client, _ = make_client(url)
    assert client.ingest.batch([{"metric": "m", "value": 1, "timestamp": 1},
                                {"metric": "m", "value": "x", "timestamp": 2}]) == body
    method, path, headers, sent = script.requests[0]
    assert (method, path) == ("POST", "/v1/ingest")
    assert headers["Authorization"] == f"Bearer {KEY}"
    assert json.loads(sent) == {"points": [{"metric": "m", "value": 1, "timestamp": 1},
                                           {"metric": "m", "value": "x", "timestamp": 2}]}


def test_request_shapes(server):
    url, script = server
    script.answers = [(200, {}, {"data": [], "pagination": {"total": 0, "limit": 10, "offset": 0,
                                                               "has_more": False}}, 0)]
    client, _ = make_client(url)
    client.anomalies.page(limit=10, status="active", tags={"host": "web-1"}, from_="2026-01-01")
    assert script.requests[-1][1].startswith("/v1/anomalies?")
    for part in ("limit=10", "status=active", "tag.host=web-1", "from=2026-01-01"):
        assert part in script.requests[-1][1]
    client.metrics.get_anomaly_config("svc/latency")
    assert script.requests[-1][1] == "/v1/metrics/svc%2Flatency/anomaly_config"
    client.ingest.point("m", 2.0, timestamp=5, test_only=True)
    assert script.requests[-1][2]["X-Test-Only"] == "true"
    assert "k" * 32 not in repr(client)


def test_pagination_iterator_follows_has_more(server):
    url, script = server
    pages = [{"data": [{"id": i} for i in range(o, min(o + 2, 5))],
              "pagination": {"total": 5, "limit": 2, "offset": o, "has_more": o + 2 < 5}} for o in (0, 2, 4)]
    script.answers = [(200, {}, page, 0) for page in pages]
    client, _ = make_client(url)
    assert [a["id"] for a in client.anomalies.list(page_size=2)] == [0, 1, 2, 3, 4]
    assert [r[1].split("?")[1] for r in script.requests] == ["limit=2&offset=0", "limit=2&offset=2",
                                                             "limit=2&offset=4"]


def test_timeouts_raise_request_timeout_and_idempotent_requests_are_retried(server):
    url, script = server
    script.answers = [(200, {}, {"data": {}}, 0.6)]
    client, sleeps = make_client(url, timeout=0.2, max_retries=2)
    started = time.monotonic()
    with pytest.raises(sdk.RequestTimeout):
        client.metrics.get("met_1")
    assert len(sleeps) == 2 and time.monotonic() - started < 5
    sleeps.clear()
    with pytest.raises(sdk.RequestTimeout):
        client.api_keys.create(["read"])  # a resent POST could create two keys: not retried
    assert sleeps == []


def test_connection_refused_is_a_transport_error():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client, sleeps = make_client(f"http://127.0.0.1:{port}", max_retries=1)
    with pytest.raises(sdk.TransportError):
        client.metrics.page()
    assert len(sleeps) == 1

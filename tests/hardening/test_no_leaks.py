"""Nasty inputs never give a 5xx, and no answer (500s and 503s included) carries a stack trace,
SQL, a driver name or an internal address; keys never reach the logs; keys are compared in
constant time."""
from __future__ import annotations

import ast
import inspect
import json
import textwrap
import time
from pathlib import Path

import pytest
import requests

from tests.e2e.harness import start_system
from tests.hardening.conftest import assert_clean

REPO = Path(__file__).resolve().parents[2]
NOW = time.time()

# Raw JSON bodies (bytes) for POST /v1/ingest: each must be a 4xx, never a 5xx.
INGEST_BODIES = [
    b"", b" ", b"null", b"true", b"0", b'"text"', b"[]", b"{}", b'{"points": []}', b'{"points": {}}',
    b'{"points": "x"}', b'{"points": [null, 1, "x", [], {}]}', b"{", b'{"metric": "m"', b"\xff\xfe\x00",
    b'{"metric": "m", "value": NaN, "timestamp": %d}' % NOW,
    b'{"metric": "m", "value": Infinity, "timestamp": %d}' % NOW,
    b'{"metric": "m", "value": -Infinity, "timestamp": %d}' % NOW,
    b'{"metric": "m", "value": 1e309, "timestamp": %d}' % NOW,
    b'{"metric": "m", "value": 1' + b"0" * 400 + b', "timestamp": %d}' % NOW,
    b'{"metric": "m", "value": 1' + b"0" * 5000 + b', "timestamp": %d}' % NOW,
    b'{"metric": "m", "value": 1, "timestamp": 1' + b"0" * 400 + b"}",
    b'{"metric": "m", "value": 1, "timestamp": 1e308}',
    b'{"metric": "m", "value": 1, "timestamp": -1e308}',
    b'{"metric": "m", "value": 1, "timestamp": NaN}',
    b'{"metric": "m", "value": 1, "timestamp": "99999-01-01T00:00:00Z"}',
    b'{"metric": "m", "value": 1, "timestamp": "0000-00-00"}',
    b'{"metric": "m", "value": 1, "timestamp": "2026-02-30T25:61:61+99:00"}',
    b'{"metric": "m", "value": 1, "timestamp": true}',
    b'{"metric": "m", "value": 1, "timestamp": []}',
    b'{"metric": "m", "value": "1", "timestamp": "now"}',
    b'{"metric": "m", "value": true, "timestamp": 1}',
    b'{"metric": "m", "value": null, "timestamp": 1}',
    b'{"metric": "m", "value": {"a": 1}, "timestamp": 1}',
    b'{"metric": 123, "value": 1, "timestamp": 1}',
    b'{"metric": ["m"], "value": 1, "timestamp": 1}',
    b'{"metric": "", "value": 1, "timestamp": 1}',
    b'{"metric": "' + b"m" * 100_000 + b'", "value": 1, "timestamp": 1}',
    b'{"metric": "m", "value": 1, "timestamp": %d, "tags": "x"}' % NOW,
    b'{"metric": "m", "value": 1, "timestamp": %d, "tags": {"a": 1}}' % NOW,
    b'{"metric": "m", "value": 1, "timestamp": %d, "tags": {"a": {"b": "c"}}}' % NOW,
    b'{"metric": "m", "value": 1, "timestamp": %d, "tags": {"": "x"}}' % NOW,
    b'{"metric": "m", "value": 1, "timestamp": %d, "source": 5}' % NOW,
    b'{"metric": "m", "value": 1, "timestamp": %d, "source": "' % NOW + b"s" * 10_000 + b'"}',
    b"[" * 100_000 + b"]" * 100_000,
    b'{"points": ' + b"[" * 50_000 + b"]" * 50_000 + b"}",
    b'{"a": ' * 20_000 + b"1" + b"}" * 20_000,
]
UNICODE_POINTS = [
    {"metric": "métric", "value": 1, "timestamp": NOW},
    {"metric": "💥", "value": 1, "timestamp": NOW},
    {"metric": "m\u0000x", "value": 1, "timestamp": NOW},
    {"metric": "\u202eevil", "value": 1, "timestamp": NOW},
    {"metric": "hard.unicode", "value": 1, "timestamp": NOW - 30,
     "tags": {"ключ": "значение", "emoji": "💥"}},
    {"metric": "hard.unicode", "value": 2, "timestamp": NOW - 20, "tags": {"nul": "a\u0000b"}},
    {"metric": "hard.unicode", "value": 3, "timestamp": NOW - 10, "source": "\u0000\u202e"},
]
LONE_SURROGATES = [
    b'{"metric": "\\ud800", "value": 1, "timestamp": %d}' % NOW,
    b'{"metric": "hard.surrogate", "value": 1, "timestamp": %d, "tags": {"k": "\\udfff"}}' % NOW,
    b'{"metric": "hard.surrogate", "value": 1, "timestamp": %d, "tags": {"\\ud83d": "v"}}' % NOW,
    b'{"metric": "hard.surrogate", "value": 1, "timestamp": %d, "source": "\\ud800"}' % NOW,
]
QUERIES = [
    {"limit": "-1"}, {"limit": "abc"}, {"limit": "1e3"}, {"limit": "9" * 400},
    {"offset": "9" * 400}, {"offset": "-5"}, {"page": "0"},
    {"page": "9" * 400}, {"limit": "0"}, {"limit": "\u0000"},
    {"name": "\u0000"}, {"name": "💥" * 300}, {"name": "x" * 3000}, {"from": "garbage"}, {"to": "9" * 400},
    {"from": "99999-12-31"}, {"from": "-1"}, {"tag.": "x"}, {"tag.\u0000": "\u0000"},
    {**{f"tag.k{i}": "v" for i in range(150)}}, {"status": "💥"}, {"severity": "x" * 2000},
]
PATHS = ["/v1/metrics", "/v1/api-keys", "/v1/ingest/test", "/v1/metrics/met_x/points"]


@pytest.mark.e2e
@pytest.mark.parametrize("body", INGEST_BODIES, ids=range(len(INGEST_BODIES)))
def test_nasty_ingest_bodies_are_4xx_and_clean(system, api, body):
    answer = api.post(f"{system.base_url}/v1/ingest", data=body, headers={"Content-Type": "application/json"},
                      timeout=30)
    if answer.status_code == 207:  # a usable batch whose points are all rejected
        assert answer.json()["accepted"] == 0
    else:
        assert 400 <= answer.status_code < 500, (answer.status_code, answer.text[:500])
        assert answer.json()["error"]["code"] in ("VALIDATION_ERROR", "PAYLOAD_TOO_LARGE")
    assert_clean(answer, system)


@pytest.mark.e2e
@pytest.mark.parametrize("body", INGEST_BODIES[:20], ids=range(20))
def test_nasty_bodies_elsewhere_are_4xx_and_clean(system, api, body):
    headers = {"Content-Type": "application/json"}
    for method, path in (("POST", "/v1/api-keys"), ("PUT", "/v1/metrics/hard.cfg/anomaly_config")):
        answer = api.request(method, f"{system.base_url}{path}", data=body, headers=headers, timeout=30)
        if method == "PUT" and body == b"{}":  # merging nothing is fine
            assert answer.status_code == 200
        else:
            assert 400 <= answer.status_code < 500, (method, path, answer.status_code, answer.text[:500])
        assert_clean(answer, system)
    flux = requests.post(f"{system.base_url}/flux/metric_data_post", data=body, headers=headers, timeout=30)
    assert 400 <= flux.status_code < 500, (flux.status_code, flux.text[:300])
    assert_clean(flux, system)


@pytest.mark.e2e
@pytest.mark.parametrize("point", UNICODE_POINTS, ids=range(len(UNICODE_POINTS)))
def test_unicode_is_accepted_or_rejected_never_5xx(system, api, point):
    answer = api.post(f"{system.base_url}/v1/ingest", json=point, timeout=30)
    assert answer.status_code in (200, 400), answer.text[:500]
    assert_clean(answer, system)


@pytest.mark.e2e
@pytest.mark.parametrize("body", LONE_SURROGATES, ids=range(len(LONE_SURROGATES)))
def test_lone_surrogates_are_never_5xx(system, api, body):
    answer = api.post(f"{system.base_url}/v1/ingest", data=body, headers={"Content-Type": "application/json"},
                      timeout=30)
    assert answer.status_code in (200, 400), answer.text[:500]
    assert_clean(answer, system)
    batch = b'{"points": [' + body + b"]}"
    answer = api.post(f"{system.base_url}/v1/ingest", data=batch,
                      headers={"Content-Type": "application/json"}, timeout=30)
    assert answer.status_code in (200, 207, 400), answer.text[:500]
    assert_clean(answer, system)


@pytest.mark.e2e
@pytest.mark.parametrize("config", [
    {"spike_threshold": -1e308}, {"spike_threshold": "NaN"}, {"drop_threshold": -0.0},
    {"spike_threshold": 10 ** 400}, {"drop_threshold": 10 ** 30}, {"min_data_points": 10 ** 30},
    {"min_data_points": -(10 ** 30)}, {"min_data_points": 2.5}, {"comparison_window": "9" * 400 + "d"},
    {"comparison_window": "💥"}, {"sensitivity": "💥"}, {"seasonality": ["auto"]}, {"enabled": "yes"},
    {"unknown": 1},
])
def test_nasty_anomaly_configs_are_4xx_and_clean(system, api, config):
    for target in ("hard.cfg", "met_doesnotexist", "a%2Fb", "💥"):
        answer = api.put(f"{system.base_url}/v1/metrics/{target}/anomaly_config", json=config, timeout=30)
        assert 400 <= answer.status_code < 500, (target, config, answer.status_code, answer.text[:500])
        assert_clean(answer, system)


@pytest.mark.e2e
@pytest.mark.parametrize("query", QUERIES, ids=range(len(QUERIES)))
def test_nasty_query_strings_are_never_5xx(system, api, query):
    for path in PATHS:
        answer = api.get(f"{system.base_url}{path}", params=query, timeout=30)
        assert answer.status_code < 500, (path, query, answer.status_code, answer.text[:500])
        assert_clean(answer, system)


@pytest.mark.e2e
def test_huge_query_strings_and_paths_are_never_5xx(system, api):
    for url in (f"{system.base_url}/v1/metrics?name={'x' * 3500}",
                f"{system.base_url}/v1/metrics?{'&'.join(f'tag.k{i}=v' for i in range(400))}",
                f"{system.base_url}/v1/metrics?name={'x' * 20_000}",
                f"{system.base_url}/v1/metrics/{'m' * 3000}",
                f"{system.base_url}/v1/metrics/%00", f"{system.base_url}/v1/metrics/..%2F..%2Fetc%2Fpasswd",
                f"{system.base_url}/v1/metrics/%ff%fe/anomaly_config", f"{system.base_url}/v1/%00"):
        answer = api.get(url, timeout=30)
        assert answer.status_code < 500, (url[:120], answer.status_code, answer.text[:300])
        assert_clean(answer, system)


@pytest.mark.e2e
def test_wrong_content_types_and_methods_are_4xx(system, api):
    url = f"{system.base_url}/v1/ingest"
    for headers, data in (({"Content-Type": "text/plain"}, b'{"metric": "m"}'), ({}, b""),
                          ({"Content-Type": "application/x-www-form-urlencoded"}, b"metric=m&value=1"),
                          ({"Content-Type": "application/json; charset=latin-1"},
                           '{"metric": "é"}'.encode("latin-1"))):
        answer = api.post(url, data=data, headers=headers, timeout=30)
        assert 400 <= answer.status_code < 500, (headers, answer.status_code, answer.text[:300])
        assert_clean(answer, system)
    for method in ("PUT", "PATCH", "DELETE"):
        answer = api.request(method, url, timeout=30)
        assert answer.status_code == 405 and answer.json()["error"]["code"] == "METHOD_NOT_ALLOWED"


@pytest.mark.e2e
def test_a_body_over_one_mebibyte_is_413(system, api):
    big = json.dumps({"points": [{"metric": "m" * 200, "value": 1, "timestamp": NOW}] * 6000}).encode()
    assert len(big) > 1024 * 1024
    answer = api.post(f"{system.base_url}/v1/ingest", data=big, headers={"Content-Type": "application/json"},
                      timeout=60)
    assert answer.status_code == 413 and answer.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"
    assert_clean(answer, system)


@pytest.mark.e2e
def test_keys_never_reach_the_logs(system, admin, api):
    """Every kind of request with a key (valid, revoked, unknown, in a body, refused, rate limited),
    then no log file of any process contains any of those keys."""
    created = api.post(f"{system.base_url}/v1/api-keys", json={"scopes": ["ingest", "read"]}, timeout=10)
    revoked = api.post(f"{system.base_url}/v1/api-keys", json={"scopes": ["read"]}, timeout=10).json()["data"]
    api.delete(f"{system.base_url}/v1/api-keys/{revoked['id']}", timeout=10)
    _, free = system.new_key(scopes="ingest,read", plan="free")
    keys = [admin[1], created.json()["data"]["key"], revoked["key"], free, "aw_live_" + "Q" * 32,
            "aw_test_" + "Z9" * 16]
    time.sleep(1.0)
    for key in keys:
        session = system.session(key)
        session.get(f"{system.base_url}/v1/metrics", timeout=10)
        session.get(f"{system.base_url}/v1/metrics/met_nothing", timeout=10)
        session.post(f"{system.base_url}/v1/ingest", timeout=10,
                     json={"metric": "hard.logs", "value": 1, "timestamp": NOW})
        session.post(f"{system.base_url}/v1/ingest", data=b"{", headers={"Content-Type": "application/json"},
                     timeout=10)
        requests.post(f"{system.base_url}/flux/metric_data_post", timeout=10,
                      json={"key": key,
                            "metrics": [{"metric": "hard.logs", "timestamp": int(NOW), "value": 1}]})
        requests.get(f"{system.base_url}/v1/metrics", params={"api_key": key}, timeout=10)
    for _ in range(8):  # over the free plan's burst: the limiter logs the refusal
        system.session(free).get(f"{system.base_url}/v1/metrics", timeout=10)
    time.sleep(0.5)  # let the processes flush
    logs = sorted(Path(system.env["AW_LOG_DIR"]).glob("*.log"))
    assert {p.stem for p in logs} >= {"catalog", "ingest", "gateway"}
    for path in logs:
        text = path.read_text(errors="replace")
        for key in keys:
            assert key not in text, f"{path.name} contains a key"
            assert key[12:] not in text, f"{path.name} contains a key's secret part"


def test_keys_are_compared_in_constant_time():
    """The stored hash is compared with hmac.compare_digest, and authentication goes through it."""
    from services.catalog import accounts
    from services.common import auth

    same_hash = ast.parse(textwrap.dedent(inspect.getsource(auth.same_hash)))
    calls = {ast.unparse(n.func) for n in ast.walk(same_hash) if isinstance(n, ast.Call)}
    assert "hmac.compare_digest" in calls
    authenticate = ast.parse(textwrap.dedent(inspect.getsource(accounts.authenticate)))
    assert "same_hash" in {ast.unparse(n.func) for n in ast.walk(authenticate) if isinstance(n, ast.Call)}
    assert auth.same_hash("a" * 64, "a" * 64) and not auth.same_hash("a" * 64, "a" * 63 + "b")
    # No plain comparison of a secret or a hash anywhere in the Python sources that handle keys.
    for module in (auth, accounts):
        tree = ast.parse(inspect.getsource(module))
        for node in ast.walk(tree):
            if isinstance(node, ast.Compare) and any(isinstance(op, (ast.Eq, ast.NotEq)) for op in node.ops):
                operands = [ast.unparse(x) for x in [node.left, *node.comparators]]
                names = ("secret", "digest", "key_hash", "stored", "hashed")
                suspicious = [o for o in operands if o in names]
                assert not suspicious or any("ApiKey." in o for o in operands), \
                    f"{module.__name__}: {ast.unparse(node)}"


def test_an_unexpected_error_is_a_clean_500(monkeypatch):
    """The 500 path: an exception carrying SQL, a path and an address answers the bare envelope."""
    from tests.ratelimit.conftest import make_app

    app, keys = make_app()
    key, _ = keys.add(plan="enterprise")

    @app.get("/v1/_explode")
    def explode():
        raise RuntimeError('File "/srv/x.py", line 1: sqlalchemy SELECT * FROM api_keys at 127.0.0.1:50051')

    answer = app.test_client().get("/v1/_explode", headers={"Authorization": f"Bearer {key}"})
    assert answer.status_code == 500
    assert answer.json == {"error": {"code": "INTERNAL_ERROR", "message": "internal error", "details": {}}}
    assert answer.headers["X-RateLimit-Limit"] == "10000"


@pytest.fixture(scope="module")
def fragile(tmp_path_factory):
    """A system of its own, whose processes the tests stop."""
    tmp = tmp_path_factory.mktemp("fragile-system")
    running = start_system(tmp, f"sqlite:///{tmp}/aw.db")
    yield running
    running.local.stop()


@pytest.mark.e2e
def test_a_stopped_backend_is_a_clean_503_never_a_500(fragile):
    _, key = fragile.new_key()
    session = fragile.session(key)
    base = fragile.base_url
    point = {"metric": "hard.down", "value": 1, "timestamp": time.time() - 5}
    assert session.post(f"{base}/v1/ingest", json=point, timeout=30).status_code == 200
    fragile.local.stop_process(fragile.local.process("ingest"))
    answer = session.post(f"{base}/v1/ingest", json={**point, "timestamp": time.time() - 4}, timeout=30)
    assert answer.status_code == 503 and answer.json()["error"]["code"] == "UNAVAILABLE", answer.text
    assert_clean(answer, fragile)
    flux = requests.post(f"{base}/flux/metric_data_post", timeout=30, json={
        "key": key, "metrics": [{"metric": "hard.down", "timestamp": int(time.time()) - 3, "value": 1}]})
    assert flux.status_code == 503, flux.text
    assert_clean(flux, fragile)
    ready = requests.get(f"{base}/readyz", timeout=30)
    assert ready.status_code == 503 and ready.json()["dependencies"]["ingest"] == "unreachable"
    assert_clean(ready, fragile)
    fragile.local.stop_process(fragile.local.process("catalog"))
    time.sleep(1.0)  # past the key cache
    for method, path, body in (("GET", "/v1/metrics", None), ("GET", "/v1/metrics/met_x", None),
                               ("GET", "/v1/api-keys", None), ("POST", "/v1/api-keys", {"scopes": ["read"]}),
                               ("PUT", "/v1/metrics/hard.down/anomaly_config", {"sensitivity": "high"}),
                               ("POST", "/v1/ingest", point)):
        answer = session.request(method, f"{base}{path}", json=body, timeout=30)
        assert answer.status_code == 503, (method, path, answer.status_code, answer.text[:300])
        assert answer.json()["error"]["code"] == "UNAVAILABLE"
        assert_clean(answer, fragile)
    assert requests.get(f"{base}/healthz", timeout=10).status_code == 200


def _raw_request(system, request: bytes) -> tuple[int, dict, bytes]:
    """Sends bytes as they are (no client library would send these) and reads the whole answer."""
    import socket
    from urllib.parse import urlsplit

    address = urlsplit(system.base_url)
    with socket.create_connection((address.hostname, address.port), timeout=30) as conn:
        conn.sendall(request)
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, v in (line.split(":", 1) for line in header_lines)}
    return int(status_line.split()[1]), headers, body


@pytest.mark.e2e
@pytest.mark.parametrize("request_bytes, field", [
    (b"GET /v1/metrics?name=" + b"x" * 5000 + b" HTTP/1.1\r\nHost: t\r\n\r\n", "url"),
    (b"GET /v1/metrics HTTP/1.1\r\nHost: t\r\n" + b"".join(b"X-H%d: v\r\n" % i for i in range(200)) + b"\r\n",
     "headers"),
    (b"GET /v1/metrics HTTP/1.1\r\nHost: t\r\nX-Big: " + b"v" * 10_000 + b"\r\n\r\n", "headers"),
    (b"G\x00T /v1/metrics HTTP/1.1\r\nHost: t\r\n\r\n", "request"),
    (b"GET /v1/metrics HTTP/9.9\r\nHost: t\r\n\r\n", "request"),
    (b"GET /v1/metrics HTTP/1.1\r\nHost: t\r\nBad Header\r\n\r\n", "request"),
])
def test_requests_gunicorn_cannot_parse_get_the_envelope(system, request_bytes, field):
    status, headers, body = _raw_request(system, request_bytes)
    assert status == 400, (status, body[:300])
    assert headers["content-type"] == "application/json"
    error = json.loads(body)["error"]
    assert error["code"] == "VALIDATION_ERROR" and error["details"]["field"] == field
    assert len(error["message"]) <= 210, error["message"]

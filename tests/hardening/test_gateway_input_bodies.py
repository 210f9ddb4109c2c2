"""Bodies over 1 MiB sent chunked (no Content-Length) through the real gunicorn gateway: 413 in the
contract's shape, the answer reaches the client, and nothing is stored."""
from __future__ import annotations

import json
import socket
import time

import pytest
import requests

from tests.hardening.conftest import assert_clean

pytestmark = pytest.mark.e2e
MIB = 1024 * 1024


def chunks(body: bytes, size: int = 64 * 1024):
    """A generator body: requests sends it with Transfer-Encoding: chunked."""
    for start in range(0, len(body), size):
        yield body[start:start + size]


def padded(body: dict, size: int) -> bytes:
    raw = json.dumps(body).encode()
    return raw + b" " * (size - len(raw))


def stored(system, api, name: str) -> list:
    answer = api.get(f"{system.base_url}/v1/metrics", params={"name": name}, timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()["data"]


def test_a_chunked_ingest_body_over_one_mebibyte_is_413_and_stores_nothing(system, api):
    body = padded({"points": [{"metric": "hard.chunked.ingest", "value": 1, "timestamp": time.time()}]},
                  MIB + 1)
    answer = api.post(f"{system.base_url}/v1/ingest", data=chunks(body),
                      headers={"Content-Type": "application/json"}, timeout=60)
    assert "Content-Length" not in answer.request.headers
    assert answer.status_code == 413, answer.text[:300]
    assert answer.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"
    assert_clean(answer, system)
    assert stored(system, api, "hard.chunked.ingest") == []
    # The same body at exactly the limit is taken.
    body = padded({"points": [{"metric": "hard.chunked.ingest", "value": 1, "timestamp": time.time()}]}, MIB)
    answer = api.post(f"{system.base_url}/v1/ingest", data=chunks(body),
                      headers={"Content-Type": "application/json"}, timeout=60)
    assert answer.status_code == 200, answer.text[:300]
    assert len(stored(system, api, "hard.chunked.ingest")) == 1


def test_a_chunked_flux_post_over_one_mebibyte_is_413_and_stores_nothing(system, api, admin):
    body = padded({"key": admin[1], "metrics": [{"metric": "hard.chunked.flux", "timestamp": int(time.time()),
                                                 "value": 1}]}, MIB + 1)
    answer = requests.post(f"{system.base_url}/flux/metric_data_post", data=chunks(body),
                           headers={"Content-Type": "application/json"}, timeout=60)
    assert answer.status_code == 413, answer.text[:300]
    assert answer.json() == {"code": 413, "message": "payload too large"}
    assert stored(system, api, "hard.chunked.flux") == []


def raw_post(system, path: str, key: str, chunked_body: bytes) -> tuple[int, bytes]:
    """(status, body) of a POST whose chunked framing is written by hand."""
    host, port = system.env["AW_GATEWAY_ADDR"].rsplit(":", 1)
    head = (f"POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {key}\r\n"
            "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(head.encode() + chunked_body)
        sock.shutdown(socket.SHUT_WR)
        answer = b""
        while data := sock.recv(65536):
            answer += data
    status_line, _, rest = answer.partition(b"\r\n")
    return int(status_line.split()[1]), rest.partition(b"\r\n\r\n")[2]


def test_a_chunked_body_with_broken_framing_is_400_never_500(system, api, admin):
    point = json.dumps({"metric": "hard.chunked.broken", "value": 1, "timestamp": time.time()}).encode()
    for framing in (b"%x\r\n%s\r\nZZ\r\n" % (len(point), point),  # a chunk size that is not hex
                    b"%x\r\n%sXX0\r\n\r\n" % (len(point), point)):  # a chunk without its CRLF
        status, body = raw_post(system, "/v1/ingest", admin[1], framing)
        assert status == 400, body[:300]
        error = json.loads(body)["error"]
        assert error["code"] == "VALIDATION_ERROR" and error["details"]["field"] == "body"
    status, body = raw_post(system, "/flux/metric_data_post", admin[1], b"5\r\n{\"a\":\r\nZZ\r\n")
    assert (status, json.loads(body)) == (400, {"code": 400, "message": "invalid POST data - the body could "
                                                                          "not be read"})
    assert stored(system, api, "hard.chunked.broken") == []

"""Bodies over 1 MiB sent chunked (no Content-Length) through the real gunicorn gateway: 413 in the
contract's shape, the answer reaches the client, and nothing is stored."""
from __future__ import annotations

import json
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

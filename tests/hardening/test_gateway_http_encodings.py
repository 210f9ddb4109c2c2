"""Compressed request bodies: the gateway decompresses nothing, so a body with a content coding
(Content-Encoding: gzip, deflate, br) or a transfer coding other than chunked (gunicorn accepts
`Transfer-Encoding: gzip, chunked` and undoes only the chunking) is refused, 415 in the envelope
(Anomify's shape on /flux), before anything reads it as JSON: a gzip body was a 400 "not valid
JSON", a body labelled gzip but sent plain was stored. The real app, backends faked."""
from __future__ import annotations

import gzip
import io
import json
import time
import zlib

import pytest

from tests.ratelimit.conftest import make_app
from tests.unit.test_gateway_input import FakeBatcher, FakeClients, Gateway

POINT = {"metric": "http.encoded", "value": 1.0, "timestamp": int(time.time())}
RAW = json.dumps(POINT).encode()


@pytest.fixture
def gw() -> Gateway:
    app, keys = make_app()
    key, _ = keys.add(plan="enterprise", scopes="ingest,read,write,forecast,admin")
    aw = app.extensions["aw"]
    aw.ingest, aw.clients = FakeBatcher(), FakeClients()
    return Gateway(app.test_client(), key, aw.ingest, aw.clients)


ENCODED = [("gzip", gzip.compress(RAW)), ("deflate", zlib.compress(RAW)), ("x-gzip", gzip.compress(RAW)),
           ("br", RAW), ("gzip", RAW), ("GZIP", RAW), ("identity, gzip", gzip.compress(RAW)),
           ("compress", RAW), ("whatever", RAW)]


@pytest.mark.parametrize(("coding", "body"), ENCODED)
def test_a_body_with_a_content_coding_is_415_and_never_stored(gw, coding, body):
    answer = gw.client.post("/v1/ingest", data=body, headers=gw.headers(
        **{"Content-Type": "application/json", "Content-Encoding": coding}))
    assert answer.status_code == 415, answer.get_data(as_text=True)
    assert answer.content_type == "application/json"
    error = answer.get_json()["error"]
    assert error["code"] == "UNSUPPORTED_MEDIA_TYPE" and error["details"]["field"] == "Content-Encoding"
    assert answer.headers["Accept-Encoding"] == "identity"
    assert gw.ingest.calls == []


@pytest.mark.parametrize("coding", ["identity", "IDENTITY", ""])
def test_identity_is_no_coding(gw, coding):
    answer = gw.client.post("/v1/ingest", data=RAW, headers=gw.headers(
        **{"Content-Type": "application/json", "Content-Encoding": coding}))
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert len(gw.ingest.calls) == 1


@pytest.mark.parametrize("path", ["/v1/anomalies/rules", "/v1/api-keys", "/v1/forecast",
                                  "/v1/anomalies/anom_1/acknowledge"])
def test_every_body_is_refused_alike(gw, path):
    answer = gw.client.post(path, data=gzip.compress(b"{}"), headers=gw.headers(
        **{"Content-Type": "application/json", "Content-Encoding": "gzip"}))
    assert answer.status_code == 415
    assert answer.get_json()["error"]["code"] == "UNSUPPORTED_MEDIA_TYPE"
    assert gw.backends.calls == []
    answer = gw.client.put("/v1/metrics/cpu/anomaly_config", data=gzip.compress(b"{}"), headers=gw.headers(
        **{"Content-Type": "application/json", "Content-Encoding": "gzip"}))
    assert answer.status_code == 415


def test_a_compression_bomb_is_refused_unread(gw):
    bomb = gzip.compress(b"[" * (50 * 1024 * 1024))  # ~50 KiB on the wire, 50 MiB inflated
    answer = gw.client.post("/v1/ingest", data=bomb, headers=gw.headers(
        **{"Content-Type": "application/json", "Content-Encoding": "gzip"}))
    assert answer.status_code == 415


def test_a_flux_post_with_a_content_coding_is_415_in_anomifys_shape(gw):
    body = json.dumps({"key": gw.key, "metrics": [{**POINT, "timestamp": int(time.time())}]}).encode()
    answer = gw.client.post("/flux/metric_data_post", data=gzip.compress(body),
                            headers={"Content-Type": "application/json", "Content-Encoding": "gzip"})
    assert answer.status_code == 415
    assert answer.get_json() == {"code": 415, "message": answer.get_json()["message"]}
    assert gw.ingest.calls == []


def transfer_coded(client, path: str, body: bytes, coding: str, **headers: str):
    """A body as gunicorn hands on `Transfer-Encoding: <coding>, chunked`: de-chunked, the rest of
    the coding left in place, the header kept."""
    return client.post(path, input_stream=io.BytesIO(body), environ_overrides={"wsgi.input_terminated": True},
                       headers={"Transfer-Encoding": f"{coding}, chunked", "Content-Type": "application/json",
                                **headers})


@pytest.mark.parametrize("coding", ["gzip", "deflate", "compress"])
def test_a_body_with_a_transfer_coding_other_than_chunked_is_refused(gw, coding):
    answer = transfer_coded(gw.client, "/v1/ingest", gzip.compress(RAW), coding, **gw.headers())
    assert answer.status_code == 400, answer.get_data(as_text=True)
    error = answer.get_json()["error"]
    assert error["code"] == "VALIDATION_ERROR" and error["details"]["field"] == "Transfer-Encoding"
    assert gw.ingest.calls == []
    body = json.dumps({"key": gw.key, "metrics": [POINT]}).encode()
    flux = transfer_coded(gw.client, "/flux/metric_data_post", gzip.compress(body), coding)
    assert flux.status_code == 400 and set(flux.get_json()) == {"code", "message"}
    assert gw.ingest.calls == []


def test_a_plain_chunked_body_is_still_read(gw):
    answer = gw.client.post("/v1/ingest", input_stream=io.BytesIO(RAW),
                            environ_overrides={"wsgi.input_terminated": True},
                            headers=gw.headers(**{"Transfer-Encoding": "chunked",
                                                  "Content-Type": "application/json"}))
    assert answer.status_code == 200, answer.get_data(as_text=True)

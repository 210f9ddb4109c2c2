"""The gateway's JSON answers: orjson where it can, the standard library where it cannot."""
from __future__ import annotations

import json

from flask import Flask

from gateway.json_provider import OrjsonProvider


def _provider() -> OrjsonProvider:
    return OrjsonProvider(Flask("t"))


def test_answers_are_the_same_json_as_the_standard_library_gives():
    body = {"results": [{"index": i, "anomaly_score": i / 7, "baseline": {"mean": 1e-300, "std": 1e300},
                         "tags": {"région": "ÎLE 🇫🇷"}, "severity": None, "learning": False}
                        for i in range(50)], 1: "int key"}
    assert json.loads(_provider().dumps(body)) == json.loads(json.dumps(body))


def test_what_orjson_refuses_is_encoded_as_before():
    for body in ({"error": {"message": "bad metric \ud800"}}, {"n": 2 ** 70}):
        assert json.loads(_provider().dumps(body)) == json.loads(json.dumps(body))


def test_keys_keep_their_order():
    assert _provider().dumps({"b": 1, "a": 2}) == '{"b":1,"a":2}'

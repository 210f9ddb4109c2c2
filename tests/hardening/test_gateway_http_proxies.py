"""Trusted proxies (AW_TRUSTED_PROXY_HOPS): behind an Ingress every connection comes from the proxy,
so the client address of requests without a valid key, which picks their rate-limit budget, is
read from X-Forwarded-For, through exactly the configured number of trusted hops; at 0 no
forwarding header is read. The real app (routes, hooks, limiter), keys from a local table."""
from __future__ import annotations

import pytest
from flask import jsonify, request, url_for

from services.common.auth import PrincipalCache
from services.common.config import Settings
from tests.ratelimit.conftest import PLANS, KeyTable

BURST = PLANS["anonymous"].burst_per_second
PROXY = "10.1.2.3"  # the Ingress controller's pod address: every connection's peer


def make_app(hops: int):
    from gateway.app import create_app

    settings = Settings(plans=PLANS, catalog_addr="127.0.0.1:1", ingest_addr="127.0.0.1:1",
                        forecast_addr="127.0.0.1:1", rpc_timeout_seconds=2.0, trusted_proxy_hops=hops)
    app = create_app(settings)
    app.extensions["aw"].principals = PrincipalCache(KeyTable(), ttl=0.5)

    @app.get("/v1/_whoami")
    def whoami():  # not authenticated: the client as the limiter and handlers see it
        return jsonify({"addr": request.remote_addr, "scheme": request.scheme,
                        "url": url_for("whoami", _external=True)})

    app.testing = True
    return app.test_client()


def anonymous(client, forwarded: str | None = None, **headers: str) -> int:
    """One request with a bad key through the proxy; its status (401, or 429 once the budget is spent)."""
    if forwarded is not None:
        headers["X-Forwarded-For"] = forwarded
    headers["Authorization"] = "Bearer aw_live_not_a_real_key"
    return client.get("/v1/anomalies", headers=headers, environ_base={"REMOTE_ADDR": PROXY}).status_code


def seen(client, **headers: str) -> dict:
    response = client.get("/v1/_whoami", headers=headers, environ_base={"REMOTE_ADDR": PROXY})
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def test_at_zero_hops_a_forged_forwarded_for_changes_nothing():
    assert seen(make_app(0), **{"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}) == {
        "addr": PROXY, "scheme": "http", "url": "http://localhost/v1/_whoami"}
    client = make_app(0)
    # every forged address spends the one budget of the connection's address
    statuses = [anonymous(client, f"203.0.113.{i}") for i in range(BURST + 1)]
    assert statuses == [401] * BURST + [429]


def test_the_default_is_zero_hops():
    assert Settings().trusted_proxy_hops == 0


def test_with_one_hop_two_forwarded_clients_have_separate_anonymous_budgets():
    client = make_app(1)
    assert [anonymous(client, "198.51.100.7") for _ in range(BURST + 1)] == [401] * BURST + [429]
    assert anonymous(client, "198.51.100.8") == 401  # another client behind the same proxy
    assert anonymous(client) == 401  # and the proxy's own address is a third budget


def test_with_one_hop_the_rightmost_address_is_the_client():
    assert seen(make_app(1), **{"X-Forwarded-For": "192.0.2.1, 198.51.100.7"})["addr"] == "198.51.100.7"
    client = make_app(1)
    # whatever the client writes to the left of what the proxy appended, it is one client
    forged = [f"192.0.2.{i}, 198.51.100.7" for i in range(BURST)] + ["198.51.100.7"]
    assert [anonymous(client, value) for value in forged] == [401] * BURST + [429]
    assert anonymous(client, "198.51.100.7, 192.0.2.1") == 401  # rightmost differs: another client


def test_repeated_forwarded_for_headers_are_one_list():
    client = make_app(1)
    # gunicorn joins repeated headers with "," (gunicorn.http.wsgi.create), as here
    assert seen(client, **{"X-Forwarded-For": "192.0.2.1,198.51.100.7"})["addr"] == "198.51.100.7"


def test_with_two_hops_the_second_from_the_right_is_the_client():
    client = make_app(2)
    assert seen(client, **{"X-Forwarded-For": "192.0.2.1, 198.51.100.7, 10.9.9.9"})["addr"] == "198.51.100.7"
    # fewer values than trusted hops: the header is not the proxies' and is ignored
    assert seen(client, **{"X-Forwarded-For": "198.51.100.7"})["addr"] == PROXY


def test_forwarded_ipv6_clients_are_grouped_by_their_64():
    client = make_app(1)
    rotating = [f"2001:db8:1:2::{i:x}" for i in range(1, BURST + 2)]
    assert [anonymous(client, value) for value in rotating] == [401] * BURST + [429]
    assert anonymous(client, "2001:db8:1:3::1") == 401


@pytest.mark.parametrize("value", [
    "garbage", "unknown", "", " ", ",", ", ,", "198.51.100.7:443", "[2001:db8::1]:443", "[2001:db8::1]",
    '"198.51.100.7', "198.51.100.7\x00", "198.51.100.777", "x" * 4000, "é", "2001:db8::1/64",
    "198.51.100.7 198.51.100.8", "_gazonk", "obfuscated-node"])
def test_a_malformed_forwarded_for_is_ignored_never_an_error(value):
    """A value that is not an IP address is ignored: the proxy's address stays (every such request
    is treated alike), the request is answered as it would be without the header."""
    client = make_app(1)
    assert seen(client, **{"X-Forwarded-For": value})["addr"] == PROXY
    assert anonymous(client, value) == 401


def test_malformed_forwarded_for_values_share_the_proxys_budget_not_one_each():
    client = make_app(1)
    values = [f"junk-{i}" for i in range(BURST)] + ["198.51.100.7:1"]
    assert [anonymous(client, value) for value in values] == [401] * BURST + [429]


def test_with_one_hop_forwarded_proto_is_the_scheme_of_absolute_urls():
    client = make_app(1)
    assert seen(client, **{"X-Forwarded-For": "198.51.100.7", "X-Forwarded-Proto": "https"}) == {
        "addr": "198.51.100.7", "scheme": "https", "url": "https://localhost/v1/_whoami"}
    assert seen(client, **{"X-Forwarded-Proto": "HTTPS"})["scheme"] == "https"
    for i, junk in enumerate(("javascript", "ftp", "https, x", "", " ", "h\u00e9", "https:")):
        answer = seen(client, **{"X-Forwarded-Proto": junk, "X-Forwarded-For": f"192.0.2.{i}"})
        assert (answer["scheme"], answer["url"]) == ("http", "http://localhost/v1/_whoami"), junk


def test_errors_behind_a_proxy_are_still_the_envelope():
    client = make_app(1)
    response = client.get("/v1/nope", headers={"X-Forwarded-For": "garbage"},
                          environ_base={"REMOTE_ADDR": PROXY})
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "NOT_FOUND"

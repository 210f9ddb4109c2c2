"""Rate-limit audit: requests without a valid key are limited per client: an IPv4 address, or an
IPv6 /64 (one host picks addresses in its /64 freely), the same client whichever way its IPv4
address is written."""
from __future__ import annotations

import pytest

from gateway.ratelimit import client_network
from tests.ratelimit.conftest import PLANS, make_app

BURST = PLANS["anonymous"].burst_per_second


def statuses(client, addresses: list[str]) -> list[int]:
    return [client.get("/v1/_probe", environ_base={"REMOTE_ADDR": a}).status_code for a in addresses]


def test_addresses_of_one_ipv6_64_share_one_budget():
    app, _ = make_app()
    client = app.test_client()
    rotating = [f"2001:db8:1:2:{i:x}::{i:x}" for i in range(1, BURST + 2)]
    assert statuses(client, rotating) == [401] * BURST + [429]
    assert statuses(client, ["2001:db8:1:3::1"]) == [401]  # the next /64 is another client


def test_an_ipv4_mapped_address_is_its_ipv4_address():
    app, _ = make_app()
    client = app.test_client()
    addresses = ["192.0.2.7", "::ffff:192.0.2.7"] * BURST
    assert statuses(client, addresses[:BURST + 1]) == [401] * BURST + [429]


@pytest.mark.parametrize(("address", "bucket"), [
    ("192.0.2.7", "192.0.2.7"), ("::ffff:192.0.2.7", "192.0.2.7"),
    ("2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::/64"), ("::1", "::/64"),
    ("not an address", "not an address"), (None, "unknown"), ("", "unknown"),
])
def test_client_network(address, bucket):
    assert client_network(address) == bucket

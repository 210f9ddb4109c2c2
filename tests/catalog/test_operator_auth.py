"""Operator calls (accounts, and any account's keys without an API key) come from catalog's own
host or carry the deployment's operator token: from anywhere else they are refused and create
nothing. Through a real gRPC server listening on every address, called over loopback and over
this host's own network address."""
from __future__ import annotations

import socket
import uuid

import grpc
import pytest
from sqlalchemy import func, select

from anomalywatch.catalog.v1 import accounts_pb2, accounts_pb2_grpc
from anomalywatch.common.v1 import common_pb2
from services.catalog.account_servicer import AccountServicer, lookup_principal
from services.catalog.models import Account, ApiKey
from services.catalog.operator_auth import OPERATOR_TOKEN_METADATA, OperatorGate, peer_is_local
from services.common.auth import PrincipalCache
from services.common.errors import from_rpc_error
from services.common.grpc_server import ServiceSpec, create_server

TOKEN = "operator-secret-1"


@pytest.mark.parametrize(("peer", "local"), [
    ("ipv4:127.0.0.1:5000", True), ("ipv4:127.8.9.10:1", True), ("ipv6:[::1]:5000", True),
    ("ipv6:%5B::1%5D:5000", True), ("ipv6:[::ffff:127.0.0.1]:7", True), ("unix:/run/catalog.sock", True),
    ("ipv4:10.0.0.5:5000", False), ("ipv4:192.0.2.2:1", False), ("ipv6:[fd00::2]:1", False),
    ("ipv6:[::ffff:10.0.0.1]:7", False), ("ipv4:localhost:1", False), ("", False), ("garbage", False)])
def test_only_loopback_and_unix_socket_peers_are_local(peer, local):
    assert peer_is_local(peer) is local


def own_network_address() -> str:
    """An address of this host that is not loopback (a UDP connect sends nothing)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))
        except OSError:
            pytest.skip("this host has no network address besides loopback")
        address = probe.getsockname()[0]
    if address.startswith("127."):
        pytest.skip("this host has no network address besides loopback")
    return address


@pytest.fixture
def catalog_port(db):
    def register(server):
        accounts_pb2_grpc.add_AccountServiceServicer_to_server(
            AccountServicer(db, PrincipalCache(lookup_principal(db)), {"free"},
                            operators=OperatorGate(TOKEN)), server)

    name = accounts_pb2.DESCRIPTOR.services_by_name["AccountService"].full_name
    server, port, _ = create_server(ServiceSpec(name="catalog-test", register=register, service_names=[name],
                                                max_workers=4), "0.0.0.0:0")
    server.start()
    yield port
    server.stop(None).wait()


@pytest.fixture
def name() -> str:
    """The accounts' name in this test (the PostgreSQL database is shared by the session's tests)."""
    return f"acme-{uuid.uuid4().hex}"


def create_account(host: str, port: int, name: str, token: str | None = None):
    metadata = ((OPERATOR_TOKEN_METADATA, token),) if token is not None else ()
    with grpc.insecure_channel(f"{host}:{port}") as channel:
        stub = accounts_pb2_grpc.AccountServiceStub(channel)
        return stub.CreateAccount(accounts_pb2.CreateAccountRequest(name=name, plan="free"),
                                  metadata=metadata, timeout=10).account


def refused(host: str, port: int, name: str, token: str | None = None) -> str:
    with pytest.raises(grpc.RpcError) as caught:
        create_account(host, port, name, token)
    return from_rpc_error(caught.value).code


def counts(db, name: str) -> tuple[int, int]:
    """(accounts named `name`, their keys)."""
    with db.read() as session:
        ids = select(Account.id).where(Account.name == name)
        return (session.scalar(select(func.count()).select_from(ids.subquery())),
                session.scalar(select(func.count()).where(ApiKey.account_id.in_(ids))))


def test_an_operator_call_from_another_host_needs_the_token(db, catalog_port, name):
    address = own_network_address()
    assert refused(address, catalog_port, name) == "FORBIDDEN"
    assert refused(address, catalog_port, name, "not-the-token") == "UNAUTHORIZED"
    assert counts(db, name) == (0, 0)
    assert create_account(address, catalog_port, name, TOKEN).name == name


def test_an_operator_key_call_from_another_host_without_the_token_creates_no_key(db, catalog_port, name):
    account = create_account("127.0.0.1", catalog_port, name)
    with grpc.insecure_channel(f"{own_network_address()}:{catalog_port}") as channel:
        stub = accounts_pb2_grpc.AccountServiceStub(channel)
        for call in (lambda: stub.CreateApiKey(accounts_pb2.CreateApiKeyRequest(
                         account_id=account.id, name="minted", scopes=["admin"],
                         environment=common_pb2.ENVIRONMENT_LIVE, operator=True), timeout=10),
                     lambda: stub.ListApiKeys(accounts_pb2.ListApiKeysRequest(
                         account_id=account.id, operator=True), timeout=10)):
            with pytest.raises(grpc.RpcError) as caught:
                call()
            assert from_rpc_error(caught.value).code == "FORBIDDEN"
    assert counts(db, name) == (1, 0)


def test_an_operator_call_over_loopback_needs_no_token_but_a_wrong_one_is_refused(db, catalog_port, name):
    assert create_account("127.0.0.1", catalog_port, name).name == name
    assert refused("127.0.0.1", catalog_port, name, "not-the-token") == "UNAUTHORIZED"
    assert create_account("127.0.0.1", catalog_port, name, TOKEN).name == name
    assert counts(db, name) == (2, 0)


def test_the_command_line_tool_sends_the_token_it_is_given(db, catalog_port, name):
    from cli.catalog_client import account_stub
    from services.common.config import Settings

    address = f"{own_network_address()}:{catalog_port}"
    request = accounts_pb2.CreateAccountRequest(name=name, plan="free")
    stub, timeout = account_stub(Settings(catalog_addr=address, operator_token=TOKEN))
    assert stub.CreateAccount(request, timeout=timeout).account.name == name
    stub, timeout = account_stub(Settings(catalog_addr=address))
    with pytest.raises(grpc.RpcError) as caught:
        stub.CreateAccount(request, timeout=timeout)
    assert from_rpc_error(caught.value).code == "FORBIDDEN"
    assert counts(db, name) == (1, 0)

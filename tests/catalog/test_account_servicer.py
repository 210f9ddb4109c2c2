"""AccountService through a real in-process gRPC server, keys looked up in the database: what an
admin key of each environment may create, list and revoke, and key expiry times that no
Timestamp or ISO string can hold."""
from __future__ import annotations

import grpc
import pytest
from sqlalchemy import select

from anomalywatch.catalog.v1 import accounts_pb2, accounts_pb2_grpc
from anomalywatch.common.v1 import common_pb2
from services.catalog.account_servicer import AccountServicer, lookup_principal
from services.catalog.models import ApiKey
from services.common.auth import PrincipalCache
from services.common.errors import ServiceError, from_rpc_error
from services.common.grpc_server import ServiceSpec, create_server
from services.common.timeutil import EARLIEST, LATEST

from .conftest import T0

NOW = T0 + 10_000
LIVE, TEST = common_pb2.ENVIRONMENT_LIVE, common_pb2.ENVIRONMENT_TEST


@pytest.fixture
def stub(db):
    def register(server):
        accounts_pb2_grpc.add_AccountServiceServicer_to_server(
            AccountServicer(db, PrincipalCache(lookup_principal(db, lambda: NOW)), {"free", "pro"},
                            lambda: NOW), server)

    name = accounts_pb2.DESCRIPTOR.services_by_name["AccountService"].full_name
    server, port, _ = create_server(ServiceSpec(name="catalog-test", register=register, service_names=[name],
                                                max_workers=4), "127.0.0.1:0")
    server.start()
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        yield accounts_pb2_grpc.AccountServiceStub(channel)
    server.stop(None).wait()


class Admin:
    """An admin key of one environment, calling AccountService with it."""

    def __init__(self, stub, secret: str, key_id: str):
        self.stub, self.key_id = stub, key_id
        self.metadata = (("authorization", f"Bearer {secret}"),)

    def __call__(self, method: str, request):
        return getattr(self.stub, method)(request, metadata=self.metadata, timeout=10)

    def error(self, method: str, request) -> tuple[grpc.StatusCode, ServiceError]:
        with pytest.raises(grpc.RpcError) as caught:
            self(method, request)
        return caught.value.code(), from_rpc_error(caught.value)


@pytest.fixture
def account(db, seed) -> str:
    return seed.account()


def make_admin(stub, account_id: str, environment: int) -> Admin:
    """An admin key made by an operator (the command-line tool), who may make any."""
    answer = stub.CreateApiKey(accounts_pb2.CreateApiKeyRequest(
        account_id=account_id, scopes=["admin", "read"], environment=environment, operator=True), timeout=10)
    return Admin(stub, answer.key, answer.api_key.id)


@pytest.fixture
def live(stub, account) -> Admin:
    return make_admin(stub, account, LIVE)


@pytest.fixture
def sandbox(stub, account) -> Admin:
    return make_admin(stub, account, TEST)


def stored_keys(db, account_id: str) -> list[tuple[str, str, float | None, float | None]]:
    with db.read() as session:
        return sorted(session.execute(
            select(ApiKey.id, ApiKey.environment, ApiKey.revoked_at, ApiKey.expires_at)
            .where(ApiKey.account_id == account_id)).all())


def test_a_test_admin_key_cannot_create_a_live_key(db, account, live, sandbox):
    before = stored_keys(db, account)
    code, error = sandbox.error("CreateApiKey",
                                accounts_pb2.CreateApiKeyRequest(scopes=["read"], environment=LIVE))
    assert code == grpc.StatusCode.PERMISSION_DENIED and error.code == "FORBIDDEN"
    assert error.details == {"field": "environment", "allowed": ["test"]}
    assert stored_keys(db, account) == before
    # ...but test keys, also when the environment is left to the caller's
    for environment in (TEST, common_pb2.ENVIRONMENT_UNSPECIFIED):
        answer = sandbox("CreateApiKey",
                         accounts_pb2.CreateApiKeyRequest(scopes=["read"], environment=environment))
        assert answer.key.startswith("aw_test_") and answer.api_key.environment == TEST


def test_a_live_admin_key_manages_both_environments(live, sandbox):
    answer = live("CreateApiKey", accounts_pb2.CreateApiKeyRequest(scopes=["read"], environment=TEST))
    assert answer.key.startswith("aw_test_")
    assert live("CreateApiKey", accounts_pb2.CreateApiKeyRequest(scopes=["read"])).key.startswith("aw_live_")
    listed = live("ListApiKeys", accounts_pb2.ListApiKeysRequest())
    assert {k.environment for k in listed.api_keys} == {LIVE, TEST} and listed.page.total_size == 4
    assert live("RevokeApiKey", accounts_pb2.RevokeApiKeyRequest(key_id=sandbox.key_id)).api_key.HasField(
        "revoke_time")


def test_a_test_admin_key_lists_only_test_keys(live, sandbox):
    live("CreateApiKey", accounts_pb2.CreateApiKeyRequest(scopes=["read"], environment=LIVE))
    listed = sandbox("ListApiKeys", accounts_pb2.ListApiKeysRequest())
    assert [k.id for k in listed.api_keys] == [sandbox.key_id]
    assert listed.page.total_size == 1


def test_a_test_admin_key_cannot_revoke_a_live_key_it_is_not_found(db, account, live, sandbox):
    code, error = sandbox.error("RevokeApiKey", accounts_pb2.RevokeApiKeyRequest(key_id=live.key_id))
    assert code == grpc.StatusCode.NOT_FOUND and error.code == "KEY_NOT_FOUND"
    assert error.details == {"key_id": live.key_id}  # the same answer as an unknown id
    assert all(revoked is None for _, _, revoked, _ in stored_keys(db, account))
    assert live("ListApiKeys", accounts_pb2.ListApiKeysRequest()).page.total_size == 2  # the key still works


def expiring(seconds: int, nanos: int = 0) -> accounts_pb2.CreateApiKeyRequest:
    request = accounts_pb2.CreateApiKeyRequest(scopes=["read"])
    request.expire_time.seconds, request.expire_time.nanos = seconds, nanos
    return request


@pytest.mark.parametrize(("seconds", "nanos"), [
    (2**63 - 1, 0), (LATEST + 1, 0), (-(2**63), 0), (int(NOW) + 60, -5), (int(NOW) + 60, 10**9),
    (LATEST, 999_999_999), (int(NOW), 0), (int(NOW) - 60, 0), (EARLIEST, 0)])
def test_an_expiry_no_timestamp_holds_or_in_the_past_is_refused_and_nothing_is_stored(
        db, account, live, seconds, nanos):
    before = stored_keys(db, account)
    code, error = live.error("CreateApiKey", expiring(seconds, nanos))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and error.details["field"] == "expires_at"
    assert stored_keys(db, account) == before
    assert live("ListApiKeys", accounts_pb2.ListApiKeysRequest()).page.total_size == 1


def test_the_latest_expiry_a_timestamp_holds_is_kept_and_listed(live):
    answer = live("CreateApiKey", expiring(LATEST))
    listed = live("ListApiKeys", accounts_pb2.ListApiKeysRequest()).api_keys
    assert [k.expire_time.seconds for k in listed if k.id == answer.api_key.id] == [LATEST]

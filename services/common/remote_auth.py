"""Authenticating keys through catalog's AccountService (for every process but catalog)."""
from __future__ import annotations

from collections.abc import Callable

import grpc

from anomalywatch.catalog.v1 import accounts_pb2, accounts_pb2_grpc
from anomalywatch.common.v1 import common_pb2
from services.common.auth import Principal
from services.common.errors import from_rpc_error

_ENV = {common_pb2.ENVIRONMENT_LIVE: "live", common_pb2.ENVIRONMENT_TEST: "test"}


def remote_lookup(channel: grpc.Channel, timeout: float) -> Callable[[str], Principal]:
    stub = accounts_pb2_grpc.AccountServiceStub(channel)

    def lookup(key: str) -> Principal:
        try:
            response = stub.AuthenticateApiKey(accounts_pb2.AuthenticateApiKeyRequest(), timeout=timeout,
                                               metadata=(("authorization", f"Bearer {key}"),))
        except grpc.RpcError as error:
            raise from_rpc_error(error) from None
        p = response.principal
        return Principal(key_id=p.key_id, account_id=p.scope.account_id,
                         environment=_ENV[p.scope.environment], scopes=frozenset(p.scopes), plan=p.plan)
    return lookup

"""AccountService: accounts and API keys over gRPC (thin: proto in, domain call, proto out)."""
from __future__ import annotations

import time
from collections.abc import Callable

from anomalywatch.catalog.v1 import accounts_pb2, accounts_pb2_grpc
from services.catalog import accounts, convert
from services.catalog.configs import Scope
from services.catalog.db import Database
from services.catalog.operator_auth import OperatorGate
from services.common import paging
from services.common.auth import Principal, PrincipalCache
from services.common.errors import ServiceError
from services.common.timeutil import checked_seconds, to_timestamp


def lookup_principal(db: Database, clock: Callable[[], float] = time.time) -> Callable[[str], Principal]:
    """Key -> principal straight from the database (the catalog's own PrincipalCache source)."""
    def lookup(secret: str) -> Principal:
        now = clock()
        with db.read() as session:
            principal, touch = accounts.authenticate(session, secret, now)
        if touch:
            with db.transaction() as session:
                accounts.touch_key(session, principal.key_id, now)
        return principal
    return lookup


def _manageable(principal: Principal | None) -> tuple[str, ...]:
    return accounts.manageable_environments(principal.environment if principal else None)


class AccountServicer(accounts_pb2_grpc.AccountServiceServicer):
    def __init__(self, db: Database, principals: PrincipalCache, plans: set[str],
                 clock: Callable[[], float] = time.time, operators: OperatorGate | None = None):
        self.db, self.principals, self.plans, self.clock = db, principals, plans, clock
        self.operators = operators or OperatorGate(None)

    def _admin(self, context, operator: bool) -> Principal | None:
        """The caller's admin key, or None for an operator call (the command-line tool, no key)."""
        if operator:
            self.operators.check(context)
            return None
        return self.principals.from_context(context, "admin")

    def CreateAccount(self, request, context):
        self.operators.check(context)
        with self.db.transaction() as session:
            account = accounts.create_account(session, request.name, request.plan, self.plans, self.clock())
        return accounts_pb2.CreateAccountResponse(account=accounts_pb2.Account(
            id=account.id, name=account.name, plan=account.plan,
            create_time=to_timestamp(account.created_at)))

    def CreateApiKey(self, request, context):
        principal = self._admin(context, request.operator)
        account_id = principal.account_id if principal else request.account_id
        if principal and request.account_id and request.account_id != principal.account_id:
            raise ServiceError("FORBIDDEN", "keys can only be created for the caller's own account")
        # Unspecified: the caller's own environment (an operator must name one).
        environment = convert.ENV_FROM_PROTO.get(request.environment,
                                                 principal.environment if principal else "")
        expires = (checked_seconds(request.expire_time, "expires_at") if request.HasField("expire_time")
                   else None)
        with self.db.transaction() as session:
            key, secret = accounts.create_key(session, account_id, request.name, list(request.scopes),
                                              environment, expires, self.clock(), _manageable(principal))
        return accounts_pb2.CreateApiKeyResponse(api_key=convert.api_key(key), key=secret)

    def ListApiKeys(self, request, context):
        principal = self._admin(context, request.operator)
        account_id = principal.account_id if principal else request.account_id
        offset, limit = paging.bounds(request.page)
        with self.db.read() as session:
            accounts.get_account(session, account_id)
            rows, total = accounts.list_keys(session, account_id, _manageable(principal), offset, limit)
        return accounts_pb2.ListApiKeysResponse(api_keys=[convert.api_key(r) for r in rows],
                                                page=paging.info(offset, limit, total))

    def RevokeApiKey(self, request, context):
        principal = self._admin(context, request.operator)
        with self.db.transaction() as session:
            key = accounts.revoke_key(session, request.key_id, principal.account_id if principal else None,
                                      _manageable(principal), self.clock())
        return accounts_pb2.RevokeApiKeyResponse(api_key=convert.api_key(key))

    def AuthenticateApiKey(self, request, context):
        principal = self.principals.from_context(context)
        return accounts_pb2.AuthenticateApiKeyResponse(principal=accounts_pb2.Principal(
            key_id=principal.key_id,
            scope=convert.scope_to_proto(Scope(principal.account_id, principal.environment)),
            scopes=sorted(principal.scopes), plan=principal.plan))

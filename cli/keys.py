"""`anomalywatch keys create|list|revoke`: API keys, as an operator."""
from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("keys", help="manage API keys")
    actions = parser.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", help="create a key; prints the key alone on the last line")
    create.add_argument("--account", required=True, help="account id (acct_...)")
    create.add_argument("--environment", choices=("live", "test"), default="live")
    create.add_argument("--scopes", default="ingest,read,write,forecast,admin",
                        help="comma-separated: ingest,read,write,forecast,admin")
    create.add_argument("--name", default="")
    create.add_argument("--expires-at", help="ISO 8601 expiry (default: never)")
    create.set_defaults(handler=create_key)
    listing = actions.add_parser("list", help="list an account's keys (never the secret)")
    listing.add_argument("--account", required=True)
    listing.set_defaults(handler=list_keys)
    revoke = actions.add_parser("revoke", help="revoke a key by id")
    revoke.add_argument("key_id")
    revoke.set_defaults(handler=revoke_key)


def create_key(args: argparse.Namespace) -> int:
    from anomalywatch.catalog.v1 import accounts_pb2
    from anomalywatch.common.v1 import common_pb2
    from cli.catalog_client import account_stub, call
    from services.common.timeutil import parse_iso, to_timestamp

    request = accounts_pb2.CreateApiKeyRequest(
        account_id=args.account, name=args.name,
        scopes=[s.strip() for s in args.scopes.split(",") if s.strip()],
        environment=(common_pb2.ENVIRONMENT_LIVE if args.environment == "live"
                     else common_pb2.ENVIRONMENT_TEST),
        operator=True)
    if args.expires_at:
        try:
            request.expire_time.CopyFrom(to_timestamp(parse_iso(args.expires_at)))
        except ValueError:
            print(f"error: VALIDATION_ERROR: --expires-at {args.expires_at[:40]!r} is not an ISO 8601 "
                  "time up to 9999-12-31 (e.g. 2027-01-31T00:00:00Z)", file=sys.stderr)
            return 1
    stub, timeout = account_stub()
    response = call(lambda: stub.CreateApiKey(request, timeout=timeout))
    print(f"created {response.api_key.id} ({','.join(response.api_key.scopes)}, {args.environment}); "
          "the key is shown once:")
    print(response.key)
    return 0


def _every_key(stub, timeout: float, account_id: str):
    """The account's keys, page after page (a page holds at most 1000)."""
    from anomalywatch.catalog.v1 import accounts_pb2
    from anomalywatch.common.v1 import common_pb2
    from cli.catalog_client import call

    def page(token: str):
        request = accounts_pb2.ListApiKeysRequest(
            account_id=account_id, operator=True,
            page=common_pb2.PageRequest(page_size=1000, page_token=token))
        return call(lambda: stub.ListApiKeys(request, timeout=timeout))

    token = ""
    while True:
        response = page(token)
        yield from response.api_keys
        token = response.page.next_page_token
        if not token or not response.api_keys:
            return


def list_keys(args: argparse.Namespace) -> int:
    from anomalywatch.common.v1 import common_pb2
    from cli.catalog_client import account_stub
    from services.common.timeutil import iso_of

    stub, timeout = account_stub()
    keys = list(_every_key(stub, timeout, args.account))  # a failure prints no partial table
    print("id\tprefix\tenvironment\tscopes\tname\tcreated\trevoked")
    for key in keys:
        env = "live" if key.environment == common_pb2.ENVIRONMENT_LIVE else "test"
        revoked = iso_of(key.revoke_time) if key.HasField("revoke_time") else "-"
        print(f"{key.id}\t{key.prefix}\t{env}\t{','.join(key.scopes)}\t{key.name or '-'}\t"
              f"{iso_of(key.create_time)}\t{revoked}")
    return 0


def revoke_key(args: argparse.Namespace) -> int:
    from anomalywatch.catalog.v1 import accounts_pb2
    from cli.catalog_client import account_stub, call

    stub, timeout = account_stub()
    request = accounts_pb2.RevokeApiKeyRequest(key_id=args.key_id, operator=True)
    response = call(lambda: stub.RevokeApiKey(request, timeout=timeout))
    print(f"revoked {response.api_key.id}")
    return 0

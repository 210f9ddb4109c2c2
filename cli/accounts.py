"""`anomalywatch accounts create --name NAME [--plan free|pro|enterprise]`."""
from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("accounts", help="manage accounts")
    actions = parser.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", help="create an account and print its id")
    create.add_argument("--name", required=True)
    create.add_argument("--plan", default="free", help="free, pro or enterprise (default free)")
    create.set_defaults(handler=create_account)


def create_account(args: argparse.Namespace) -> int:
    from anomalywatch.catalog.v1 import accounts_pb2
    from cli.catalog_client import account_stub, call

    stub, timeout = account_stub()
    response = call(lambda: stub.CreateAccount(
        accounts_pb2.CreateAccountRequest(name=args.name, plan=args.plan), timeout=timeout))
    print(response.account.id)
    return 0

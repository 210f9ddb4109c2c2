"""`anomalywatch keys list` shows every key of the account, not only the first page of 1000."""
from __future__ import annotations

import argparse

import grpc
import pytest

from anomalywatch.catalog.v1 import accounts_pb2, accounts_pb2_grpc
from cli import keys as cli_keys
from services.catalog import accounts
from services.catalog.account_servicer import AccountServicer, lookup_principal
from services.catalog.db import Database, migrate
from services.common.auth import ENVIRONMENTS, PrincipalCache
from services.common.grpc_server import ServiceSpec, create_server

NOW = 1_800_000_000.0
KEYS = 1203  # more than one page of 1000


@pytest.fixture
def catalog(tmp_path):
    """A catalog AccountService in process on a fresh SQLite database: (stub, db)."""
    url = f"sqlite:///{tmp_path}/keys.db"
    migrate(url)
    db = Database(url)

    def register(server):
        principals = PrincipalCache(lookup_principal(db, lambda: NOW))
        servicer = AccountServicer(db, principals, {"free"}, lambda: NOW)
        accounts_pb2_grpc.add_AccountServiceServicer_to_server(servicer, server)

    name = accounts_pb2.DESCRIPTOR.services_by_name["AccountService"].full_name
    server, port, _ = create_server(ServiceSpec(name="catalog-test", register=register, service_names=[name],
                                                max_workers=2), "127.0.0.1:0")
    server.start()
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        yield accounts_pb2_grpc.AccountServiceStub(channel), db
    server.stop(None).wait()
    db.dispose()


def test_keys_list_prints_every_key_of_an_account_with_more_than_a_page(catalog, monkeypatch, capsys):
    stub, db = catalog
    with db.transaction() as session:
        account_id = accounts.create_account(session, "many keys", "free", {"free"}, NOW).id
        made = {accounts.create_key(session, account_id, f"k{i}", ["read"], "live", None, NOW + i,
                                    ENVIRONMENTS)[0].id for i in range(KEYS)}
    monkeypatch.setattr("cli.catalog_client.account_stub", lambda: (stub, 10))
    assert cli_keys.list_keys(argparse.Namespace(account=account_id)) == 0
    header, *rows = capsys.readouterr().out.splitlines()
    assert header.startswith("id\tprefix")
    assert len(rows) == KEYS and {row.split("\t")[0] for row in rows} == made

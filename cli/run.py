"""`anomalywatch run`: every service on localhost in the foreground (what `make run` does).

On first run it creates a development account and an admin key (all scopes, live), kept in
var/dev-admin-key so later runs print the same key."""
from __future__ import annotations

import argparse
import os
import signal
import threading
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from services.common.config import Settings

DEV_KEY_FILE = Path("var/dev-admin-key")


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("run", help="start every service on localhost (Ctrl-C stops them)")
    parser.set_defaults(handler=run)


def dev_admin_key(settings: Settings) -> str:
    """The stored development key if it still works, else a new account and key."""
    import grpc

    from anomalywatch.catalog.v1 import accounts_pb2
    from anomalywatch.common.v1 import common_pb2
    from cli.catalog_client import account_stub

    timeout = settings.rpc_timeout_seconds
    stub, _ = account_stub(settings)
    if DEV_KEY_FILE.exists():
        key = DEV_KEY_FILE.read_text().strip()
        try:
            stub.AuthenticateApiKey(accounts_pb2.AuthenticateApiKeyRequest(), timeout=timeout,
                                    metadata=(("authorization", f"Bearer {key}"),))
            return key
        except grpc.RpcError:
            pass  # the database was reset: make a new one
    account = stub.CreateAccount(accounts_pb2.CreateAccountRequest(name="development", plan="enterprise"),
                                 timeout=timeout).account
    created = stub.CreateApiKey(accounts_pb2.CreateApiKeyRequest(
        account_id=account.id, name="development admin",
        scopes=["ingest", "read", "write", "forecast", "admin"],
        environment=common_pb2.ENVIRONMENT_LIVE, operator=True), timeout=timeout)
    DEV_KEY_FILE.parent.mkdir(parents=True, exist_ok=True)
    DEV_KEY_FILE.write_text(created.key + "\n")
    DEV_KEY_FILE.chmod(0o600)
    return created.key


def run(args: argparse.Namespace) -> int:
    from cli.local_system import LocalSystem
    from services.common.config import load_settings

    settings = load_settings()
    system = LocalSystem.from_env(dict(os.environ), Path.cwd())
    stop = threading.Event()
    # SIGHUP too: the terminal closing would end this process alone, and the services (each in a
    # session of its own) would go on holding their ports.
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda *_: stop.set())
    print(f"starting AnomalyWatch (logs in {system.log_dir}/) ...", flush=True)
    try:
        system.start()
        key = dev_admin_key(settings)
        print(f"\nAnomalyWatch is running.\n  gateway:   http://{settings.gateway_addr}\n"
              f"  admin key: {key}\n\nCtrl-C stops every service.", flush=True)
        while not stop.wait(1.0):
            exited = system.first_exited()
            if exited:
                print(f"{exited.name} exited with code {exited.popen.returncode}; stopping "
                      f"(see {system.log_dir}/{exited.name}.log)", flush=True)
                return 1
        return 0
    except RuntimeError as error:
        print(f"error: {error}", flush=True)
        return 1
    finally:
        print("stopping ...", flush=True)
        system.stop()

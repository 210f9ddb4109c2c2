"""`anomalywatch serve SERVICE`: run one service in the foreground."""
from __future__ import annotations

import argparse
import importlib

SERVICES = {
    "catalog": "services.catalog.server",
    "ingest": "services.ingest.server",
    "detect": "services.detect.server",
    "forecast": "services.forecast.server",
    "gateway": "gateway.server",
}


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("serve", help="run one service in the foreground")
    parser.add_argument("service", choices=sorted(SERVICES))
    parser.set_defaults(handler=serve)


def serve(args: argparse.Namespace) -> int:
    return int(importlib.import_module(SERVICES[args.service]).main() or 0)

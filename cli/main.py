"""Entry point of the `anomalywatch` command: each sub-command lives in its own module."""
from __future__ import annotations

import argparse
import importlib
import sys

# name -> module exposing `register(subparsers)`, which sets `handler`; each module keeps its heavy
# imports inside the handler so `--help` stays fast and a command pays only for what it uses.
COMMANDS = {
    "accounts": "cli.accounts",
    "keys": "cli.keys",
    "serve": "cli.serve",
    "run": "cli.run",
    "replay": "cli.replay",
    "forecast": "cli.forecast",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="anomalywatch", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module_name in COMMANDS.values():
        importlib.import_module(module_name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.handler(args) or 0)


if __name__ == "__main__":
    sys.exit(main())

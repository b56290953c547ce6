"""``cortexhooks events``: the event catalog (name, family, description)."""

from __future__ import annotations

import argparse
from typing import Any

from cortexhooks_receiver.events import CATALOG

from ._common import EXIT_OK, CLIError, Console, add_json_flag

__all__ = ["register", "run"]


def register(subparsers: Any) -> None:
    """Add the ``events`` command."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "events",
        help="list the CortexBuild event types",
        description="List every event type of the catalog with its family and description.",
    )
    parser.add_argument("--family", help=f"only one family ({', '.join(CATALOG.families)})")
    add_json_flag(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, console: Console) -> int:
    """Print the catalog as a table, or as a JSON list with ``--json``."""
    specs = list(CATALOG)
    if args.family is not None:
        if args.family not in CATALOG.families:
            raise CLIError(
                f"unknown family {args.family!r}; choose from {', '.join(CATALOG.families)}"
            )
        specs = [s for s in specs if s.family == args.family]
    if args.json:
        console.json(
            [
                {
                    "name": s.name,
                    "family": s.family,
                    "description": s.description,
                    "payload": s.payload,
                }
                for s in specs
            ]
        )
    else:
        console.table(
            ["EVENT", "FAMILY", "DESCRIPTION"], [(s.name, s.family, s.description) for s in specs]
        )
    return EXIT_OK

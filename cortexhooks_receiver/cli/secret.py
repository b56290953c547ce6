"""``cortexhooks secret``: print a new random webhook secret, for local development and tests."""

from __future__ import annotations

import argparse
from typing import Any

from cortexhooks_receiver.emulator.ids import new_secret

from ._common import EXIT_OK, Console, add_json_flag

__all__ = ["register", "run"]


def register(subparsers: Any) -> None:
    """Add the ``secret`` command."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "secret",
        help="print a new random webhook secret (whsec_...)",
        description="Print a new webhook secret in CortexBuild's format (whsec_ and 32 random "
        "letters and digits), for a local receiver and `cortexhooks trigger`. In production, "
        "use the secret CortexBuild returned when you registered the webhook.",
    )
    add_json_flag(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, console: Console) -> int:
    """Print one new secret: the bare value (one line), or ``{"secret": ...}`` with ``--json``."""
    secret = new_secret()
    if args.json:
        console.json({"secret": secret})
    else:
        console.print(secret)
    return EXIT_OK

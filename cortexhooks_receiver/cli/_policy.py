"""The URL policy flags of the commands that send (``trigger``, ``serve``, ``replay``)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cortexhooks_receiver.sender import URLPolicy

__all__ = ["add_policy_flags", "policy_from"]


def add_policy_flags(parser: argparse.ArgumentParser) -> None:
    """Add ``--allow-private`` and ``--allow-host`` (the sender's URL policy exceptions)."""
    parser.add_argument(
        "--allow-private",
        action="store_true",
        help="allow private/link-local/CGNAT addresses (never cloud metadata)",
    )
    parser.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="HOST",
        help="accept this host as is, plain HTTP included (repeatable)",
    )


def policy_from(args: argparse.Namespace) -> URLPolicy:
    """Build the URL policy that the :func:`add_policy_flags` flags ask for. Never raises."""
    from cortexhooks_receiver.sender import URLPolicy

    return URLPolicy(allow_private=args.allow_private, allow_hosts=args.allow_host)

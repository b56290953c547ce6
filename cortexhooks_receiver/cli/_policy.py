"""The URL policy flags of the commands that send (``trigger``, ``serve``, ``replay``)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cortexhooks_receiver.sender import URLPolicy

__all__ = ["add_policy_flags", "policy_from"]


def add_policy_flags(parser: argparse.ArgumentParser, *, loopback_flag: bool = True) -> None:
    """Add ``--allow-private``, ``--allow-host`` and (unless ``loopback_flag`` is False, for a
    command that allows loopback anyway) ``--allow-loopback``: the URL policy's exceptions."""
    if loopback_flag:
        parser.add_argument(
            "--allow-loopback",
            action="store_true",
            help="allow webhook URLs on this machine (localhost, 127.0.0.1, [::1]): local "
            "development only, since any local service is reachable there",
        )
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


def policy_from(args: argparse.Namespace, *, allow_loopback: bool = False) -> URLPolicy:
    """Build the URL policy that the :func:`add_policy_flags` flags ask for. Never raises.

    ``allow_loopback=True`` allows loopback whatever the flags say (``trigger``: the URL is the
    one its user typed).
    """
    from cortexhooks_receiver.sender import URLPolicy

    return URLPolicy(
        allow_loopback=allow_loopback or getattr(args, "allow_loopback", False),
        allow_private=args.allow_private,
        allow_hosts=args.allow_host,
    )

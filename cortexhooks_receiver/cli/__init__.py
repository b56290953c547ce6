"""The ``cortexhooks`` command: listen, trigger, sign, verify, events, serve, replay, demo.

``main(argv)`` runs one command and returns its exit code: 0 success, 1 the command's check
failed (non-2xx answer, invalid signature, unexpected demo outcome), 2 bad usage or
configuration. Every command has ``--help``; most have ``--json`` for scripting. The commands
that send or serve over HTTP need the ``cli`` extra (httpx). See ``docs/cli.md``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TextIO

from cortexhooks_receiver._version import __version__

from . import demo, events, listen, replay, secret, serve, sign, trigger, verify
from ._common import EXIT_USAGE, CLIError, Console

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="cortexhooks",
        description="Tools for CortexBuild webhooks: a local emulator, a verifying listener, "
        "signing and verification helpers, and an end-to-end demo.",
    )
    parser.add_argument("--version", action="version", version=f"cortexhooks {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in (demo, listen, trigger, sign, verify, events, serve, replay, secret):
        module.register(subparsers)
    return parser


def main(
    argv: Sequence[str] | None = None, *, stdout: TextIO | None = None, stderr: TextIO | None = None
) -> int:
    """Run ``cortexhooks`` with ``argv`` (default ``sys.argv[1:]``); return the exit code.

    Never raises for bad input: usage errors print a message and return 2.
    """
    console = Console(stdout, stderr)
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version or a usage error
        return int(exc.code) if isinstance(exc.code, int) else EXIT_USAGE
    if args.command is None:
        parser.print_help(console.out)
        return EXIT_USAGE
    try:
        code: int = args.func(args, console)
    except CLIError as exc:
        console.warn(f"cortexhooks {args.command}: error: {exc.message}")
        return exc.code
    except ImportError as exc:
        console.warn(
            f"cortexhooks {args.command}: error: {exc.name or exc} is missing; "
            "install the CLI extra: pip install 'cortexhooks-receiver[cli]'"
        )
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

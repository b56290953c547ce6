"""The ``cortexhooks`` command: listen, trigger, sign, verify, events, serve, replay, demo, journal,
and worker, dead-letters, queue (background mode).

``main(argv)`` runs one command and returns its exit code: 0 success, 1 the command's check
failed (non-2xx answer, invalid signature, unexpected demo outcome), 2 bad usage or
configuration, 141 the reader of the output went away (``| head``), as for a Unix tool stopped
by SIGPIPE. Every command has ``--help``; most have ``--json`` for scripting. The commands that
send or serve over HTTP need the ``cli`` extra (httpx). See ``docs/cli.md``.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Final, TextIO

from cortexhooks_receiver._version import __version__
from cortexhooks_receiver.errors import ConfigurationError

from . import (
    dead_letters,
    demo,
    events,
    journal,
    listen,
    queue,
    replay,
    secret,
    serve,
    sign,
    trigger,
    verify,
    worker,
)
from ._common import EXIT_USAGE, CLIError, Console

__all__ = ["build_parser", "main"]

EXIT_READER_GONE: Final = 141
"""128 + SIGPIPE: what a shell reports for a Unix tool whose reader went away (``| head``)."""


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="cortexhooks",
        description="Tools for CortexBuild webhooks: a local emulator, a verifying listener, "
        "signing and verification helpers, and an end-to-end demo.",
    )
    parser.add_argument("--version", action="version", version=f"cortexhooks {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in (
        demo,
        listen,
        trigger,
        sign,
        verify,
        events,
        serve,
        replay,
        secret,
        journal,
        worker,
        dead_letters,
        queue,
    ):
        module.register(subparsers)
    return parser


def main(
    argv: Sequence[str] | None = None, *, stdout: TextIO | None = None, stderr: TextIO | None = None
) -> int:
    """Run ``cortexhooks`` with ``argv`` (default ``sys.argv[1:]``); return the exit code.

    Never raises for bad input: usage errors print a message and return 2. When whoever reads
    the output goes away (``cortexhooks sign body.json | head -1``), the command stops quietly,
    with no traceback, and returns 141.
    """
    console = Console(stdout, stderr)
    try:
        code = _run(argv, console)
        # Surface a reader that went away here, not in the interpreter's flush at exit.
        console.out.flush()
    except BrokenPipeError:
        _discard(console.out)
        return EXIT_READER_GONE
    return code


def _run(argv: Sequence[str] | None, console: Console) -> int:
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
    except ConfigurationError as exc:
        console.warn(f"cortexhooks {args.command}: error: {exc}")
        return EXIT_USAGE
    except ImportError as exc:
        console.warn(
            f"cortexhooks {args.command}: error: {exc.name or exc} is missing; "
            "install the CLI extra: pip install 'cortexhooks-receiver[cli]'"
        )
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    return code


def _discard(stream: TextIO) -> None:
    """Point ``stream``'s file descriptor at the null device.

    What is still buffered for a reader that went away must not raise again when Python flushes
    it at exit (the recipe in the :mod:`signal` docs, "Note on SIGPIPE").
    """
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):  # an in-memory stream: nothing to flush
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
    finally:
        os.close(devnull)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

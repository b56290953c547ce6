"""``cortexhooks verify``: check a captured request and explain why it fails, if it does."""

from __future__ import annotations

import argparse
import time
from typing import Any

from ._common import (
    EXIT_FAILED,
    EXIT_OK,
    CLIError,
    Console,
    add_json_flag,
    read_body,
    resolve_secret,
)
from .diagnose import diagnose

__all__ = ["register", "run"]


def register(subparsers: Any) -> None:
    """Add the ``verify`` command."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "verify",
        help="verify a body + headers and diagnose failures",
        description="Verify a captured delivery. On failure, say why: wrong secret, a "
        "re-serialised body, a timestamp in seconds, or clock skew. Exit 0 when valid, 1 when not.",
    )
    parser.add_argument("file", nargs="?", default="-", help="raw body file (default: stdin)")
    parser.add_argument(
        "--secret",
        action="append",
        help="webhook secret; repeat to try several (default: $CORTEXBUILD_WEBHOOK_SECRET)",
    )
    parser.add_argument("--signature", help="the X-CortexBuild-Signature value")
    parser.add_argument("--timestamp", help="the X-CortexBuild-Timestamp value")
    parser.add_argument(
        "--header",
        "-H",
        action="append",
        default=[],
        metavar="'NAME: VALUE'",
        help="a captured header line (repeatable), instead of --signature/--timestamp",
    )
    parser.add_argument("--tolerance", type=float, default=300.0, help="seconds (default 300)")
    parser.add_argument(
        "--now", type=int, help="Unix milliseconds to check the timestamp against (default: now)"
    )
    add_json_flag(parser)
    parser.set_defaults(func=run)


def _headers(lines: list[str]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in lines:
        name, sep, value = line.partition(":")
        if not sep or not name.strip():
            raise CLIError(f"--header expects 'Name: value', got {line!r}")
        headers[name.strip().lower()] = value.strip()
    return headers


def run(args: argparse.Namespace, console: Console) -> int:
    """Print the diagnosis; exit 0 when the request verifies, 1 when it does not."""
    headers = _headers(args.header)
    signature = args.signature or headers.get("x-cortexbuild-signature")
    timestamp = args.timestamp or headers.get("x-cortexbuild-timestamp")
    secrets = resolve_secret(args.secret)
    body = read_body(args.file)
    now_ms = args.now if args.now is not None else time.time_ns() // 1_000_000
    result = diagnose(body, signature, timestamp, secrets, now_ms=now_ms, tolerance=args.tolerance)
    if args.json:
        console.json(result)
    else:
        if result.ok:
            console.print(f"OK: {result.message}")
        else:
            console.print(f"FAILED ({result.problem}): {result.message}")
        for finding in result.findings:
            console.print(f"  - {finding}")
    return EXIT_OK if result.ok else EXIT_FAILED

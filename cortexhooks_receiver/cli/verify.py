"""``cortexhooks verify``: judge a captured request as the receiver does, and explain why."""

from __future__ import annotations

import argparse
import time
from typing import Any, Final

from cortexhooks_receiver.errors import VerificationError

from ._common import (
    EXIT_FAILED,
    EXIT_OK,
    CLIError,
    Console,
    add_json_flag,
    add_verbose_flag,
    read_body,
    resolve_secret,
)
from .diagnose import Diagnosis, diagnose

__all__ = ["register", "run"]

# HTTP servers drop a field value's surrounding spaces and tabs (RFC 9110, section 5.5), and a
# captured header line may keep its line ending: the receiver never sees either.
_NOT_RECEIVED: Final = " \t\r\n"


def register(subparsers: Any) -> None:
    """Add the ``verify`` command."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "verify",
        help="verify a body + headers and diagnose failures",
        description="Judge a captured delivery's signature and timestamp exactly as the receiver "
        "does. On failure, say what the receiver answers and why: a malformed or 'sha256='-"
        "prefixed signature, wrong secret, a re-serialised body, a timestamp in seconds, or clock "
        "skew. Exit 0 when the receiver would accept it, 1 when not.",
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
    add_verbose_flag(parser)
    add_json_flag(parser)
    parser.set_defaults(func=run)


def _headers(lines: list[str]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in lines:
        name, sep, value = line.partition(":")
        if not sep or not name.strip():
            raise CLIError(f"--header expects 'Name: value', got {line!r}")
        headers[name.strip().lower()] = value.strip(_NOT_RECEIVED)
    return headers


def _as_received(option: str | None, header: str | None) -> str | None:
    """The header value the receiver would get: the option's, else the captured header's."""
    return header if option is None else option.strip(_NOT_RECEIVED)


def run(args: argparse.Namespace, console: Console) -> int:
    """Print the verdict and its explanation; exit 0 when the receiver would accept, 1 when not."""
    headers = _headers(args.header)
    signature = _as_received(args.signature, headers.get("x-cortexbuild-signature"))
    timestamp = _as_received(args.timestamp, headers.get("x-cortexbuild-timestamp"))
    secrets = resolve_secret(args.secret)
    body = read_body(args.file)
    now_ms = args.now if args.now is not None else time.time_ns() // 1_000_000
    result = diagnose(body, signature, timestamp, secrets, now_ms=now_ms, tolerance=args.tolerance)
    if args.json:
        console.json(result)
    else:
        _print(result, console, verbose=args.verbose)
    return EXIT_OK if result.ok else EXIT_FAILED


def _print(result: Diagnosis, console: Console, *, verbose: bool) -> None:
    if result.ok:
        console.print(f"OK: {result.message}")
    else:
        console.print(
            f"FAILED: the receiver would answer {VerificationError.status} {result.error}"
        )
        why = "why" if result.problem == result.error else f"why ({result.problem})"
        console.print(f"  {why}: {result.message}")
    for line in result.findings + (result.notes if verbose else []):
        console.print(f"  - {line}")

"""``cortexhooks sign``: the headers CortexBuild would send with a body (from a file or stdin)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from cortexhooks_receiver.signature import sign

from ._common import EXIT_OK, Console, add_json_flag, read_body, resolve_secret

__all__ = ["register", "run"]


def register(subparsers: Any) -> None:
    """Add the ``sign`` command."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "sign",
        help="print the CortexBuild headers for a body",
        description="Sign a body exactly as CortexBuild does and print the request headers. "
        "The body is used byte for byte (no re-serialisation).",
    )
    parser.add_argument("file", nargs="?", default="-", help="body file (default: stdin)")
    parser.add_argument("--secret", help="webhook secret (default: $CORTEXBUILD_WEBHOOK_SECRET)")
    parser.add_argument("--timestamp", type=int, help="Unix milliseconds (default: now)")
    parser.add_argument("--event", help="X-CortexBuild-Event (default: the body's event field)")
    parser.add_argument("--delivery-id", help="X-CortexBuild-Delivery-Id (default: a new id)")
    parser.add_argument("--webhook-id", help="X-CortexBuild-Webhook-Id")
    add_json_flag(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, console: Console) -> int:
    """Print the headers (``Name: value`` lines, or a JSON object with ``--json``)."""
    body = read_body(args.file)
    secret = resolve_secret(args.secret)[0]
    event = args.event
    if event is None:
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict) and isinstance(parsed.get("event"), str):
            event = parsed["event"]
    headers = sign(
        body,
        secret,
        timestamp=args.timestamp,
        event=event,
        delivery_id=args.delivery_id,
        webhook_id=args.webhook_id,
    )
    if args.json:
        console.json(headers)
    else:
        for name, value in headers.items():
            console.print(f"{name}: {value}")
    return EXIT_OK

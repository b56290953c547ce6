"""``cortexhooks trigger``: send one realistic, signed event to a URL, as CortexBuild would."""

from __future__ import annotations

import argparse
import difflib
import json
import time
from typing import Any

from cortexhooks_receiver.emulator.samples import parse_assignment, sample_payload
from cortexhooks_receiver.events import CATALOG
from cortexhooks_receiver.sender import Endpoint, Sender, js_dumps

from ._common import (
    EXIT_FAILED,
    EXIT_OK,
    CLIError,
    Console,
    add_json_flag,
    read_body,
    resolve_secret,
)
from ._policy import add_policy_flags, policy_from

__all__ = ["register", "run"]


def register(subparsers: Any) -> None:
    """Add the ``trigger`` command."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "trigger",
        help="send one signed sample event to a URL",
        description="Build a realistic payload for EVENT, sign it like CortexBuild and POST it "
        "once. Exit 0 on a 2xx answer, 1 otherwise.",
    )
    parser.add_argument("event", help="event name, e.g. invoice.paid (see `cortexhooks events`)")
    parser.add_argument("--url", required=True, help="the receiver's webhook URL")
    parser.add_argument("--secret", help="webhook secret (default: $CORTEXBUILD_WEBHOOK_SECRET)")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="PATH=VALUE",
        help="override a field, e.g. data.amount=100 (JSON values; repeatable)",
    )
    parser.add_argument("--data-file", help="JSON file with the whole data object")
    parser.add_argument("--webhook-id", default="webhook-cli", help="X-CortexBuild-Webhook-Id")
    parser.add_argument("--delivery-id", help="X-CortexBuild-Delivery-Id (default: a new id)")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds (default 10)")
    parser.add_argument(
        "--dry-run", action="store_true", help="print the request instead of sending it"
    )
    add_policy_flags(parser, loopback_flag=False)
    add_json_flag(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, console: Console) -> int:
    """Send the event once and report the receiver's answer."""
    if args.event not in CATALOG:
        close = difflib.get_close_matches(args.event, CATALOG.names(), n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else " (see `cortexhooks events`)"
        raise CLIError(f"unknown event {args.event!r}{hint}")
    secret = resolve_secret(args.secret)[0]
    data: Any = None
    if args.data_file:
        try:
            data = json.loads(read_body(args.data_file))
        except ValueError:
            raise CLIError(f"{args.data_file} is not valid JSON") from None
        if not isinstance(data, dict):
            raise CLIError("--data-file must hold a JSON object")
    try:
        overrides = [parse_assignment(item) for item in args.set]
        payload = sample_payload(
            args.event, data=data, timestamp=time.time_ns() // 1_000_000, overrides=overrides
        )
    except (ValueError, TypeError) as exc:
        raise CLIError(str(exc)) from None
    endpoint = Endpoint(url=args.url, secret=secret, id=args.webhook_id)
    # The URL is the one the user typed: loopback (a local app under development) is allowed.
    sender = Sender(
        policy=policy_from(args, allow_loopback=True), schedule=(0,), timeout=args.timeout
    )
    if args.dry_run:
        body = js_dumps(payload)
        delivery = sender.new_delivery(endpoint, body, event=args.event)
        headers = sender.headers_for(endpoint, delivery, int(sender.now() * 1000))
        if args.json:
            console.json({"url": args.url, "headers": headers, "body": payload})
        else:
            console.print(f"POST {args.url}")
            for name, value in headers.items():
                console.print(f"{name}: {value}")
            console.print()
            console.print(body.decode("utf-8"))
        return EXIT_OK
    with sender:
        delivery = sender.deliver(endpoint, payload, delivery_id=args.delivery_id)
    attempt = delivery.attempts[0]
    if args.json:
        console.json(
            {
                "event": args.event,
                "deliveryId": delivery.delivery_id,
                "url": args.url,
                "status": attempt.status,
                "outcome": attempt.outcome,
                "latencyMs": attempt.latency_ms,
                "error": attempt.error,
                "response": attempt.response_body.decode("utf-8", "replace"),
            }
        )
    else:
        console.print(f"-> POST {args.url}  {args.event}  ({delivery.delivery_id})")
        status = attempt.status if attempt.status is not None else "no answer"
        console.print(f"<- {status}  {attempt.outcome}  {attempt.latency_ms:.0f} ms")
        if attempt.error:
            console.print(f"   {attempt.error}")
        if attempt.response_body:
            console.print("   " + attempt.response_body.decode("utf-8", "replace")[:500])
    return EXIT_OK if attempt.ok else EXIT_FAILED

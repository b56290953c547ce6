"""``cortexhooks journal``: list, show and rerun the receipts of a receiver's journal.

``TARGET`` is ``MODULE:ATTR`` naming your Receiver (built with ``journal=...``), as gunicorn
names an app; ``list`` and ``show`` also take a journal URL (``sqlite:///hooks.db``,
``redis://...``), which needs no code at all. ``rerun`` needs the Receiver: it re-verifies a
stored body with the receiver's secrets and lets its dedup store decide.

Exit codes: 0 done (a rerun answered 2xx), 1 no such receipt, a rerun refused or impossible
(no stored body), or the journal could not be read; 2 bad usage.
"""

from __future__ import annotations

import argparse
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import msgspec

from cortexhooks_receiver.errors import JournalError
from cortexhooks_receiver.journal import Journal, Receipt, open_journal
from cortexhooks_receiver.journal.base import DEFAULT_LIMIT

from ._common import EXIT_FAILED, EXIT_OK, CLIError, Console, add_json_flag
from ._target import receiver_of

__all__ = ["parse_since", "register", "run"]

_UNITS: Final = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}
_SINCE: Final = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw]?)")


def register(subparsers: Any) -> None:
    """Add the ``journal`` command and its ``list``, ``show`` and ``rerun`` actions."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "journal",
        help="list, show and rerun the receipts of a receiver's journal",
        description="Read the receipt journal of a receiver: every request it answered, refused "
        "ones included. TARGET is MODULE:ATTR naming your Receiver (or an object holding it, "
        "such as a WebhookApp); list and show also accept a journal URL "
        "(sqlite:///hooks.db, redis://host:6379/0?prefix=...).",
    )
    parser.add_argument("target", metavar="TARGET", help="MODULE:ATTR, or a journal URL")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="the newest receipts, filtered")
    listing.add_argument("--code", help="only this refusal code (e.g. signature_mismatch)")
    listing.add_argument("--event", help="only this event: a name, FAMILY.* or *")
    listing.add_argument(
        "--since", help="only receipts this recent: 90s, 15m, 1h, 2d, 1w, or an ISO date-time"
    )
    listing.add_argument(
        "--limit", type=int, default=DEFAULT_LIMIT, help=f"at most N (default {DEFAULT_LIMIT})"
    )
    add_json_flag(listing)
    show = actions.add_parser("show", help="one receipt, every field (and its body, if kept)")
    show.add_argument("receipt_id", type=int, metavar="ID")
    add_json_flag(show)
    rerun = actions.add_parser(
        "rerun",
        help="run a journaled delivery again through the receiver",
        description="Verify the stored body against its stored signature with the receiver's "
        "current secrets, then let its dedup store decide: a delivery already processed is a "
        "duplicate and nothing runs; one whose handler failed (or that was refused before a "
        "secret was fixed) runs now. Needs a receipt written with journal_bodies=True.",
    )
    rerun.add_argument("receipt_id", type=int, metavar="ID")
    add_json_flag(rerun)
    parser.set_defaults(func=run)


def parse_since(text: str, now: datetime | None = None) -> datetime | timedelta:
    """Read ``--since``: a duration (``90s``, ``15m``, ``1h``, ``2d``, ``1w``; a bare number is
    seconds) or an ISO 8601 date-time (UTC when it names no zone).

    Raises:
        CLIError: neither.
    """
    match = _SINCE.fullmatch(text.strip())
    if match is not None:
        return timedelta(seconds=float(match[1]) * _UNITS[match[2] or "s"])
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise CLIError(
            f"--since {text!r} is neither a duration (90s, 15m, 1h, 2d, 1w) nor an ISO date-time"
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def run(args: argparse.Namespace, console: Console) -> int:
    """Run one action on the target's journal.

    Raises:
        CLIError: a bad target, a receiver without a journal, ``rerun`` on a journal URL, or a
            bad ``--since``/``--limit``.
    """
    if args.action == "rerun":
        return _rerun(args, console)
    journal = _journal(args.target)
    try:
        if args.action == "list":
            return _list(journal, args, console)
        return _show(journal, args, console)
    except JournalError as exc:
        console.warn(f"cortexhooks journal: {exc}")
        return EXIT_FAILED
    finally:
        journal.close()


def _journal(target: str) -> Journal:
    if "://" in target:
        return open_journal(target)
    journal = receiver_of(target).journal
    if journal is None:
        raise CLIError(f"{target} has no journal: build it with journal='sqlite:///hooks.db'")
    return journal


def _list(journal: Journal, args: argparse.Namespace, console: Console) -> int:
    if args.limit < 1:
        raise CLIError("--limit must be 1 or more")
    since = None if args.since is None else parse_since(args.since)
    receipts = journal.query(code=args.code, event=args.event, since=since, limit=args.limit)
    if args.json:
        console.json([_wire(r) for r in receipts])
        return EXIT_OK
    if not receipts:
        console.print("No receipts.")
        return EXIT_OK
    console.table(
        ["ID", "RECEIVED (UTC)", "STATUS", "RESULT", "EVENT", "DELIVERY", "MS", "CLIENT"],
        [
            [
                r.id,
                r.received_at.strftime("%Y-%m-%d %H:%M:%S"),
                r.status,
                _result(r),
                r.event or "-",
                r.delivery_id or "-",
                f"{r.latency_ms:.1f}",
                r.client or "-",
            ]
            for r in receipts
        ],
    )
    return EXIT_OK


def _show(journal: Journal, args: argparse.Namespace, console: Console) -> int:
    receipt = journal.get(args.receipt_id)
    if receipt is None:
        console.warn(f"cortexhooks journal: no receipt {args.receipt_id} (or it was pruned)")
        return EXIT_FAILED
    if args.json:
        console.json(_wire(receipt))
        return EXIT_OK
    console.print(f"Receipt {receipt.id}")
    lines = [
        ("received at", receipt.received_at.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + " UTC"),
        ("status", f"{receipt.status} {_result(receipt)}"),
        ("event", receipt.event),
        ("delivery id", receipt.delivery_id),
        ("webhook id", receipt.webhook_id),
        ("latency", f"{receipt.latency_ms:.2f} ms"),
        ("secret index", receipt.secret_index),
        ("client", receipt.client),
        ("error", receipt.error),
        ("signature", receipt.signature),
        ("timestamp", receipt.timestamp),
    ]
    for label, value in lines:
        if value is not None:
            console.print(f"  {label + ':':<14}{value}")
    if receipt.body is None:
        console.print(f"  {'body:':<14}(not kept: bodies are journaled with journal_bodies=True)")
    else:
        console.print("  body:")
        for line in _pretty(receipt.body).splitlines():
            console.print("    " + line)
    return EXIT_OK


def _rerun(args: argparse.Namespace, console: Console) -> int:
    if "://" in args.target:
        raise CLIError(
            "rerun needs the receiver (its secrets, store and handlers): pass MODULE:ATTR, "
            "not a journal URL"
        )
    receiver = receiver_of(args.target)
    try:
        outcome = receiver.rerun(args.receipt_id)
    except JournalError as exc:
        console.warn(f"cortexhooks journal rerun: {exc}")
        return EXIT_FAILED
    answer = json.loads(outcome.body)
    if args.json:
        console.json(
            {
                "receipt": args.receipt_id,
                "status": outcome.status,
                "duplicate": outcome.duplicate,
                "error": None if outcome.error is None else outcome.error.code,
                "answer": answer,
            }
        )
    else:
        if outcome.error is not None:
            what = f"refused: {outcome.error.code}: {outcome.error.message}"
        elif outcome.duplicate:
            what = "a duplicate: it had been processed already, nothing ran"
        else:
            what = "processed: its handlers ran"
        console.print(f"Rerun of receipt {args.receipt_id}: {outcome.status}, {what}")
    return EXIT_OK if outcome.ok else EXIT_FAILED


def _result(receipt: Receipt) -> str:
    if receipt.code is not None:
        return receipt.code
    return "duplicate" if receipt.duplicate else "ok"


def _pretty(body: bytes) -> str:
    text = body.decode("utf-8", "replace")
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except ValueError:
        return text


def _wire(receipt: Receipt) -> dict[str, Any]:
    """The receipt as JSON: camelCase names like the other commands, the body as text."""
    fields = msgspec.to_builtins(receipt, builtin_types=(bytes,))
    wire: dict[str, Any] = {}
    for name, value in fields.items():
        head, *rest = name.split("_")
        key = head + "".join(part.capitalize() for part in rest)
        wire[key] = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
    return wire

"""``cortexhooks replay``: send logged deliveries from the emulator's database again."""

from __future__ import annotations

import argparse
import json
from typing import Any

from ._common import EXIT_FAILED, EXIT_OK, CLIError, Console, add_json_flag
from ._policy import add_policy_flags, policy_from

__all__ = ["register", "run"]


def register(subparsers: Any) -> None:
    """Add the ``replay`` command."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "replay",
        help="re-send logged deliveries from the emulator database",
        description="Send logged deliveries again now: the same body and delivery id with a "
        "fresh timestamp and signature (a receiver should answer 'duplicate'). Name them by id, "
        "select them with --webhook-id/--event/--last, or pass --all for every logged delivery. "
        "Exit 0 when every replay got a 2xx answer, 1 otherwise.",
    )
    parser.add_argument("delivery_ids", nargs="*", metavar="DELIVERY_ID", help="deliveries")
    parser.add_argument(
        "--all", action="store_true", help="every logged delivery (matching the filters)"
    )
    parser.add_argument(
        "--db", default="cortexhooks-emulator.db", help="the emulator's SQLite file"
    )
    parser.add_argument("--webhook-id", help="only deliveries of this webhook")
    parser.add_argument("--event", help="only deliveries of this event")
    parser.add_argument("--last", type=int, help="only the newest N matching deliveries")
    add_policy_flags(parser)
    add_json_flag(parser)
    parser.set_defaults(func=run)


def _check_selection(args: argparse.Namespace) -> None:
    """Refuse to re-send every logged delivery unless asked to in so many words.

    Raises:
        CLIError: no delivery id, filter or ``--all``; or ids together with ``--all``.
    """
    filtered = args.webhook_id is not None or args.event is not None or args.last is not None
    if args.delivery_ids and args.all:
        raise CLIError("pass delivery ids or --all, not both")
    if not (args.delivery_ids or filtered or args.all):
        raise CLIError(
            "which deliveries? pass delivery ids (DELIVERY_ID ...), a filter (--webhook-id, "
            "--event, --last N), or --all to re-send every logged delivery"
        )


def _answered_duplicate(response_body: bytes) -> bool:
    """True when the receiver's answer says it already had this delivery (DESIGN: dedup)."""
    try:
        answer = json.loads(response_body)
    except ValueError:
        return False
    return isinstance(answer, dict) and answer.get("duplicate") is True


def run(args: argparse.Namespace, console: Console) -> int:
    """Replay the selected deliveries and print one line (or JSON object) per attempt.

    Raises:
        CLIError: no selection (see ``--all``), no database, or nothing matches.
    """
    import os

    from cortexhooks_receiver.emulator import Emulator, EmulatorError

    _check_selection(args)
    if not os.path.exists(args.db):
        raise CLIError(f"no emulator database at {args.db} (run `cortexhooks serve --db ...`)")
    emulator = Emulator(args.db, token="replay", policy=policy_from(args))  # noqa: S106
    try:
        ids = list(args.delivery_ids) or emulator.db.delivery_ids(
            webhook_id=args.webhook_id, event=args.event, last=args.last
        )
        if not ids:
            raise CLIError("no logged delivery matches", code=EXIT_FAILED)
        results: list[dict[str, Any]] = []
        for delivery_id in ids:
            try:
                attempt = emulator.replay(delivery_id)
            except EmulatorError as exc:
                results.append(
                    {
                        "deliveryId": delivery_id,
                        "ok": False,
                        "duplicate": False,
                        "error": exc.message,
                    }
                )
                continue
            row = emulator.db.delivery(delivery_id)
            results.append(
                {
                    "deliveryId": delivery_id,
                    "event": row.event if row else None,
                    "ok": attempt.ok,
                    "status": attempt.status,
                    "outcome": attempt.outcome,
                    "duplicate": attempt.ok and _answered_duplicate(attempt.response_body),
                    "latencyMs": attempt.latency_ms,
                    "error": attempt.error,
                    "response": attempt.response_body.decode("utf-8", "replace"),
                }
            )
    finally:
        emulator.close()
    if args.json:
        console.json(results)
    else:
        console.table(
            ["DELIVERY", "EVENT", "STATUS", "RESULT"],
            [
                (
                    r["deliveryId"],
                    r.get("event") or "-",
                    r.get("status") or "-",
                    "duplicate" if r.get("duplicate") else r.get("outcome") or r.get("error"),
                )
                for r in results
            ],
        )
    return EXIT_OK if all(r["ok"] for r in results) else EXIT_FAILED

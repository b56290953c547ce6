"""``cortexhooks queue MODULE:ATTR stats``: how many jobs wait, run and died."""

from __future__ import annotations

import argparse
from typing import Any

from ._common import EXIT_FAILED, EXIT_OK, Console, add_json_flag
from ._target import add_target, queue_of

__all__ = ["register", "run"]


def register(subparsers: Any) -> None:
    """Add the ``queue`` command."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "queue",
        help="the gauges of a receiver's job queue",
        description="Print the queue's depth (unfinished jobs), due (waiting, runnable now), "
        "leased (running now), dead (dead letters) and the age of the oldest unfinished job.",
    )
    add_target(parser)
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    add_json_flag(actions.add_parser("stats", help="depth, due, leased, dead"))
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, console: Console) -> int:
    """Print the stats of the queue of the receiver ``args.target``."""
    from cortexhooks_receiver.errors import QueueError

    queue = queue_of(args.target)
    try:
        stats = queue.stats()
    except QueueError as exc:
        console.warn(f"cortexhooks queue: the queue is unavailable: {exc}")
        return EXIT_FAILED
    values = {
        "depth": stats.depth,
        "due": stats.due,
        "leased": stats.leased,
        "dead": stats.dead,
        "oldestAgeSeconds": None if stats.oldest_age is None else round(stats.oldest_age, 3),
    }
    if args.json:
        console.json(values)
    else:
        for name, value in values.items():
            console.print(f"{name:<17} {'unknown' if value is None else value}")
    return EXIT_OK

"""``cortexhooks dead-letters MODULE:ATTR list | show ID | replay ID | replay --all | purge``."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from ._common import EXIT_FAILED, EXIT_OK, CLIError, Console, add_json_flag
from ._target import add_target, queue_of

if TYPE_CHECKING:
    from cortexhooks_receiver.jobs import DeadLetter

__all__ = ["register", "run"]

_ERROR_WIDTH = 60


def register(subparsers: Any) -> None:
    """Add the ``dead-letters`` command and its actions."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "dead-letters",
        help="list, show, replay or purge the jobs that failed for good",
        description="The receiver's dead letters: jobs whose handlers failed max-attempts "
        "times or raised PermanentError. Replay one (or all) once the cause is fixed: it runs "
        "again from attempt 1.",
    )
    add_target(parser)
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="every dead letter, oldest failure first")
    show = actions.add_parser("show", help="one dead letter")
    show.add_argument("job_id", metavar="ID")
    replay = actions.add_parser("replay", help="queue a dead letter (or --all) again")
    replay.add_argument("job_id", metavar="ID", nargs="?")
    replay.add_argument("--all", action="store_true", help="replay every dead letter")
    purge = actions.add_parser("purge", help="delete every dead letter")
    for action in (listing, show, replay, purge):
        add_json_flag(action)
    parser.set_defaults(func=run)


def _as_dict(letter: DeadLetter) -> dict[str, Any]:
    return {
        "jobId": letter.job_id,
        "event": letter.event,
        "deliveryId": letter.delivery_id,
        "attempts": letter.attempts,
        "error": letter.error,
        "failedAt": letter.failed_at.isoformat(),
    }


def run(args: argparse.Namespace, console: Console) -> int:
    """Run one action on the dead letters of the receiver ``args.target``."""
    from cortexhooks_receiver.errors import JobNotFound, QueueError

    queue = queue_of(args.target)
    try:
        return _ACTIONS[args.action](queue, args, console)
    except JobNotFound as exc:
        console.warn(f"cortexhooks dead-letters: {exc}")
        return EXIT_FAILED
    except QueueError as exc:
        console.warn(f"cortexhooks dead-letters: the queue is unavailable: {exc}")
        return EXIT_FAILED


def _list(queue: Any, args: argparse.Namespace, console: Console) -> int:
    letters = queue.dead_letters()
    if args.json:
        console.json([_as_dict(letter) for letter in letters])
        return EXIT_OK
    if not letters:
        console.print("No dead letters.")
        return EXIT_OK
    console.table(
        ["JOB", "EVENT", "DELIVERY", "ATTEMPTS", "FAILED AT", "ERROR"],
        [
            (
                d.job_id,
                d.event,
                d.delivery_id or "-",
                d.attempts,
                d.failed_at.isoformat(timespec="seconds"),
                d.error if len(d.error) <= _ERROR_WIDTH else d.error[: _ERROR_WIDTH - 1] + "…",
            )
            for d in letters
        ],
    )
    return EXIT_OK


def _show(queue: Any, args: argparse.Namespace, console: Console) -> int:
    letter = _as_dict(queue.dead_letter(args.job_id))
    if args.json:
        console.json(letter)
    else:
        width = max(map(len, letter))
        for name, value in letter.items():
            console.print(f"{name.ljust(width)}  {value}")
    return EXIT_OK


def _replay(queue: Any, args: argparse.Namespace, console: Console) -> int:
    if args.all == (args.job_id is not None):
        raise CLIError("replay takes a dead letter's ID, or --all")
    ids = [letter.job_id for letter in queue.dead_letters()] if args.all else [args.job_id]
    for job_id in ids:
        queue.replay(job_id)
    if args.json:
        console.json({"replayed": ids})
    else:
        console.print(f"Replayed {len(ids)} dead letter(s): they run again from attempt 1.")
    return EXIT_OK


def _purge(queue: Any, args: argparse.Namespace, console: Console) -> int:
    count = queue.purge()
    if args.json:
        console.json({"purged": count})
    else:
        console.print(f"Purged {count} dead letter(s).")
    return EXIT_OK


_ACTIONS = {"list": _list, "show": _show, "replay": _replay, "purge": _purge}

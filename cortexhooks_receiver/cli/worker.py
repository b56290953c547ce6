"""``cortexhooks worker MODULE:ATTR``: run the handlers of the jobs a receiver queued."""

from __future__ import annotations

import argparse
from typing import Any

from ._common import EXIT_OK, CLIError, Console
from ._target import add_target, configure_logging, receiver_of

__all__ = ["register", "run"]


def register(subparsers: Any) -> None:
    """Add the ``worker`` command."""
    from cortexhooks_receiver.jobs.base import (
        DEFAULT_BACKOFF,
        DEFAULT_MAX_ATTEMPTS,
        DEFAULT_MAX_BACKOFF,
        DEFAULT_TIMEOUT,
    )

    parser: argparse.ArgumentParser = subparsers.add_parser(
        "worker",
        help="run the queued jobs of a receiver in background mode",
        description="Lease the receiver's due jobs and run their handlers: retries with "
        "exponential backoff and jitter, then dead letters. SIGTERM or Ctrl-C stops it after "
        "the running jobs. A job whose worker dies is taken over once its lease (--timeout) "
        "runs out.",
    )
    add_target(parser)
    parser.add_argument("--concurrency", type=int, default=1, help="jobs at once (default 1)")
    parser.add_argument(
        "--burst", action="store_true", help="stop once no job is due (cron, tests)"
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        help=f"a job's lease in seconds; async handlers are cancelled then (default "
        f"{DEFAULT_TIMEOUT:g})",
    )
    parser.add_argument(
        "--max-attempts",
        type=int,
        default=DEFAULT_MAX_ATTEMPTS,
        help=f"attempts before a job is a dead letter (default {DEFAULT_MAX_ATTEMPTS})",
    )
    parser.add_argument(
        "--backoff",
        type=float,
        default=DEFAULT_BACKOFF,
        help=f"seconds before the first retry, doubled each time (default {DEFAULT_BACKOFF:g})",
    )
    parser.add_argument(
        "--max-backoff",
        type=float,
        default=DEFAULT_MAX_BACKOFF,
        help=f"longest wait between attempts (default {DEFAULT_MAX_BACKOFF:g})",
    )
    parser.add_argument("--verbose", "-v", action="store_true", help="log at DEBUG level")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, console: Console) -> int:
    """Run the worker until a signal (or, with ``--burst``, until no job is due)."""
    from cortexhooks_receiver.jobs.worker import Worker

    configure_logging(args.verbose)
    receiver = receiver_of(args.target)
    if receiver.queue is None:
        raise CLIError(f"{args.target} runs its handlers inline: it has no queue to work on")
    worker = Worker(
        receiver,
        concurrency=args.concurrency,
        max_attempts=args.max_attempts,
        backoff=args.backoff,
        max_backoff=args.max_backoff,
        timeout=args.timeout,
    )
    ran = worker.run(burst=args.burst)
    console.warn(f"cortexhooks worker: {ran} job attempt(s)")
    return EXIT_OK

"""The receiver a background-mode command works on: ``MODULE:ATTR``, and its queue."""

from __future__ import annotations

import argparse
import logging
from typing import TYPE_CHECKING

from ._common import CLIError

if TYPE_CHECKING:
    from cortexhooks_receiver.jobs import Queue
    from cortexhooks_receiver.receiver import Receiver

__all__ = ["add_target", "configure_logging", "queue_of", "receiver_of"]


def add_target(parser: argparse.ArgumentParser) -> None:
    """Add the positional ``MODULE:ATTR`` argument (the receiver)."""
    parser.add_argument(
        "target",
        metavar="MODULE:ATTR",
        help="where your Receiver is, e.g. myapp.hooks:receiver (the module the web app uses)",
    )


def receiver_of(spec: str) -> Receiver:
    """Import the receiver ``spec`` names.

    Raises:
        ConfigurationError: the name cannot be imported.
        CLIError: it names something that is not a Receiver.
    """
    from cortexhooks_receiver._imports import import_object
    from cortexhooks_receiver.receiver import Receiver

    found = import_object(spec)
    if not isinstance(found, Receiver):
        raise CLIError(f"{spec} is a {type(found).__name__}, not a cortexhooks_receiver.Receiver")
    return found


def queue_of(spec: str) -> Queue:
    """The queue of the receiver ``spec`` names.

    Raises:
        ConfigurationError: the name cannot be imported.
        CLIError: not a receiver, or one without a queue (inline mode).
    """
    queue = receiver_of(spec).queue
    if queue is None:
        raise CLIError(f"{spec} runs its handlers inline: it has no queue (Receiver(queue=...))")
    return queue


def configure_logging(verbose: bool) -> None:
    """Send the package's logs to stderr (INFO, or DEBUG) unless the app configured logging."""
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(
            level=logging.DEBUG if verbose else logging.INFO,
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        )

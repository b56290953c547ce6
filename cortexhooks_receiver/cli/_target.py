"""The receiver a command works on, named ``MODULE:ATTR`` (as gunicorn and uvicorn name an app).

``MODULE`` is imported with the working directory on ``sys.path``; ``ATTR`` (dotted for nested
attributes) names a :class:`~cortexhooks_receiver.Receiver`, or anything that holds one in its
``receiver`` attribute (the WSGI/ASGI ``WebhookApp``, the Flask extension). Also the queue of
that receiver, for the background-mode commands.
"""

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
    """Import the receiver ``spec`` names (or the one the object it names holds).

    Raises:
        ConfigurationError: ``spec`` is not ``MODULE:ATTR``, or cannot be imported.
        CLIError: it names something that is not (and does not hold) a Receiver.
    """
    from cortexhooks_receiver._imports import import_object
    from cortexhooks_receiver.receiver import Receiver

    found = import_object(spec)
    held = getattr(found, "receiver", None)
    if not isinstance(found, Receiver) and isinstance(held, Receiver):
        found = held
    if not isinstance(found, Receiver):
        raise CLIError(f"{spec} is a {type(found).__name__}, not a cortexhooks Receiver")
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

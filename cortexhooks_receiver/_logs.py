"""The package's loggers, and the rules that keep a misconfiguration visible without a flood.

Logger names (the one place they are defined; ``docs/logging.md`` documents them):

* ``cortexhooks_receiver``: the receiver (refusals, duplicates, handler failures, store trouble).
* ``cortexhooks_receiver.stores``: the dedup stores (a memory store shared by processes).
* ``cortexhooks_receiver.journal``: the receipt journal (a receipt that could not be written).
* ``cortexhooks_receiver.jobs``: background mode: each job attempt (with structured fields),
  the worker's start, stop and queue trouble.
* ``cortexhooks_receiver.integrations``: the framework adapters.
* ``cortexhooks_receiver.sender`` and ``cortexhooks_receiver.emulator``: the reference sender and
  the local emulator.

Every message is safe to keep: it never holds a secret, an expected signature or a body.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from .errors import WebhookError

__all__ = [
    "REFUSAL_WARNING_INTERVAL",
    "FailureLog",
    "RefusalLog",
    "UnhandledLog",
    "adapter_logger",
    "emulator_logger",
    "jobs_logger",
    "journal_logger",
    "receiver_logger",
    "sender_logger",
    "store_logger",
]

receiver_logger: Final = logging.getLogger("cortexhooks_receiver")
store_logger: Final = logging.getLogger("cortexhooks_receiver.stores")
journal_logger: Final = logging.getLogger("cortexhooks_receiver.journal")
jobs_logger: Final = logging.getLogger("cortexhooks_receiver.jobs")
adapter_logger: Final = logging.getLogger("cortexhooks_receiver.integrations")
sender_logger: Final = logging.getLogger("cortexhooks_receiver.sender")
emulator_logger: Final = logging.getLogger("cortexhooks_receiver.emulator")

REFUSAL_WARNING_INTERVAL: Final = 60.0
"""Seconds between two WARNING lines for the same refusal code (the others go to INFO)."""

_MAX_UNHANDLED_NAMES: Final = 1024


class RefusalLog:
    """Logs refused requests: a code's first refusal at WARNING with its hint, then rate-limited.

    A wrong secret makes every request a 401; in a default logging setup (WARNING and above
    printed) that must show without a flood. So each code is logged at WARNING at most once
    per ``interval`` seconds, saying how many refusals of that code were logged at INFO in
    between; every other refusal goes to INFO.
    """

    __slots__ = ("_clock", "_interval", "_last_warning", "_since_warning")

    def __init__(
        self, clock: Callable[[], float], interval: float = REFUSAL_WARNING_INTERVAL
    ) -> None:
        self._clock = clock
        self._interval = interval
        self._last_warning: dict[str, float] = {}
        self._since_warning: dict[str, int] = {}

    def refused(self, error: WebhookError) -> None:
        """Log one refusal (never raises)."""
        code = error.code
        now = self._clock()
        last = self._last_warning.get(code)
        if last is not None and now - last < self._interval:
            self._since_warning[code] = self._since_warning.get(code, 0) + 1
            if receiver_logger.isEnabledFor(logging.INFO):
                receiver_logger.info("Refused a webhook request: %s (%d)", code, error.status)
            return
        self._last_warning[code] = now
        repeated = self._since_warning.pop(code, 0)
        receiver_logger.warning(
            "Refused a webhook request: %s (%d): %s%s%s",
            code,
            error.status,
            error.message,
            f" Hint: {error.hint}" if error.hint else "",
            f" ({repeated} more since the last warning of this code)" if repeated else "",
        )


class FailureLog:
    """Logs the failures of a dependency that must never change an answer, without a flood.

    A journal whose disk is full fails on every request; that must show, once a minute, not
    once a request. The first failure is logged at WARNING with its type and message, then at
    most one WARNING per ``interval`` seconds, saying how many failures were logged at DEBUG in
    between. Never with a traceback: the exception's frames may hold a request's body.
    """

    __slots__ = ("_clock", "_interval", "_last_warning", "_logger", "_since_warning", "_what")

    def __init__(
        self,
        logger: logging.Logger,
        what: str,
        clock: Callable[[], float],
        interval: float = REFUSAL_WARNING_INTERVAL,
    ) -> None:
        self._logger = logger
        self._what = what
        self._clock = clock
        self._interval = interval
        self._last_warning: float | None = None
        self._since_warning = 0

    def failed(self, exc: BaseException) -> None:
        """Log one failure (never raises)."""
        now = self._clock()
        last = self._last_warning
        if last is not None and now - last < self._interval:
            self._since_warning += 1
            if self._logger.isEnabledFor(logging.DEBUG):
                self._logger.debug("%s: %s: %s", self._what, type(exc).__name__, exc)
            return
        self._last_warning = now
        repeated, self._since_warning = self._since_warning, 0
        self._logger.warning(
            "%s; the answer was not changed: %s: %s%s",
            self._what,
            type(exc).__name__,
            exc,
            f" ({repeated} more since the last warning)" if repeated else "",
        )


class UnhandledLog:
    """Warns once per event name that a verified delivery had no handler (it was acknowledged).

    A receiver with no handler at all says so instead, once: the usual cause is that the module
    registering the handlers was never imported.
    """

    __slots__ = ("_warned",)

    def __init__(self) -> None:
        self._warned: set[str] = set()  # event names, and "" once "no handlers at all" was said

    def unhandled(self, name: str, handler_count: int) -> None:
        """Log that event ``name`` had no handler; ``handler_count`` is the router's total."""
        key = name if handler_count else ""
        if key in self._warned or len(self._warned) >= _MAX_UNHANDLED_NAMES:
            if receiver_logger.isEnabledFor(logging.DEBUG):
                receiver_logger.debug("No handler for %s; acknowledged", name)
            return
        self._warned.add(key)
        if handler_count == 0:
            receiver_logger.warning(
                "This receiver has no handlers at all: %s was verified and acknowledged, and "
                "nothing ran. Register handlers with @receiver.on(...) (or ch.on) in a module "
                "that is imported before deliveries arrive. (Logged once.)",
                name,
            )
        else:
            receiver_logger.warning(
                "No handler for %s: the delivery was verified and acknowledged, and nothing "
                "ran. Register one with @receiver.on(%r), or '*' for every event. (Logged once "
                "per event name.)",
                name,
                name,
            )

"""The receipt journal's protocol: a :class:`Receipt` per request, and how journals are queried.

A receiver given ``journal=`` writes one receipt for every request it answers, refused ones
included, at the one exit of its pipeline, before ``handle`` returns: a receipt can be queried
as soon as the answer is known. Each journal implements :class:`Journal`:

* ``record(receipt)`` stores it and returns the id it was given (ids grow: a newer receipt has a
  larger id);
* ``query(code=, event=, since=, since_id=, limit=)`` returns receipts newest first;
* ``get(receipt_id)`` returns one receipt, or ``None``;
* ``prune()`` deletes the receipts older than the journal's ``retention`` and returns how many;
* ``close()`` releases connections.

Every method raises :class:`~cortexhooks_receiver.errors.JournalError` when the backing service
fails. A failed ``record`` never changes the receiver's answer: it is logged, rate-limited, on
the ``cortexhooks_receiver.journal`` logger.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Final, Protocol, runtime_checkable

import msgspec

from cortexhooks_receiver.errors import ConfigurationError, JournalError
from cortexhooks_receiver.routing import matches

__all__ = [
    "DEFAULT_LIMIT",
    "DEFAULT_RETENTION",
    "ERROR_CHARS",
    "BaseJournal",
    "Journal",
    "JournalError",
    "Receipt",
    "ReceiptFilter",
    "describe_error",
    "utc",
]

DEFAULT_RETENTION: Final = 7 * 86_400.0
"""Seconds a journal keeps a receipt (a week) before :meth:`Journal.prune` deletes it."""
DEFAULT_LIMIT: Final = 100
"""How many receipts :meth:`Journal.query` returns unless told otherwise."""
ERROR_CHARS: Final = 500
"""The longest handler error message a receipt keeps (type name included)."""


class Receipt(msgspec.Struct, frozen=True, kw_only=True):
    """What the receiver saw of one request, and what it answered.

    Attributes:
        id: the journal's id for it (grows with time); 0 until the journal stored it.
        received_at: when the request reached the receiver (aware, UTC).
        status: the HTTP status answered.
        code: the refusal's error code (``signature_mismatch``, ``handler_error``, ...);
            ``None`` for an accepted request (processed, duplicate or queued).
        event: the event name: the verified event's, else the unsigned ``X-CortexBuild-Event``
            header's (for a request refused before its body was verified), else ``None``.
        delivery_id: the ``X-CortexBuild-Delivery-Id`` header, if any.
        webhook_id: the ``X-CortexBuild-Webhook-Id`` header, if any.
        latency_ms: milliseconds from the start of the pipeline to the answer.
        secret_index: which secret the signature matched (0 = the newest), once checked.
        error: for a handler failure (or a store failure), the exception's type and message,
            ``"ValueError: unknown customer"``; never a traceback.
        client: the sender's address as the adapter knew it.
        duplicate: the delivery had already been processed (answered 200, nothing ran).
        body: the raw body, only when the receiver has ``journal_bodies=True``.
        signature: the ``X-CortexBuild-Signature`` header as received, stored with the body so
            the delivery can be re-verified (``cortexhooks journal ... rerun``).
        timestamp: the ``X-CortexBuild-Timestamp`` header as received, stored with the body.

    Header values are unsigned and kept at most 200 characters long.
    """

    id: int
    received_at: datetime
    status: int
    code: str | None = None
    event: str | None = None
    delivery_id: str | None = None
    webhook_id: str | None = None
    latency_ms: float = 0.0
    secret_index: int | None = None
    error: str | None = None
    client: str | None = None
    duplicate: bool = False
    body: bytes | None = None
    signature: str | None = None
    timestamp: str | None = None

    @property
    def accepted(self) -> bool:
        """``True`` when the request was accepted (processed, a duplicate, or queued)."""
        return self.code is None


def describe_error(exc: BaseException) -> str:
    """Return ``"Type: message"`` for a receipt's ``error``, cut to :data:`ERROR_CHARS`.

    Never the traceback. Never raises (a ``__str__`` that fails gives the type name alone).
    """
    try:
        message = str(exc)
    except Exception:
        message = ""
    text = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
    return text if len(text) <= ERROR_CHARS else text[: ERROR_CHARS - 1] + "…"


class ReceiptFilter(msgspec.Struct, frozen=True):
    """A validated :meth:`Journal.query`: which receipts, and how many (newest first).

    Build it with :meth:`of`; journals that filter in Python call :meth:`accepts`, SQL journals
    read the fields.

    Attributes:
        code: only receipts with this refusal code.
        event: only receipts whose event matches: an exact name, ``"family.*"`` or ``"*"``.
        since: only receipts received at or after this Unix time (seconds).
        since_id: only receipts with a larger id.
        limit: at most this many.
    """

    code: str | None
    event: str | None
    since: float | None
    since_id: int | None
    limit: int

    @classmethod
    def of(
        cls,
        *,
        code: str | None,
        event: str | None,
        since: datetime | timedelta | None,
        since_id: int | None,
        limit: int,
        clock: Callable[[], float],
    ) -> ReceiptFilter:
        """Check a query's arguments and return them as a filter.

        ``since`` is an aware datetime, or a timedelta meaning "that long before ``clock()``".

        Raises:
            ConfigurationError: a naive datetime, a ``limit`` below 1, or an argument of the
                wrong type.
        """
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ConfigurationError(f"limit must be an int >= 1, not {limit!r}.")
        if since_id is not None and (isinstance(since_id, bool) or not isinstance(since_id, int)):
            raise ConfigurationError(f"since_id must be an int, not {since_id!r}.")
        for name, value in (("code", code), ("event", event)):
            if value is not None and not isinstance(value, str):
                raise ConfigurationError(f"{name} must be a str, not {type(value).__name__}.")
        return cls(code, event, _since_seconds(since, clock), since_id, limit)

    def event_match(self) -> tuple[str, str] | None:
        """How ``event`` matches, for journals that filter in a query language.

        ``("exact", name)``, ``("prefix", "invoice.")`` for ``"invoice.*"``, ``("any", "")``
        for ``"*"`` (any receipt with an event), or ``None`` when no event was asked for.
        """
        event = self.event
        if event is None:
            return None
        if event == "*":
            return ("any", "")
        if event.endswith(".*"):
            return ("prefix", event[:-1])
        return ("exact", event)

    def accepts(self, receipt: Receipt) -> bool:
        """Return whether ``receipt`` passes every condition but the limit. Never raises."""
        if self.since_id is not None and receipt.id <= self.since_id:
            return False
        if self.code is not None and receipt.code != self.code:
            return False
        if self.event is not None and (
            receipt.event is None or not matches((self.event,), receipt.event)
        ):
            return False
        return self.since is None or receipt.received_at.timestamp() >= self.since


def _since_seconds(since: datetime | timedelta | None, clock: Callable[[], float]) -> float | None:
    if since is None:
        return None
    if isinstance(since, timedelta):
        return clock() - since.total_seconds()
    if isinstance(since, datetime):
        if since.tzinfo is None:
            raise ConfigurationError(
                "since must be an aware datetime (e.g. datetime.now(UTC) - timedelta(hours=1)) "
                "or a timedelta."
            )
        return since.timestamp()
    raise ConfigurationError(
        f"since must be a datetime or a timedelta, not {type(since).__name__}."
    )


def utc(seconds: float) -> datetime:
    """Return Unix ``seconds`` as an aware UTC datetime."""
    return datetime.fromtimestamp(seconds, UTC)


class BaseJournal:
    """What the package's journals share: :meth:`query` checks its arguments, then reads.

    A subclass sets ``_clock`` (Unix seconds) and implements :meth:`_select`.
    """

    _clock: Callable[[], float]

    def query(
        self,
        *,
        code: str | None = None,
        event: str | None = None,
        since: datetime | timedelta | None = None,
        since_id: int | None = None,
        limit: int = DEFAULT_LIMIT,
    ) -> list[Receipt]:
        """Return at most ``limit`` receipts, newest first, matching every condition given.

        ``code``: only this refusal code; ``event``: an exact name, ``"family.*"`` or ``"*"``;
        ``since``: an aware datetime, or a timedelta (that long ago); ``since_id``: only the
        receipts newer than this id.

        Raises:
            JournalError: the journal could not be read.
            ConfigurationError: a naive datetime, a ``limit`` below 1, or an argument of the
                wrong type.
        """
        wanted = ReceiptFilter.of(
            code=code, event=event, since=since, since_id=since_id, limit=limit, clock=self._clock
        )
        return self._select(wanted)

    def _select(self, wanted: ReceiptFilter) -> list[Receipt]:
        raise NotImplementedError


@runtime_checkable
class Journal(Protocol):
    """A receipt journal (see the module docs)."""

    def record(self, receipt: Receipt) -> int:
        """Store ``receipt`` (its ``id`` is ignored) and return the id it was given.

        Raises:
            JournalError: the journal could not store it.
        """
        ...

    def query(
        self,
        *,
        code: str | None = None,
        event: str | None = None,
        since: datetime | timedelta | None = None,
        since_id: int | None = None,
        limit: int = DEFAULT_LIMIT,
    ) -> list[Receipt]:
        """The newest receipts first, filtered (see :meth:`BaseJournal.query`)."""
        ...

    def get(self, receipt_id: int) -> Receipt | None:
        """Return the receipt with this id, or ``None`` (never recorded, or pruned).

        Raises:
            JournalError: the journal could not be read.
        """
        ...

    def prune(self) -> int:
        """Delete the receipts older than the journal's retention; return how many.

        Raises:
            JournalError: the journal could not be written.
        """
        ...

    def close(self) -> None:
        """Release the journal's connections. Never raises."""
        ...

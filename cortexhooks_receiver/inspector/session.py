"""The inspector's session: one :class:`Entry` per request, newest first, followed by the page.

An entry is what a receiver's journal keeps of a request (its :class:`~..journal.Receipt`)
plus what only the inspector shows: the headers, the body as text, the typed fields, the
signature check step by step, the diagnosis of a refusal and the answer sent. It holds no
secret and no expected signature: only whether the signature matched, and which secret did.

A session is exported as JSON lines, one entry per line, oldest first (:meth:`Session.export`),
and read back with :meth:`Session.load` (``cortexhooks listen --load FILE``).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable
from datetime import datetime
from typing import Final

import msgspec

from cortexhooks_receiver.errors import ConfigurationError

__all__ = ["DEFAULT_MAX_ENTRIES", "Check", "Entry", "Field", "Session"]

DEFAULT_MAX_ENTRIES: Final = 500
"""How many entries a session keeps; the oldest go first."""


class Check(msgspec.Struct, frozen=True):
    """One step of the signature check, in the receiver's order.

    Attributes:
        name: what was checked ("Signature header", "Timestamp", ...).
        ok: ``True`` passed, ``False`` failed, ``None`` not reached.
        detail: what was found, in a sentence (never a secret or an expected signature).
    """

    name: str
    ok: bool | None
    detail: str


class Field(msgspec.Struct, frozen=True):
    """One field of the typed event: its dotted path, its Python type and its value as text."""

    path: str
    type: str
    value: str


class Entry(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """One request as the inspector shows it.

    Attributes:
        id: the session's id for it (grows with time); 0 until the session keeps it.
        received_at: when the request arrived (aware, UTC).
        status: the HTTP status answered.
        code: the refusal's error code; ``None`` when the delivery was accepted.
        event: the event's name (for a refusal, the unsigned header's, if any).
        delivery_id: the ``X-CortexBuild-Delivery-Id`` header, if any.
        webhook_id: the ``X-CortexBuild-Webhook-Id`` header, if any.
        duplicate: the delivery had already been processed.
        problem: for a refusal, its diagnosed cause (``secret_prefix``, ``body_reserialised``...).
        message: for a refusal, the explanation in one sentence.
        findings: facts worth reading about the request.
        checks: the signature check, step by step.
        headers: the request's headers, lower-case names, as received.
        body: the raw body as text (``None`` when it was not kept).
        event_class: the typed event's class name (``InvoicePaid``), when it was decoded.
        fields: the typed event's fields.
        answer: the answer's body as text.
        forwarded_to: the URL the delivery was passed on to, if any.
        resent_from: the id of the entry this request re-sent, if it was a re-send.
    """

    id: int = 0
    received_at: datetime
    status: int
    code: str | None = None
    event: str | None = None
    delivery_id: str | None = None
    webhook_id: str | None = None
    duplicate: bool = False
    problem: str | None = None
    message: str | None = None
    findings: tuple[str, ...] = ()
    checks: tuple[Check, ...] = ()
    headers: tuple[tuple[str, str], ...] = ()
    body: str | None = None
    event_class: str | None = None
    fields: tuple[Field, ...] = ()
    answer: str = ""
    forwarded_to: str | None = None
    resent_from: int | None = None

    @property
    def accepted(self) -> bool:
        """``True`` when the delivery was accepted (new or duplicate)."""
        return self.code is None


_encode: Final = msgspec.json.Encoder().encode
_decode_line: Final = msgspec.json.Decoder(Entry).decode


class Session:
    """The newest ``max_entries`` entries, kept in order; thread-safe.

    Args:
        max_entries: how many entries are kept (at least 1).

    Raises:
        ConfigurationError: ``max_entries`` below 1.
    """

    def __init__(self, max_entries: int = DEFAULT_MAX_ENTRIES) -> None:
        if max_entries < 1:
            raise ConfigurationError("max_entries must be 1 or more.")
        self.max_entries = max_entries
        self._entries: deque[Entry] = deque(maxlen=max_entries)
        self._lock = threading.Lock()
        self._last_id = 0

    def __repr__(self) -> str:
        return f"Session(max_entries={self.max_entries})"

    def __len__(self) -> int:
        return len(self._entries)

    def add(self, entry: Entry) -> Entry:
        """Keep ``entry`` (a copy with the next id) and return the copy. Never raises."""
        with self._lock:
            self._last_id += 1
            kept = msgspec.structs.replace(entry, id=self._last_id)
            self._entries.append(kept)
        return kept

    def extend(self, entries: Iterable[Entry]) -> None:
        """Keep each of ``entries`` in turn (see :meth:`add`). Never raises."""
        for entry in entries:
            self.add(entry)

    def entries(self, after: int = 0) -> list[Entry]:
        """Return the entries with an id above ``after``, newest first. Never raises."""
        with self._lock:
            found = []
            for entry in reversed(self._entries):
                if entry.id <= after:
                    break
                found.append(entry)
        return found

    def get(self, entry_id: int) -> Entry | None:
        """Return the entry with this id, or ``None`` (never kept, or gone). Never raises."""
        with self._lock:
            entries = self._entries
            if not entries:
                return None
            index = entry_id - entries[0].id  # ids are consecutive
            return entries[index] if 0 <= index < len(entries) else None

    def export(self) -> bytes:
        """Return the session as JSON lines, one entry per line, oldest first. Never raises."""
        with self._lock:
            return b"".join(_encode(entry) + b"\n" for entry in self._entries)

    @staticmethod
    def load(path: str) -> list[Entry]:
        """Read a file written by :meth:`export`; return its entries, oldest first.

        Blank lines are skipped.

        Raises:
            ConfigurationError: the file cannot be read, or a line is not an exported entry
                (the message names the line).
        """
        entries: list[Entry] = []
        try:
            with open(path, "rb") as file:
                for number, line in enumerate(file, 1):
                    if not line.strip():
                        continue
                    try:
                        entries.append(_decode_line(line))
                    except msgspec.DecodeError as exc:
                        raise ConfigurationError(
                            f"{path}, line {number}: not an exported inspector entry ({exc})"
                        ) from None
        except OSError as exc:
            raise ConfigurationError(f"cannot read {path}: {exc.strerror or exc}") from None
        return entries

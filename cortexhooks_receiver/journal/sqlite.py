"""The SQLite journal: the embedded journal for the worker processes of one host.

One table, ``cortexhooks_receipts``, a row per receipt, in the same kind of file as the SQLite
dedup store (it may be the very same file: each has its own table). The file runs in WAL mode
with ``synchronous=NORMAL`` and is opened once per process, never across a fork (see
:mod:`cortexhooks_receiver._sqlite`). Recording is one ``INSERT`` in autocommit: no fsync, and
the receipt is readable by every process as soon as it returns.

Ids come from ``AUTOINCREMENT``, so an id is never reused, even after pruning. Every
:attr:`SQLiteJournal.prune_every` records, a bounded batch of receipts older than
:attr:`SQLiteJournal.retention` is deleted through the index on the receive time.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable
from typing import Any, Final

from cortexhooks_receiver._sqlite import SQLiteFile, check_file_path
from cortexhooks_receiver.errors import ConfigurationError, JournalError

from .base import DEFAULT_RETENTION, BaseJournal, Receipt, ReceiptFilter, utc

__all__ = ["SQLiteJournal"]

_COLUMNS: Final = (
    "id, received_at, status, code, event, delivery_id, webhook_id, latency_ms, secret_index, "
    "error, client, duplicate, body, signature, timestamp"
)
_SCHEMA: Final = (
    "CREATE TABLE IF NOT EXISTS cortexhooks_receipts ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " received_at REAL NOT NULL,"  # Unix seconds
    " status INTEGER NOT NULL,"
    " code TEXT,"
    " event TEXT,"
    " delivery_id TEXT,"
    " webhook_id TEXT,"
    " latency_ms REAL NOT NULL,"
    " secret_index INTEGER,"
    " error TEXT,"
    " client TEXT,"
    " duplicate INTEGER NOT NULL,"
    " body BLOB,"
    " signature TEXT,"
    " timestamp TEXT"
    ")",
    "CREATE INDEX IF NOT EXISTS cortexhooks_receipts_received_at "
    "ON cortexhooks_receipts (received_at)",
)
_INSERT: Final = (
    f"INSERT INTO cortexhooks_receipts ({_COLUMNS.removeprefix('id, ')}) "  # noqa: S608
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_SELECT: Final = f"SELECT {_COLUMNS} FROM cortexhooks_receipts"  # noqa: S608
_PRUNE_BATCH: Final = (
    "DELETE FROM cortexhooks_receipts WHERE id IN "
    "(SELECT id FROM cortexhooks_receipts WHERE received_at < ? LIMIT 1000)"
)
_PRUNE_ALL: Final = "DELETE FROM cortexhooks_receipts WHERE received_at < ?"


def _like_prefix(prefix: str) -> str:
    """``prefix`` as a LIKE pattern matching every text that starts with it (escape ``\\``)."""
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"


def _row(receipt: Receipt) -> tuple[Any, ...]:
    """The values of the columns after ``id``, in table order, for ``receipt``."""
    return (
        receipt.received_at.timestamp(),
        receipt.status,
        receipt.code,
        receipt.event,
        receipt.delivery_id,
        receipt.webhook_id,
        receipt.latency_ms,
        receipt.secret_index,
        receipt.error,
        receipt.client,
        int(receipt.duplicate),
        receipt.body,
        receipt.signature,
        receipt.timestamp,
    )


def _receipt(row: tuple[Any, ...]) -> Receipt:
    body = row[12]
    return Receipt(
        id=row[0],
        received_at=utc(row[1]),
        status=row[2],
        code=row[3],
        event=row[4],
        delivery_id=row[5],
        webhook_id=row[6],
        latency_ms=row[7],
        secret_index=row[8],
        error=row[9],
        client=row[10],
        duplicate=bool(row[11]),
        body=None if body is None else bytes(body),
        signature=row[13],
        timestamp=row[14],
    )


class SQLiteJournal(BaseJournal):
    """A receipt journal in one SQLite file, shared by every process and thread of one host.

    Args:
        path: the database file; created (with its table) on first use. Its directory must exist.
        retention: seconds a receipt is kept (:meth:`prune`); default a week.
        prune_every: delete a batch of expired receipts once per this many records (per
            process); 0 disables it.
        busy_timeout: seconds a write waits for another process's write lock before failing.
        clock: Unix seconds (wall clock: shared by every process); default :func:`time.time`.

    The file is opened lazily: constructing the journal does no I/O, and an unusable path
    surfaces as :class:`~cortexhooks_receiver.errors.JournalError` on the first call (which the
    receiver logs; its answers do not change).

    Raises:
        ConfigurationError: ``path`` is ``":memory:"`` or empty (each process would get a
            private journal; use ``memory://``), or a negative number.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        retention: float = DEFAULT_RETENTION,
        prune_every: int = 256,
        busy_timeout: float = 5.0,
        clock: Callable[[], float] | None = None,
    ) -> None:
        path = check_file_path(path, "the memory:// journal")
        if retention < 0 or prune_every < 0 or busy_timeout < 0:
            raise ConfigurationError(
                "retention, prune_every and busy_timeout must not be negative."
            )
        self.path = path
        self.retention = float(retention)
        self.prune_every = prune_every
        self.busy_timeout = float(busy_timeout)
        self._clock: Callable[[], float] = time.time if clock is None else clock
        self._file = SQLiteFile(path, self.busy_timeout, _SCHEMA)
        self._records = 0

    def __repr__(self) -> str:
        return f"SQLiteJournal({self.path!r})"

    def _fail(self, exc: Exception, action: str) -> JournalError:
        return JournalError(f"SQLite journal {self.path!r} failed to {action}: {exc}")

    def record(self, receipt: Receipt) -> int:
        """Insert ``receipt`` (one autocommit statement) and return its new id.

        Every :attr:`prune_every` records also deletes a bounded batch of expired receipts.

        Raises:
            JournalError: the database cannot be opened or written.
        """
        row = _row(receipt)
        file = self._file
        with file.lock:
            try:
                conn = file.connection()
                receipt_id = conn.execute(_INSERT, row).lastrowid
                self._records += 1
                if self.prune_every and self._records % self.prune_every == 0:
                    conn.execute(_PRUNE_BATCH, (self._clock() - self.retention,))
            except sqlite3.Error as exc:
                raise self._fail(exc, "record a receipt") from exc
        assert receipt_id is not None  # an INSERT into a rowid table always has one
        return receipt_id

    def _select(self, wanted: ReceiptFilter) -> list[Receipt]:
        where: list[str] = []
        params: list[object] = []
        if wanted.since_id is not None:
            where.append("id > ?")
            params.append(wanted.since_id)
        if wanted.code is not None:
            where.append("code = ?")
            params.append(wanted.code)
        match = wanted.event_match()
        if match is not None:
            kind, value = match
            if kind == "exact":
                where.append("event = ?")
                params.append(value)
            elif kind == "prefix":
                where.append("event LIKE ? ESCAPE '\\'")
                params.append(_like_prefix(value))
            else:
                where.append("event IS NOT NULL")
        if wanted.since is not None:
            where.append("received_at >= ?")
            params.append(wanted.since)
        sql = _SELECT + (" WHERE " + " AND ".join(where) if where else "")
        params.append(wanted.limit)
        return self._rows(sql + " ORDER BY id DESC LIMIT ?", params, "query receipts")

    def get(self, receipt_id: int) -> Receipt | None:
        """Return the receipt with this id, or ``None``.

        Raises:
            JournalError: the database cannot be read.
        """
        found = self._rows(_SELECT + " WHERE id = ?", [receipt_id], "read a receipt")
        return found[0] if found else None

    def _rows(self, sql: str, params: list[object], action: str) -> list[Receipt]:
        try:
            rows, _ = self._file.run(sql, params)
        except sqlite3.Error as exc:
            raise self._fail(exc, action) from exc
        return [_receipt(row) for row in rows]

    def prune(self) -> int:
        """Delete every receipt older than :attr:`retention` now; return how many.

        Raises:
            JournalError: the database cannot be opened or written.
        """
        try:
            return self._file.run(_PRUNE_ALL, (self._clock() - self.retention,))[1]
        except sqlite3.Error as exc:
            raise self._fail(exc, "delete expired receipts") from exc

    def close(self) -> None:
        """Close this process's connection (a later call opens it again). Never raises."""
        self._file.close()

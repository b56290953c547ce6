"""The SQLite dedup store: the embedded default for the worker processes of one host.

One table holds a row per key: its state (claimed or done), the token of the claim's holder and
the wall-clock time at which the row expires. Every step is one short transaction:

* ``claim`` runs in ``BEGIN IMMEDIATE`` (the write lock is taken before reading, so two
  processes can never both see "free" and both claim);
* ``complete`` and ``release`` are single statements (atomic on their own).

The database runs in WAL mode with ``synchronous=NORMAL``: readers never block the writer and a
commit costs no fsync. A commit survives the crash of any process; only a power loss or kernel
crash can forget the last few completions, which at worst lets a sender's retry run again.

Processes and threads: each process opens its own connection lazily, on first use, and a
connection never crosses a fork; threads of one process share it behind a lock (every step here
writes, and SQLite admits one writer at a time anyway). See :mod:`cortexhooks_receiver._sqlite`,
which the SQLite journal shares.

Expired rows are ignored by ``claim`` and deleted opportunistically: every
:attr:`SQLiteStore.prune_every` completions, a bounded batch of expired rows is removed
through an index on the expiry time.

Time comes from ``clock`` (``time.time`` by default): wall-clock seconds, because leases are
compared across processes, which do not share a monotonic clock.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Final

from cortexhooks_receiver._sqlite import SQLiteFile, check_file_path
from cortexhooks_receiver.errors import ConfigurationError

from .base import ClaimState, StoreError

__all__ = ["SQLiteStore", "write_transaction"]

_CLAIMED: Final = 0
_DONE: Final = 1
_SCHEMA: Final = (
    "CREATE TABLE IF NOT EXISTS cortexhooks_dedup ("
    " key TEXT PRIMARY KEY NOT NULL,"
    " state INTEGER NOT NULL,"  # 0 claimed, 1 done
    " token TEXT NOT NULL,"
    " expires_at REAL NOT NULL"
    ") WITHOUT ROWID",
    "CREATE INDEX IF NOT EXISTS cortexhooks_dedup_expires_at ON cortexhooks_dedup (expires_at)",
)
_PRUNE: Final = (
    "DELETE FROM cortexhooks_dedup WHERE key IN "
    "(SELECT key FROM cortexhooks_dedup WHERE expires_at <= ? LIMIT 1000)"
)
_PRUNE_ALL: Final = "DELETE FROM cortexhooks_dedup WHERE expires_at <= ?"
_COUNT: Final = "SELECT count(*) FROM cortexhooks_dedup"


@contextlib.contextmanager
def write_transaction(conn: sqlite3.Connection) -> Iterator[None]:
    """``BEGIN IMMEDIATE`` (the write lock taken before anything is read), then ``COMMIT``.

    Any exception rolls the transaction back and propagates.

    Raises:
        sqlite3.Error: the lock stayed taken beyond the busy timeout, or a statement failed.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


class _Statements:
    """SQL text for a given number of keys (built once per key count, normally 1 and 2)."""

    __slots__ = ("release", "select", "upsert")

    def __init__(self, count: int) -> None:
        # Only "?" placeholders are interpolated: keys and values are always bound parameters.
        marks = ", ".join("?" * count)
        rows = ", ".join(["(?, ?, ?, ?)"] * count)
        self.select = (
            "SELECT state, token FROM cortexhooks_dedup "  # noqa: S608
            f"WHERE key IN ({marks}) AND expires_at > ?"
        )
        self.upsert = (
            "INSERT OR REPLACE INTO cortexhooks_dedup (key, state, token, expires_at) "  # noqa: S608
            f"VALUES {rows}"
        )
        self.release = (
            "DELETE FROM cortexhooks_dedup "  # noqa: S608
            f"WHERE key IN ({marks}) AND state = 0 AND token = ?"
        )


class SQLiteStore:
    """A dedup store in one SQLite file, shared by every process and thread of one host.

    Args:
        path: the database file; created (with its table) on first use. Its directory must exist.
        clock: returns the current wall-clock time in seconds; ``time.time`` by default. Inject a
            fake clock in tests to expire leases and retention without sleeping.
        busy_timeout: seconds a step waits for another process's write lock before failing.
        prune_every: delete a batch of expired rows once per this many completions (per
            process); 0 disables it.

    The file is opened lazily, so constructing the store does no I/O; an unusable path surfaces
    as :class:`StoreError` on the first call (the receiver answers 503). After :meth:`close`, the
    next call opens the file again.

    Raises:
        ConfigurationError: ``path`` is ``":memory:"`` or empty (each process would get a private
            database; use ``memory://``), or ``busy_timeout``/``prune_every`` is negative.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        clock: Callable[[], float] | None = None,
        busy_timeout: float = 5.0,
        prune_every: int = 256,
    ) -> None:
        path = check_file_path(path, "the memory:// store")
        if busy_timeout < 0:
            raise ConfigurationError("busy_timeout must be zero or more seconds.")
        if prune_every < 0:
            raise ConfigurationError("prune_every must be zero or more.")
        self.path = path
        self.busy_timeout = float(busy_timeout)
        self.prune_every = prune_every
        self._clock: Callable[[], float] = clock if clock is not None else time.time
        self._file = SQLiteFile(path, self.busy_timeout, _SCHEMA)
        self._completions = 0
        self._statements: dict[int, _Statements] = {}

    def __repr__(self) -> str:
        return f"SQLiteStore({self.path!r})"

    # -- helpers ----------------------------------------------------------------------------

    def _sql(self, count: int) -> _Statements:
        statements = self._statements.get(count)
        if statements is None:
            statements = self._statements[count] = _Statements(count)
        return statements

    def _fail(self, exc: Exception, action: str) -> StoreError:
        return StoreError(f"SQLite dedup store {self.path!r} failed to {action}: {exc}")

    # -- the Store protocol -----------------------------------------------------------------

    def claim(self, keys: Sequence[str], lease: float, token: str) -> ClaimState:
        """Atomically claim ``keys`` for ``lease`` seconds in one ``BEGIN IMMEDIATE`` transaction.

        Returns DONE if any key is done, IN_PROGRESS if any key is held by another unexpired
        claim, else NEW (every key now held by ``token``). Claiming again with the same token
        is NEW again (a retried call is harmless).

        Raises:
            StoreError: the database cannot be opened, written, or stayed locked beyond
                ``busy_timeout``.
        """
        file = self._file
        with file.lock:
            try:
                conn = file.connection()
                with write_transaction(conn):
                    now = self._clock()  # read once the write lock is ours, not before waiting
                    state = self._claim_state(conn, keys, token, now)
                    if state is ClaimState.NEW:
                        self._write_keys(conn, keys, _CLAIMED, token, now + lease)
            except sqlite3.Error as exc:
                raise self._fail(exc, "claim a delivery") from exc
        return state

    def _claim_state(
        self, conn: sqlite3.Connection, keys: Sequence[str], token: str, now: float
    ) -> ClaimState:
        """What ``claim`` would answer at ``now``; inside the caller's write transaction."""
        held = False
        for state, holder in conn.execute(self._sql(len(keys)).select, (*keys, now)):
            if state == _DONE:
                return ClaimState.DONE
            if holder != token:
                held = True
        return ClaimState.IN_PROGRESS if held else ClaimState.NEW

    def _write_keys(
        self, conn: sqlite3.Connection, keys: Sequence[str], state: int, token: str, expires: float
    ) -> None:
        params: list[object] = []
        for key in keys:
            params += (key, state, token, expires)
        conn.execute(self._sql(len(keys)).upsert, params)

    def complete(self, keys: Sequence[str], retention: float, token: str) -> None:
        """Mark ``keys`` done for ``retention`` seconds (one statement), whoever holds them.

        Every :attr:`prune_every` completions also deletes a bounded batch of expired rows.

        Raises:
            StoreError: the database cannot be opened or written.
        """
        now = self._clock()
        file = self._file
        with file.lock:
            try:
                self._complete_in(file.connection(), keys, token, now, retention)
            except sqlite3.Error as exc:
                raise self._fail(exc, "complete a delivery") from exc

    def _complete_in(
        self,
        conn: sqlite3.Connection,
        keys: Sequence[str],
        token: str,
        now: float,
        retention: float,
    ) -> None:
        """Mark ``keys`` done (and now and then prune), in the caller's transaction if any."""
        self._write_keys(conn, keys, _DONE, token, now + retention)
        self._completions += 1
        if self.prune_every and self._completions % self.prune_every == 0:
            conn.execute(_PRUNE, (now,))

    def release(self, keys: Sequence[str], token: str) -> None:
        """Delete the claims on ``keys`` still held by ``token`` (compare-and-delete).

        Raises:
            StoreError: the database cannot be opened or written.
        """
        try:
            self._file.run(self._sql(len(keys)).release, (*keys, token))
        except sqlite3.Error as exc:
            raise self._fail(exc, "release a claim") from exc

    def prune(self) -> int:
        """Delete every expired row now and return how many were deleted.

        Raises:
            StoreError: the database cannot be opened or written.
        """
        try:
            return self._file.run(_PRUNE_ALL, (self._clock(),))[1]
        except sqlite3.Error as exc:
            raise self._fail(exc, "delete expired rows") from exc

    def __len__(self) -> int:
        """The number of rows, expired ones included (for tests and monitoring).

        Raises:
            StoreError: the database cannot be opened or read.
        """
        try:
            rows, _ = self._file.run(_COUNT)
        except sqlite3.Error as exc:
            raise self._fail(exc, "count rows") from exc
        return int(rows[0][0])

    def close(self) -> None:
        """Close this process's connection (a later call opens it again). Never raises."""
        self._file.close()

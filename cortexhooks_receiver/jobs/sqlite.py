"""The SQLite job queue: the embedded default for one host, safe across worker processes.

It is the SQLite dedup store (:class:`~cortexhooks_receiver.stores.SQLiteStore`) of the same file
plus a table of jobs, so it inherits the store's connection handling (one lazy connection per
process, never across a fork; WAL; ``busy_timeout``) and its dedup table. Given as both the
receiver's store and its queue (the same ``sqlite:///`` URL), the dedup claim, the enqueue and
the completion of a delivery are one ``BEGIN IMMEDIATE`` transaction (:meth:`claim_enqueue`): a
crash can leave a delivery neither claimed-and-lost nor enqueued-and-forgotten.

A job row is due when its ``due_at`` has passed: for a queued job that is when it may run (now,
or after a retry's backoff); for a reserved job it is when its lease ends, so a job whose worker
died is due again and the next ``reserve`` takes it over. A partial index over the unfinished
jobs' ``due_at`` keeps ``reserve`` one index seek however many dead letters are kept. ``ack``
deletes the row. Every move is one short transaction whose ``WHERE`` is built from the transition
table of :mod:`.base`, and ``ack``/``retry``/``bury`` also match the lease's token.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Sequence
from typing import Any, Final

from cortexhooks_receiver.stores.base import ClaimState, Store
from cortexhooks_receiver.stores.sqlite import SQLiteStore, write_transaction

from .base import (
    DEAD_COLUMNS,
    ROW_COLUMNS,
    UNFINISHED,
    DeadLetter,
    Job,
    QueueError,
    QueueStats,
    job_from_row,
    new_lease_token,
    unknown_job,
)
from .base import dead_letter_from_row as _dead_letter
from .base import state_condition as _where

__all__ = ["SQLiteQueue"]

_SCHEMA: Final = (
    "CREATE TABLE IF NOT EXISTS cortexhooks_jobs ("
    " id TEXT PRIMARY KEY NOT NULL,"
    " state INTEGER NOT NULL,"  # 0 queued, 1 reserved, 2 dead
    " due_at REAL NOT NULL,"  # queued: may run from; reserved: lease ends at
    " event TEXT NOT NULL,"
    " body BLOB NOT NULL,"
    " delivery_id TEXT,"
    " webhook_id TEXT,"
    " secret_index INTEGER,"
    " enqueued_at REAL NOT NULL,"
    " attempts INTEGER NOT NULL,"
    " token TEXT,"
    " error TEXT,"
    " failed_at REAL"
    ")",
    f"CREATE INDEX IF NOT EXISTS cortexhooks_jobs_due ON cortexhooks_jobs (due_at) "
    f"WHERE {UNFINISHED}",
)
_INSERT: Final = (
    "INSERT INTO cortexhooks_jobs (id, state, due_at, event, body, delivery_id, webhook_id, "
    "secret_index, enqueued_at, attempts) VALUES (?, 0, ?, ?, ?, ?, ?, ?, ?, 0)"
)
_PEEK: Final = f"SELECT 1 FROM cortexhooks_jobs WHERE {UNFINISHED} AND due_at <= ? LIMIT 1"  # noqa: S608
_NEXT: Final = (
    f"SELECT {ROW_COLUMNS} FROM cortexhooks_jobs "  # noqa: S608
    f"WHERE {UNFINISHED} AND due_at <= ? ORDER BY due_at LIMIT 1"
)
_RESERVE: Final = (
    "UPDATE cortexhooks_jobs SET state = 1, due_at = ?, token = ?, attempts = attempts + 1 "  # noqa: S608
    f"WHERE id = ? AND {_where('reserve')}"
)
_ACK: Final = f"DELETE FROM cortexhooks_jobs WHERE id = ? AND token = ? AND {_where('ack')}"  # noqa: S608
_RETRY: Final = (
    "UPDATE cortexhooks_jobs SET state = 0, due_at = ?, token = NULL, error = ? "  # noqa: S608
    f"WHERE id = ? AND token = ? AND {_where('retry')}"
)
_BURY: Final = (
    "UPDATE cortexhooks_jobs SET state = 2, token = NULL, error = ?, failed_at = ? "  # noqa: S608
    f"WHERE id = ? AND token = ? AND {_where('bury')}"
)
_REPLAY: Final = (
    "UPDATE cortexhooks_jobs SET state = 0, due_at = ?, attempts = 0, error = NULL, "  # noqa: S608
    f"failed_at = NULL WHERE id = ? AND {_where('replay')}"
)
_PURGE: Final = f"DELETE FROM cortexhooks_jobs WHERE {_where('purge')}"  # noqa: S608
_DEAD: Final = (
    f"SELECT {DEAD_COLUMNS} FROM cortexhooks_jobs "  # noqa: S608
    f"WHERE {_where('replay')}"
)
_STATS: Final = (
    f"SELECT coalesce(sum({UNFINISHED}), 0), "  # noqa: S608
    f"coalesce(sum({UNFINISHED} AND due_at <= :now), 0), "
    "coalesce(sum(state = 1 AND due_at > :now), 0), coalesce(sum(state = 2), 0), "
    f"min(CASE WHEN {UNFINISHED} THEN enqueued_at END) FROM cortexhooks_jobs"
)


class SQLiteQueue(SQLiteStore):
    """A job queue (and dedup store) in one SQLite file, shared by the processes of one host.

    Args:
        path: the database file; created (with its tables) on first use.
        clock: wall-clock seconds (``time.time``); inject one in tests to expire leases.
        busy_timeout: seconds a step waits for another process's write lock before failing.
        prune_every: as for :class:`~cortexhooks_receiver.stores.SQLiteStore`.

    Every queue method raises :class:`~cortexhooks_receiver.errors.QueueError` when the file
    cannot be opened, read or written (the dedup methods raise ``StoreError``, as the store's).

    Raises:
        ConfigurationError: an in-memory database or a negative option (as the store).
    """

    def __repr__(self) -> str:
        return f"SQLiteQueue({self.path!r})"

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        clock: Callable[[], float] | None = None,
        busy_timeout: float = 5.0,
        prune_every: int = 256,
    ) -> None:
        super().__init__(path, clock=clock, busy_timeout=busy_timeout, prune_every=prune_every)
        # The queue's tables join the dedup table's, created on each new connection.
        self._file.schema = (*self._file.schema, *_SCHEMA)

    def _queue_fail(self, exc: Exception, action: str) -> QueueError:
        return QueueError(f"SQLite job queue {self.path!r} failed to {action}: {exc}")

    def _write(self, sql: str, params: Sequence[object], action: str) -> int:
        """Run one statement (atomic on its own) and return how many rows it changed."""
        with self._file.lock:
            try:
                return self._file.connection().execute(sql, params).rowcount
            except sqlite3.Error as exc:
                raise self._queue_fail(exc, action) from exc

    def _read(self, sql: str, params: Sequence[object] | dict[str, object], action: str) -> Any:
        with self._file.lock:
            try:
                return self._file.connection().execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise self._queue_fail(exc, action) from exc

    # -- the receiver's side ----------------------------------------------------------------

    def same_database(self, store: str | Store) -> bool:
        """Return whether ``store`` is this queue, or a ``sqlite://`` URL naming its file."""
        if not isinstance(store, str):
            return store is self
        scheme, sep, rest = store.partition("://")
        if scheme.lower() != "sqlite" or not sep:
            return False
        from cortexhooks_receiver.stores._urls import sqlite_settings

        path = sqlite_settings(rest)[0]
        return os.path.realpath(path) == os.path.realpath(self.path)

    def enqueue(self, job: Job) -> None:
        """Store ``job``, due now (one statement).

        Raises:
            QueueError: the database cannot be opened or written.
        """
        self._write(_INSERT, self._row(job, self._clock()), "enqueue a job")

    def claim_enqueue(
        self, keys: Sequence[str], lease: float, retention: float, token: str, job: Job
    ) -> ClaimState:
        """Claim ``keys``, enqueue ``job`` and mark ``keys`` done, in one transaction.

        Returns DONE (the keys are all remembered, nothing enqueued), IN_PROGRESS (an inline
        receiver on this file holds them; nothing written) or NEW (enqueued and remembered).

        Raises:
            QueueError: the database cannot be opened, written, or stayed locked beyond
                ``busy_timeout``; the transaction was rolled back.
        """
        with self._file.lock:
            try:
                conn = self._file.connection()
                with write_transaction(conn):
                    now = self._clock()
                    state = self._claim_state(conn, keys, token, now)
                    if state is not ClaimState.IN_PROGRESS:
                        if state is ClaimState.NEW:
                            conn.execute(_INSERT, self._row(job, now))
                        self._complete_in(conn, keys, token, now, retention)
            except sqlite3.Error as exc:
                raise self._queue_fail(exc, "enqueue a delivery") from exc
        return state

    @staticmethod
    def _row(job: Job, now: float) -> tuple[object, ...]:
        return (
            job.id,
            now,
            job.event,
            job.body,
            job.delivery_id,
            job.webhook_id,
            job.secret_index,
            job.enqueued_at or now,
        )

    # -- the worker's side ------------------------------------------------------------------

    def reserve(self, lease: float) -> Job | None:
        """Lease the next due job (a queued one, or one whose lease expired) for ``lease`` s.

        An idle poll is one read, without the write lock.

        Raises:
            QueueError: the database cannot be opened, written, or stayed locked.
        """
        with self._file.lock:
            try:
                conn = self._file.connection()
                if conn.execute(_PEEK, (self._clock(),)).fetchone() is None:
                    return None
                with write_transaction(conn):
                    now = self._clock()
                    row = conn.execute(_NEXT, (now,)).fetchone()
                    token = new_lease_token()
                    if row is not None:
                        conn.execute(_RESERVE, (now + lease, token, row[0]))
            except sqlite3.Error as exc:
                raise self._queue_fail(exc, "reserve a job") from exc
        if row is None:  # another worker took it between the look and the lock
            return None
        return job_from_row((*row[:-1], row[-1] + 1), token)

    def ack(self, job: Job) -> bool:
        """Delete ``job``: it is done. ``False`` when its lease was lost to another worker.

        Raises:
            QueueError: the database cannot be opened or written.
        """
        return self._write(_ACK, (job.id, job.token), "acknowledge a job") == 1

    def retry(self, job: Job, delay: float, error: str) -> bool:
        """Make ``job`` due again in ``delay`` seconds. ``False`` when its lease was lost.

        Raises:
            QueueError: the database cannot be opened or written.
        """
        due = self._clock() + delay
        return self._write(_RETRY, (due, error, job.id, job.token), "retry a job") == 1

    def bury(self, job: Job, error: str) -> bool:
        """Make ``job`` a dead letter with ``error``. ``False`` when its lease was lost.

        Raises:
            QueueError: the database cannot be opened or written.
        """
        params = (error, self._clock(), job.id, job.token)
        return self._write(_BURY, params, "bury a job") == 1

    # -- the operator's side ----------------------------------------------------------------

    def dead_letters(self) -> list[DeadLetter]:
        """Return every dead letter, oldest failure first.

        Raises:
            QueueError: the database cannot be opened or read.
        """
        rows = self._read(_DEAD + " ORDER BY failed_at, id", (), "list dead letters")
        return [_dead_letter(row) for row in rows]

    def dead_letter(self, job_id: str) -> DeadLetter:
        """Return dead letter ``job_id``.

        Raises:
            JobNotFound: no dead letter has this id.
            QueueError: the database cannot be opened or read.
        """
        rows = self._read(_DEAD + " AND id = ?", (job_id,), "read a dead letter")
        if not rows:
            raise unknown_job(job_id)
        return _dead_letter(rows[0])

    def replay(self, job_id: str) -> None:
        """Queue dead letter ``job_id`` again, due now, its attempts counted from 1 again.

        Raises:
            JobNotFound: no dead letter has this id.
            QueueError: the database cannot be opened or written.
        """
        if self._write(_REPLAY, (self._clock(), job_id), "replay a dead letter") != 1:
            raise unknown_job(job_id)

    def purge(self) -> int:
        """Delete every dead letter; return how many there were.

        Raises:
            QueueError: the database cannot be opened or written.
        """
        return self._write(_PURGE, (), "purge dead letters")

    def stats(self) -> QueueStats:
        """Return depth, due, leased, dead and the oldest unfinished job's age.

        Raises:
            QueueError: the database cannot be opened or read.
        """
        now = self._clock()
        ((depth, due, leased, dead, oldest),) = self._read(_STATS, {"now": now}, "count jobs")
        return QueueStats(
            depth=int(depth),
            due=int(due),
            leased=int(leased),
            dead=int(dead),
            oldest_age=None if oldest is None else max(0.0, now - float(oldest)),
        )

"""A SQLite file shared by the processes and threads of one host (dedup store, journal).

:class:`SQLiteFile` opens the file lazily, once per process, in WAL mode with
``synchronous=NORMAL`` (readers never block the writer; a commit costs no fsync and survives the
crash of any process), and creates the tables it is given.

Processes and threads: a connection never crosses a fork (SQLite forbids using one in a child).
Just before ``os.fork()`` (gunicorn's ``--preload``, ``multiprocessing``'s fork start method)
every open file waits for its in-flight step and closes its connection; parent and child each
reconnect on their next call. Should a fork bypass Python's at-fork hooks, the child notices the
changed pid, opens its own connection and never touches, nor closes, the inherited one. Threads
of one process share the connection behind :attr:`SQLiteFile.lock`: SQLite admits one writer at
a time anyway.

Imported only by the SQLite store and the SQLite journal, so ``import cortexhooks_receiver``
never imports :mod:`sqlite3`.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Sequence
from typing import Any

from cortexhooks_receiver.errors import ConfigurationError

__all__ = ["SQLiteFile", "check_file_path"]

# Files open in this process, so a fork never hands an open connection to the child.
_live_files: weakref.WeakSet[SQLiteFile] = weakref.WeakSet()
# Connections found in a child forked without the hooks below (a fork from C code): kept
# referenced until exit so the child never closes them.
_inherited: list[sqlite3.Connection] = []


def _before_fork() -> None:
    # Wait for in-flight steps, then close: neither the parent's lock nor its connection can
    # reach the child in a half-used state. The parent reconnects on its next call.
    for file in list(_live_files):
        file.lock.acquire()
        file.drop_connection(close=True)


def _after_fork_in_parent() -> None:
    for file in list(_live_files):
        file.lock.release()


def _after_fork_in_child() -> None:
    for file in list(_live_files):
        file.lock = threading.Lock()
        file.pid = os.getpid()


os.register_at_fork(
    before=_before_fork,
    after_in_parent=_after_fork_in_parent,
    after_in_child=_after_fork_in_child,
)


def check_file_path(path: str | os.PathLike[str], what: str) -> str:
    """Return ``path`` as a string, refusing the in-memory databases.

    Raises:
        ConfigurationError: ``path`` is ``":memory:"`` or empty: each process would get a
            private database, which defeats ``what`` (e.g. "the memory:// store").
    """
    path = os.fspath(path)
    if path in ("", ":memory:") or path.startswith("file::memory:"):
        raise ConfigurationError(
            f"An in-memory SQLite database is private to one process; use {what} for a single "
            "process, or give a file path."
        )
    return path


class SQLiteFile:
    """A SQLite database file, opened lazily once per process, with its tables created.

    Use it as ``with file.lock: conn = file.connection()``: the lock serialises this process's
    threads on the one connection.

    Args:
        path: the database file (its directory must exist).
        busy_timeout: seconds a statement waits for another process's write lock.
        schema: ``CREATE ... IF NOT EXISTS`` statements run on each new connection.
    """

    def __init__(self, path: str, busy_timeout: float, schema: Sequence[str]) -> None:
        self.path = path
        self.busy_timeout = busy_timeout
        self.schema = tuple(schema)
        self.lock = threading.Lock()
        self.pid = os.getpid()
        self._conn: sqlite3.Connection | None = None
        _live_files.add(self)

    def connection(self) -> sqlite3.Connection:
        """This process's connection, opened on first use. Call it with :attr:`lock` held.

        Raises:
            sqlite3.Error: the file cannot be opened, switched to WAL or given its tables.
        """
        if self.pid != os.getpid():  # forked by a path that skipped the at-fork hooks
            self.drop_connection(close=False)
            self.pid = os.getpid()
        conn = self._conn
        if conn is None:
            conn = self._conn = self._connect()
        return conn

    def run(self, sql: str, params: Sequence[object] = ()) -> tuple[list[Any], int]:
        """Run one statement under :attr:`lock`; return its rows and its ``rowcount``.

        Raises:
            sqlite3.Error: the file cannot be opened, or the statement failed.
        """
        with self.lock:
            cursor = self.connection().execute(sql, params)
            return cursor.fetchall(), cursor.rowcount

    def drop_connection(self, *, close: bool) -> None:
        """Forget this process's connection; close it only if this process opened it."""
        conn, self._conn = self._conn, None
        if conn is None:
            return
        if close and self.pid == os.getpid():
            with contextlib.suppress(sqlite3.Error):
                conn.close()
        else:
            _inherited.append(conn)

    def close(self) -> None:
        """Close this process's connection (the next call opens it again). Never raises."""
        with self.lock:
            self.drop_connection(close=True)

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path,
            timeout=self.busy_timeout,
            isolation_level=None,  # autocommit: transactions are explicit
            check_same_thread=False,  # shared by this process's threads behind self.lock
        )
        try:
            self._enable_wal(conn)
            conn.execute("PRAGMA synchronous=NORMAL")
            for statement in self.schema:
                conn.execute(statement)
        except BaseException:
            conn.close()
            raise
        return conn

    def _enable_wal(self, conn: sqlite3.Connection) -> None:
        # Switching a fresh file to WAL needs an exclusive lock, and SQLite reports "database
        # is locked" at once (its busy handler is not consulted) when several processes open
        # the new file together. Retry that case within busy_timeout.
        deadline = time.monotonic() + self.busy_timeout
        delay = 0.001
        while True:
            try:
                if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                    conn.execute("PRAGMA journal_mode=WAL")
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() >= deadline:
                    raise
                time.sleep(delay)
                delay = min(delay * 2, 0.05)
            else:
                return

"""The PostgreSQL job queue: one queue for the receivers and workers of many hosts.

Needs the ``postgres`` extra (psycopg 3). Two tables in one schema (``public`` unless the URL says
``?schema=``), created on first use: ``cortexhooks_jobs`` and ``cortexhooks_dedup``, so the queue
is a dedup :class:`~cortexhooks_receiver.stores.Store` too. Given as both the receiver's store and
its queue (the same URL), the dedup claim, the enqueue and the completion of a delivery are one
transaction (:meth:`PostgresQueue.claim_enqueue`).

* ``reserve`` is one ``UPDATE ... WHERE id = (SELECT ... FOR UPDATE SKIP LOCKED) RETURNING``:
  workers on any number of hosts never wait for one another nor take the same job.
* A job row is due when ``due_at`` has passed: for a queued job, when it may run; for a reserved
  one, when its lease ends (so a job whose worker died is taken over). ``ack``, ``retry`` and
  ``bury`` match the lease's token; their ``WHERE`` comes from the transition table of
  :mod:`.base`.
* A dedup claim takes a transaction-scoped advisory lock per key (in a fixed order, so two
  claims never deadlock) before reading the keys: two receivers can never both see a delivery
  as new.

Times are the clients' wall clocks (``time.time``, or the injected ``clock``): keep the hosts'
clocks in sync (NTP), as leases and retention compare times written by different hosts.

Connections: one per thread and process, opened lazily in autocommit mode; a process never
uses, nor closes, a connection it inherited through ``fork``. Any database failure raises
:class:`~cortexhooks_receiver.errors.QueueError` (the dedup methods: ``StoreError``).
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from cortexhooks_receiver.errors import ConfigurationError, StoreError
from cortexhooks_receiver.stores.base import ClaimState, Store

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

if TYPE_CHECKING:
    import psycopg

__all__ = ["PostgresQueue", "split_url"]

_SCHEMA_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
_CLAIMED: Final = 0
_DONE: Final = 1
# Connections found in a forked child: kept referenced so that the child never closes them (a
# libpq close would end the parent's session on the shared socket).
_inherited: list[Any] = []


class _SQL:
    """Every statement, for one schema (identifiers are validated, values always bound)."""

    def __init__(self, schema: str) -> None:
        jobs = f'"{schema}".cortexhooks_jobs'
        dedup = f'"{schema}".cortexhooks_dedup'
        self.setup = (
            f'CREATE SCHEMA IF NOT EXISTS "{schema}"',
            f"CREATE TABLE IF NOT EXISTS {jobs} ("
            " id text PRIMARY KEY,"
            " state smallint NOT NULL,"  # 0 queued, 1 reserved, 2 dead
            " due_at double precision NOT NULL,"  # queued: may run from; reserved: lease end
            " event text NOT NULL,"
            " body bytea NOT NULL,"
            " delivery_id text,"
            " webhook_id text,"
            " secret_index integer,"
            " enqueued_at double precision NOT NULL,"
            " attempts integer NOT NULL DEFAULT 0,"
            " token text,"
            " error text,"
            " failed_at double precision)",
            f"CREATE INDEX IF NOT EXISTS cortexhooks_jobs_due ON {jobs} (due_at) "
            f"WHERE {UNFINISHED}",
            f"CREATE TABLE IF NOT EXISTS {dedup} ("
            " key text PRIMARY KEY,"
            " state smallint NOT NULL,"  # 0 claimed, 1 done
            " token text NOT NULL,"
            " expires_at double precision NOT NULL)",
            f"CREATE INDEX IF NOT EXISTS cortexhooks_dedup_expires_at ON {dedup} (expires_at)",
        )
        self.lock_keys = (  # one transaction-scoped lock per key, always taken in hash order
            "SELECT pg_advisory_xact_lock(h) FROM (SELECT hashtextextended(%(ns)s || k, 0) AS h "
            "FROM unnest(%(keys)s::text[]) AS k ORDER BY 1) AS locks"
        )
        verdict = (
            f"WITH found AS (SELECT state, token FROM {dedup} "  # noqa: S608
            "WHERE key = ANY(%(keys)s) AND expires_at > %(now)s), "
            "verdict AS (SELECT CASE WHEN bool_or(state = 1) THEN 'done' "
            "WHEN bool_or(token <> %(token)s) THEN 'in_progress' ELSE 'new' END AS v FROM found)"
        )
        remember = (
            f"INSERT INTO {dedup} (key, state, token, expires_at) "  # noqa: S608
            "SELECT k, %(state)s, %(token)s, %(expires)s FROM unnest(%(keys)s::text[]) AS k{also} "
            "ON CONFLICT (key) DO UPDATE SET state = EXCLUDED.state, token = EXCLUDED.token, "
            "expires_at = EXCLUDED.expires_at"
        )
        self.claim = (
            f"{verdict}, claimed AS ({remember.format(also=', verdict WHERE v = %(write)s')}) "  # noqa: S608
            "SELECT v FROM verdict"
        )
        self.complete = remember.format(also="")
        self.release = (
            f"DELETE FROM {dedup} WHERE key = ANY(%(keys)s) AND state = 0 AND token = %(token)s"  # noqa: S608
        )
        insert_job = (
            f"INSERT INTO {jobs} (id, state, due_at, event, body, delivery_id, webhook_id, "
            "secret_index, enqueued_at, attempts) "
            "SELECT %(id)s, 0, %(now)s, %(event)s, %(body)s, %(delivery_id)s, %(webhook_id)s, "
            "%(secret_index)s, %(enqueued_at)s, 0"
        )
        self.enqueue = insert_job
        self.claim_enqueue = (
            f"{verdict}, job AS ({insert_job} FROM verdict WHERE v = 'new'), "  # noqa: S608
            f"remembered AS ({remember.format(also=', verdict WHERE v <> %(write)s')}) "
            "SELECT v FROM verdict"
        )
        self.prune_some = (
            f"DELETE FROM {dedup} WHERE key IN (SELECT key FROM {dedup} "  # noqa: S608
            "WHERE expires_at <= %(now)s LIMIT 1000)"
        )
        self.prune = f"DELETE FROM {dedup} WHERE expires_at <= %(now)s"  # noqa: S608
        self.reserve = (
            f"UPDATE {jobs} SET state = 1, due_at = %(until)s, token = %(token)s, "  # noqa: S608
            f"attempts = attempts + 1 WHERE id = (SELECT id FROM {jobs} "
            f"WHERE {UNFINISHED} AND due_at <= %(now)s ORDER BY due_at LIMIT 1 "
            f"FOR UPDATE SKIP LOCKED) AND {_where('reserve')} RETURNING {ROW_COLUMNS}"
        )
        mine = "id = %(id)s AND token = %(token)s"
        self.ack = f"DELETE FROM {jobs} WHERE {mine} AND {_where('ack')}"  # noqa: S608
        self.retry = (
            f"UPDATE {jobs} SET state = 0, due_at = %(due)s, token = NULL, error = %(error)s "  # noqa: S608
            f"WHERE {mine} AND {_where('retry')}"
        )
        self.bury = (
            f"UPDATE {jobs} SET state = 2, token = NULL, error = %(error)s, "  # noqa: S608
            f"failed_at = %(now)s WHERE {mine} AND {_where('bury')}"
        )
        self.replay = (
            f"UPDATE {jobs} SET state = 0, due_at = %(now)s, attempts = 0, error = NULL, "  # noqa: S608
            f"failed_at = NULL WHERE id = %(id)s AND {_where('replay')}"
        )
        self.purge = f"DELETE FROM {jobs} WHERE {_where('purge')}"  # noqa: S608
        self.dead = f"SELECT {DEAD_COLUMNS} FROM {jobs} WHERE {_where('replay')}"  # noqa: S608
        self.stats = (
            f"SELECT count(*) FILTER (WHERE {UNFINISHED}), "  # noqa: S608
            f"count(*) FILTER (WHERE {UNFINISHED} AND due_at <= %(now)s), "
            "count(*) FILTER (WHERE state = 1 AND due_at > %(now)s), "
            "count(*) FILTER (WHERE state = 2), "
            f"min(enqueued_at) FILTER (WHERE {UNFINISHED}) FROM {jobs}"
        )


def split_url(url: str) -> tuple[str, str]:
    """Return ``(conninfo, schema)`` of a ``postgresql://`` URL with an optional ``schema``.

    Raises:
        ConfigurationError: the schema is not a plain SQL identifier.
    """
    parts = urlsplit(url)
    schema = "public"
    kept: list[tuple[str, str]] = []
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        if name == "schema":
            schema = value
        else:
            kept.append((name, value))
    return urlunsplit(parts._replace(query=urlencode(kept))), schema


class PostgresQueue:
    """A job queue (and dedup store) in PostgreSQL, for the receivers and workers of many hosts.

    Args:
        conninfo: a libpq connection string or ``postgresql://`` URL (without ``schema``).
        schema: the schema of the two tables (created if missing); a plain SQL identifier.
        clock: wall-clock seconds (``time.time``); inject one in tests to expire leases.
        connect_timeout: seconds to wait for a connection before failing.
        prune_every: delete a batch of expired dedup rows once per this many completions (per
            process); 0 disables it.

    Nothing connects at construction; an unreachable server surfaces as ``QueueError`` (or
    ``StoreError``) on the first call.

    Raises:
        ConfigurationError: a schema that is not a plain identifier, or a negative option.
        ImportError: psycopg is not installed (the ``postgres`` extra).
    """

    def __init__(
        self,
        conninfo: str,
        *,
        schema: str = "public",
        clock: Callable[[], float] | None = None,
        connect_timeout: float = 5.0,
        prune_every: int = 256,
    ) -> None:
        if not _SCHEMA_NAME.fullmatch(schema):
            raise ConfigurationError(
                f"The PostgreSQL schema must be a plain identifier ([A-Za-z_][A-Za-z0-9_]*), "
                f"not {schema!r}."
            )
        if connect_timeout <= 0 or prune_every < 0:
            raise ConfigurationError("connect_timeout must be > 0 and prune_every >= 0.")
        try:
            import psycopg  # noqa: F401
        except ImportError as exc:
            raise ImportError(
                "The PostgreSQL job queue needs psycopg 3; install it with: "
                "pip install 'cortexhooks-receiver[postgres]'",
                name=exc.name,
            ) from exc
        self.conninfo = conninfo
        self.schema = schema
        self.connect_timeout = connect_timeout
        self.prune_every = prune_every
        self._clock: Callable[[], float] = clock if clock is not None else time.time
        self._sql = _SQL(schema)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: list[tuple[int, Any]] = []  # (pid, connection) of every thread
        self._ready = False
        self._completions = 0

    @classmethod
    def from_url(cls, url: str, **options: Any) -> PostgresQueue:
        """Return the queue of a ``postgresql://`` URL (option ``schema``; libpq's others).

        ``options`` go to the constructor (``clock``, ``connect_timeout``, ``prune_every``).

        Raises:
            ConfigurationError: as the constructor.
            ImportError: psycopg is not installed.
        """
        conninfo, schema = split_url(url)
        return cls(conninfo, schema=schema, **options)

    def __repr__(self) -> str:
        host = urlsplit(self.conninfo).hostname if "://" in self.conninfo else None
        return f"PostgresQueue(host={host!r}, schema={self.schema!r})"

    # -- connections --------------------------------------------------------------------------

    def _connection(self) -> psycopg.Connection[Any]:
        pid = os.getpid()
        conn = getattr(self._local, "conn", None)
        if conn is not None and self._local.pid == pid and not conn.closed:
            reused: psycopg.Connection[Any] = conn
            return reused
        if conn is not None and self._local.pid != pid:
            _inherited.append(conn)  # forked: never touch the parent's session
        import psycopg

        conn = psycopg.connect(
            self.conninfo, autocommit=True, connect_timeout=max(1, round(self.connect_timeout))
        )
        self._local.conn, self._local.pid = conn, pid
        with self._lock:
            self._connections.append((pid, conn))
        if not self._ready:
            self._create_tables(conn)
        return conn

    def _create_tables(self, conn: psycopg.Connection[Any]) -> None:
        # Processes starting together must not race to create the same tables.
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(hashtext('cortexhooks_receiver.schema'))")
            for statement in self._sql.setup:
                conn.execute(statement)
        self._ready = True

    @contextmanager
    def _session(self, action: str, error: type[Exception] = QueueError) -> Iterator[Any]:
        import psycopg

        try:
            conn = self._connection()
        except psycopg.Error as exc:
            raise error(f"PostgreSQL unreachable, cannot {action}: {exc}") from exc
        try:
            yield conn
        except psycopg.Error as exc:
            # The primary message only: a DETAIL line may quote a row's values (a dedup key is
            # the body's HMAC), and this message is logged.
            reason = exc.diag.message_primary or type(exc).__name__
            raise error(f"PostgreSQL failed to {action}: {reason}") from exc

    def _run(
        self, sql: str, params: dict[str, Any], action: str, error: type[Exception] = QueueError
    ) -> Any:
        """Run one statement (atomic on its own); return its cursor."""
        with self._session(action, error) as conn:
            return conn.execute(sql, params)

    def close(self) -> None:
        """Close the connections this process opened (a later call opens new ones). Never raises."""
        pid = os.getpid()
        with self._lock:
            mine = [conn for owner, conn in self._connections if owner == pid]
            self._connections = [item for item in self._connections if item[0] != pid]
        for conn in mine:
            with contextlib.suppress(Exception):  # closing is best effort
                conn.close()
        self._local = threading.local()

    # -- the dedup Store protocol -------------------------------------------------------------

    def _claim_params(self, keys: Sequence[str], token: str, now: float) -> dict[str, Any]:
        return {"keys": list(keys), "token": token, "now": now, "ns": self.schema + ":"}

    def claim(self, keys: Sequence[str], lease: float, token: str) -> ClaimState:
        """Atomically claim ``keys`` for ``lease`` seconds (see the Store protocol).

        Raises:
            StoreError: the database is unreachable or failed.
        """
        with self._session("claim a delivery", StoreError) as conn, conn.transaction():
            now = self._clock()
            params = self._claim_params(keys, token, now)
            conn.execute(self._sql.lock_keys, params)
            params |= {"state": _CLAIMED, "expires": now + lease, "write": "new"}
            (verdict,) = conn.execute(self._sql.claim, params).fetchone()
        return ClaimState(verdict)

    def complete(self, keys: Sequence[str], retention: float, token: str) -> None:
        """Remember ``keys`` as done for ``retention`` seconds, whoever holds them.

        Raises:
            StoreError: the database is unreachable or failed.
        """
        now = self._clock()
        params = {"keys": list(keys), "token": token, "state": _DONE, "expires": now + retention}
        with self._session("complete a delivery", StoreError) as conn:
            conn.execute(self._sql.complete, params)
            self._completed(conn, now)

    def _completed(self, conn: psycopg.Connection[Any], now: float) -> None:
        # Every prune_every completions (per process), delete a bounded batch of expired rows.
        self._completions += 1
        if self.prune_every and self._completions % self.prune_every == 0:
            conn.execute(self._sql.prune_some, {"now": now})

    def release(self, keys: Sequence[str], token: str) -> None:
        """Forget the claims on ``keys`` that ``token`` still holds.

        Raises:
            StoreError: the database is unreachable or failed.
        """
        self._run(self._sql.release, {"keys": list(keys), "token": token}, "release", StoreError)

    def prune(self) -> int:
        """Delete every expired dedup row now; return how many.

        Raises:
            StoreError: the database is unreachable or failed.
        """
        cursor = self._run(self._sql.prune, {"now": self._clock()}, "prune", StoreError)
        return int(cursor.rowcount)

    # -- the receiver's side ------------------------------------------------------------------

    def same_database(self, store: str | Store) -> bool:
        """Return whether ``store`` is this queue, or a URL naming its database and schema."""
        if not isinstance(store, str):
            return store is self
        if not store.lower().startswith(("postgresql://", "postgres://")):
            return False
        from psycopg.conninfo import conninfo_to_dict

        conninfo, schema = split_url(store)
        return schema == self.schema and conninfo_to_dict(conninfo) == conninfo_to_dict(
            self.conninfo
        )

    def _job_params(self, job: Job, now: float) -> dict[str, Any]:
        return {
            "id": job.id,
            "now": now,
            "event": job.event,
            "body": job.body,
            "delivery_id": job.delivery_id,
            "webhook_id": job.webhook_id,
            "secret_index": job.secret_index,
            "enqueued_at": job.enqueued_at or now,
        }

    def enqueue(self, job: Job) -> None:
        """Store ``job``, due now (one statement).

        Raises:
            QueueError: the database is unreachable or failed.
        """
        self._run(self._sql.enqueue, self._job_params(job, self._clock()), "enqueue a job")

    def claim_enqueue(
        self, keys: Sequence[str], lease: float, retention: float, token: str, job: Job
    ) -> ClaimState:
        """Claim ``keys``, enqueue ``job`` and mark ``keys`` done, in one transaction.

        Raises:
            QueueError: the database is unreachable or failed; nothing was written.
        """
        with self._session("enqueue a delivery") as conn, conn.transaction():
            now = self._clock()
            params = self._claim_params(keys, token, now)
            conn.execute(self._sql.lock_keys, params)
            params |= self._job_params(job, now)
            params |= {"state": _DONE, "expires": now + retention, "write": "in_progress"}
            (verdict,) = conn.execute(self._sql.claim_enqueue, params).fetchone()
            if verdict != "in_progress":
                self._completed(conn, now)
        return ClaimState(verdict)

    # -- the worker's side --------------------------------------------------------------------

    def reserve(self, lease: float) -> Job | None:
        """Lease the next due job (``FOR UPDATE SKIP LOCKED``) for ``lease`` seconds.

        Raises:
            QueueError: the database is unreachable or failed.
        """
        now = self._clock()
        token = new_lease_token()
        params = {"now": now, "until": now + lease, "token": token}
        row = self._run(self._sql.reserve, params, "reserve a job").fetchone()
        return None if row is None else job_from_row(row, token)

    def _settle(self, sql: str, job: Job, action: str, **extra: Any) -> bool:
        params = {"id": job.id, "token": job.token, "now": self._clock(), **extra}
        return int(self._run(sql, params, action).rowcount) == 1

    def ack(self, job: Job) -> bool:
        """Delete ``job``: it is done. ``False`` when its lease was lost to another worker.

        Raises:
            QueueError: the database is unreachable or failed.
        """
        return self._settle(self._sql.ack, job, "acknowledge a job")

    def retry(self, job: Job, delay: float, error: str) -> bool:
        """Make ``job`` due again in ``delay`` seconds. ``False`` when its lease was lost.

        Raises:
            QueueError: the database is unreachable or failed.
        """
        due = self._clock() + delay
        return self._settle(self._sql.retry, job, "retry a job", due=due, error=error)

    def bury(self, job: Job, error: str) -> bool:
        """Make ``job`` a dead letter with ``error``. ``False`` when its lease was lost.

        Raises:
            QueueError: the database is unreachable or failed.
        """
        return self._settle(self._sql.bury, job, "bury a job", error=error)

    # -- the operator's side ------------------------------------------------------------------

    def dead_letters(self) -> list[DeadLetter]:
        """Return every dead letter, oldest failure first.

        Raises:
            QueueError: the database is unreachable or failed.
        """
        cursor = self._run(self._sql.dead + " ORDER BY failed_at, id", {}, "list dead letters")
        return [_dead_letter(row) for row in cursor.fetchall()]

    def dead_letter(self, job_id: str) -> DeadLetter:
        """Return dead letter ``job_id``.

        Raises:
            JobNotFound: no dead letter has this id.
            QueueError: the database is unreachable or failed.
        """
        sql = self._sql.dead + " AND id = %(id)s"
        row = self._run(sql, {"id": job_id}, "read a dead letter").fetchone()
        if row is None:
            raise unknown_job(job_id)
        return _dead_letter(row)

    def replay(self, job_id: str) -> None:
        """Queue dead letter ``job_id`` again, due now, its attempts counted from 1 again.

        Raises:
            JobNotFound: no dead letter has this id.
            QueueError: the database is unreachable or failed.
        """
        params = {"id": job_id, "now": self._clock()}
        if self._run(self._sql.replay, params, "replay a dead letter").rowcount != 1:
            raise unknown_job(job_id)

    def purge(self) -> int:
        """Delete every dead letter; return how many there were.

        Raises:
            QueueError: the database is unreachable or failed.
        """
        return int(self._run(self._sql.purge, {}, "purge dead letters").rowcount)

    def stats(self) -> QueueStats:
        """Return depth, due, leased, dead and the oldest unfinished job's age.

        Raises:
            QueueError: the database is unreachable or failed.
        """
        now = self._clock()
        depth, due, leased, dead, oldest = self._run(
            self._sql.stats, {"now": now}, "count jobs"
        ).fetchone()
        return QueueStats(
            depth=depth,
            due=due,
            leased=leased,
            dead=dead,
            oldest_age=None if oldest is None else max(0.0, now - oldest),
        )

"""Background mode: the job queues, the worker that drains them, and :func:`open_queue`.

``Receiver(queue=...)`` answers 202 once a verified delivery is durably a :class:`Job`;
:class:`~cortexhooks_receiver.jobs.worker.Worker` (``ch.Worker``) runs the handlers later. The
built-in queues are SQLite (one host) and PostgreSQL (many hosts); Celery and RQ take the jobs
over through :mod:`cortexhooks_receiver.integrations.celery` and ``...integrations.rq``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .base import (
    DeadLetter,
    HandoffQueue,
    Job,
    JobRunner,
    JobStateError,
    Queue,
    QueueStats,
    RetryPolicy,
    WorkQueue,
)

if TYPE_CHECKING:
    from cortexhooks_receiver.stores.base import Store

    from .postgres import PostgresQueue
    from .sqlite import SQLiteQueue
    from .worker import Worker

__all__ = [
    "DeadLetter",
    "HandoffQueue",
    "Job",
    "JobRunner",
    "JobStateError",
    "PostgresQueue",
    "Queue",
    "QueueStats",
    "RetryPolicy",
    "SQLiteQueue",
    "WorkQueue",
    "Worker",
    "attach_queue",
    "open_queue",
]

_HINT = "use sqlite:///path.db, postgresql://user@host/db, or a queue object"


def __getattr__(name: str) -> object:
    # Imported on first use: `import cortexhooks_receiver` never imports sqlite3 or psycopg.
    if name == "SQLiteQueue":
        from .sqlite import SQLiteQueue

        return SQLiteQueue
    if name == "PostgresQueue":
        from .postgres import PostgresQueue

        return PostgresQueue
    if name == "Worker":
        from .worker import Worker

        return Worker
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def open_queue(url: str | Queue) -> Queue:
    """Return the queue a URL names; a :class:`Queue` object is returned unchanged.

    * ``sqlite:///relative.db`` or ``sqlite:////absolute/path.db`` (options ``busy_timeout``,
      ``prune_every``, as the SQLite store): one host, any number of processes.
    * ``postgresql://user:password@host:5432/db`` (or ``postgres://``; option ``schema``, and
      any libpq option such as ``sslmode``): many hosts; needs the ``postgres`` extra.

    Raises:
        ConfigurationError: not a URL, an unknown scheme or option, or the extra is missing.
    """
    from cortexhooks_receiver.errors import ConfigurationError

    if not isinstance(url, str):
        if not isinstance(url, Queue):
            raise ConfigurationError(
                f"queue must be a URL or a queue object ({_HINT}), not {url!r}"
            )
        return url
    scheme, sep, rest = url.partition("://")
    scheme = scheme.lower()
    if not sep:
        raise ConfigurationError(f"The job queue must be given as a URL; {_HINT}.")
    if scheme == "sqlite":
        from cortexhooks_receiver.stores._urls import sqlite_settings

        from .sqlite import SQLiteQueue

        path, busy_timeout, prune_every = sqlite_settings(rest)
        return SQLiteQueue(path, busy_timeout=busy_timeout, prune_every=prune_every)
    if scheme in ("postgresql", "postgres"):
        from .postgres import PostgresQueue

        return PostgresQueue.from_url(url)
    raise ConfigurationError(f"Unknown job queue URL scheme {scheme!r}; {_HINT}.")


def attach_queue(
    queue: str | Queue, store: str | Store, runner: JobRunner
) -> tuple[Queue, str | Store]:
    """Open a receiver's queue; return it and the dedup store the receiver should use.

    A handoff queue (Celery, RQ) is bound to ``runner`` (its task runs the jobs with it). When
    ``store`` names a built-in queue's own database, the store returned is the queue itself, so
    that the dedup claim and the enqueue are one transaction.

    Raises:
        ConfigurationError: as :func:`open_queue`, or the handoff queue is bound elsewhere.
    """
    opened = open_queue(queue)
    if isinstance(opened, HandoffQueue):
        opened.bind(runner)
    if isinstance(opened, WorkQueue) and opened.same_database(store):
        return opened, opened
    return opened, store

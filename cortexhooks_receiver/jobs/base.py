"""The job queue: what a job is, the states it moves through, and the protocols of the queues.

In background mode (``Receiver(queue=...)``) the receiver answers 202 once a verified delivery
is durably a :class:`Job`; a worker runs its handlers later. Every state of a job and every move
between them is in one table, :data:`TRANSITIONS` (the model is h11's ``_state.py``)::

    enqueue ──▶ queued ──reserve──▶ reserved ──ack────▶ done    (the row is deleted)
                  ▲                   │  │ └───retry──▶ queued  (due again after a backoff)
                  │                   │  └─────bury───▶ dead    (a dead letter)
                  │                   └─ lease expired: reserve again (another worker takes over)
                  └────────replay──────────────────────  dead ──purge──▶ purged (deleted)

The job words are the same in every queue: ``enqueue`` (the receiver), ``reserve`` (a worker
leases the next due job for ``lease`` seconds), ``ack`` (done), ``retry`` (due again later),
``bury`` (dead letter); then ``dead_letters``, ``replay`` and ``purge`` for the operator, and
``prune``/``close`` as for the dedup stores. ``ack``, ``retry`` and ``bury`` are compare-and-set
on the lease: a worker whose lease expired (it overran, and another worker took the job over)
changes nothing, so a job that finished never runs again.

Two kinds of queue implement :class:`Queue`:

* :class:`WorkQueue`, the built-in queues (SQLite, PostgreSQL) that :class:`~.worker.Worker`
  drains. They also keep the dedup keys in their own database (they are a
  :class:`~cortexhooks_receiver.stores.Store` too): when the receiver's store is the queue's
  database, the dedup claim and the enqueue are one transaction (:meth:`WorkQueue.claim_enqueue`).
* :class:`HandoffQueue`, which hands each job to an engine that runs it (Celery, RQ); the engine
  calls back into the receiver (:meth:`HandoffQueue.bind`).
"""

from __future__ import annotations

import datetime as _dt
import os
import random
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final, Literal, Protocol, runtime_checkable

import msgspec

from cortexhooks_receiver.errors import (
    ConfigurationError,
    JobNotFound,
    PermanentError,
    QueueError,
    UsageError,
)
from cortexhooks_receiver.stores.base import ClaimState, Store

if TYPE_CHECKING:
    from cortexhooks_receiver.events import AnyEvent

__all__ = [
    "DEAD_COLUMNS",
    "DEFAULT_BACKOFF",
    "DEFAULT_MAX_ATTEMPTS",
    "DEFAULT_MAX_BACKOFF",
    "DEFAULT_TIMEOUT",
    "ROW_COLUMNS",
    "STATE_CODES",
    "TRANSITIONS",
    "UNFINISHED",
    "DeadLetter",
    "HandoffQueue",
    "Job",
    "JobNotFound",
    "JobRunner",
    "JobState",
    "JobStateError",
    "Move",
    "Queue",
    "QueueError",
    "QueueStats",
    "RetryPolicy",
    "WorkQueue",
    "advance",
    "dead_letter_from_row",
    "describe_failure",
    "job_from_row",
    "new_job_id",
    "new_lease_token",
    "sources",
    "state_condition",
    "unknown_job",
]

DEFAULT_MAX_ATTEMPTS: Final = 8
DEFAULT_BACKOFF: Final = 1.0
DEFAULT_MAX_BACKOFF: Final = 3600.0
DEFAULT_TIMEOUT: Final = 30.0
_MAX_ERROR_CHARS: Final = 1000

JobState = Literal["queued", "reserved", "done", "dead", "purged"]
"""Where a job stands; see the module docs."""

Move = Literal["enqueue", "reserve", "ack", "retry", "bury", "replay", "purge"]
"""What can happen to a job: the queue's vocabulary."""

TRANSITIONS: Final[Mapping[Move, tuple[frozenset[JobState], JobState]]] = MappingProxyType(
    {
        "enqueue": (frozenset(), "queued"),
        # A reserved job is reserved again only once its lease has expired (a takeover).
        "reserve": (frozenset({"queued", "reserved"}), "reserved"),
        "ack": (frozenset({"reserved"}), "done"),
        "retry": (frozenset({"reserved"}), "queued"),
        "bury": (frozenset({"reserved"}), "dead"),
        "replay": (frozenset({"dead"}), "queued"),
        "purge": (frozenset({"dead"}), "purged"),
    }
)
"""Move -> (the states a job may be in for it, the state it leaves the job in)."""


STATE_CODES: Final[Mapping[JobState, int]] = MappingProxyType(
    {"queued": 0, "reserved": 1, "dead": 2}
)
"""How the SQL queues store the states a job row can be in (done and purged rows are deleted)."""

UNFINISHED: Final = "state < 2"
"""SQL condition of a queued or reserved row (the SQL queues' partial index on ``due_at``)."""

ROW_COLUMNS: Final = "id, event, body, delivery_id, webhook_id, secret_index, enqueued_at, attempts"
"""The columns of a job row that :func:`job_from_row` reads, in its order."""

DEAD_COLUMNS: Final = "id, event, delivery_id, attempts, error, failed_at"
"""The columns of a dead job row that :func:`dead_letter_from_row` reads, in its order."""


class JobStateError(UsageError):
    """A job was moved in a way :data:`TRANSITIONS` does not allow (a programming mistake)."""


def sources(move: Move) -> frozenset[JobState]:
    """Return the states from which ``move`` is allowed (the queues build their SQL from it).

    Raises:
        JobStateError: ``move`` is not one of the queue's moves.
    """
    entry = TRANSITIONS.get(move)
    if entry is None:
        raise JobStateError(f"{move!r} is not a job move")
    return entry[0]


def state_condition(move: Move) -> str:
    """SQL ``state IN (...)``: the rows :data:`TRANSITIONS` allows ``move`` from.

    Raises:
        JobStateError: ``move`` is not one of the queue's moves.
    """
    codes = sorted(STATE_CODES[state] for state in sources(move))
    return f"state IN ({', '.join(map(str, codes))})"


def advance(state: JobState | None, move: Move) -> JobState:
    """Return the state ``move`` leaves a job in that is now in ``state`` (``None``: no job yet).

    Raises:
        JobStateError: the table does not allow ``move`` from ``state``.
    """
    allowed = sources(move)
    if (state is None and allowed) or (state is not None and state not in allowed):
        raise JobStateError(f"a {state or 'missing'} job cannot {move}")
    return TRANSITIONS[move][1]


def new_job_id() -> str:
    """Return a new job id: ``job_`` and 32 hex digits of ``os.urandom``."""
    return "job_" + os.urandom(16).hex()


def new_lease_token() -> str:
    """Return a new lease token (24 hex digits of ``os.urandom``): who holds a reserved job."""
    return os.urandom(12).hex()


class Job(msgspec.Struct, frozen=True, kw_only=True):
    """One verified delivery waiting for (or being given to) its handlers.

    It holds what running the handlers needs, exactly as the receiver verified it: the raw body
    (the event is decoded from it again, as ``handle`` would), the delivery and webhook ids from
    the headers, and the index of the secret whose signature matched. Never a secret.

    Attributes:
        id: the job id (``job_...``).
        event: the event name (for listings; the handlers are chosen from the decoded body).
        body: the raw body bytes that were verified.
        delivery_id: the ``X-CortexBuild-Delivery-Id`` header; the handlers' idempotency key.
        webhook_id: the ``X-CortexBuild-Webhook-Id`` header.
        secret_index: which secret the signature matched (0 = the newest).
        enqueued_at: when the receiver enqueued it (Unix seconds).
        attempt: the attempts so far; on a reserved job, the one it is in (1, 2, ...).
        token: the lease's token while reserved (``None`` otherwise).
    """

    id: str
    event: str
    body: bytes
    delivery_id: str | None = None
    webhook_id: str | None = None
    secret_index: int | None = None
    enqueued_at: float = 0.0
    attempt: int = 0
    token: str | None = None

    def to_json(self) -> str:
        """Return the job as one JSON text (the body base64-encoded), for handoff engines."""
        return _ENCODER.encode(self).decode("ascii")

    @classmethod
    def from_json(cls, text: str | bytes) -> Job:
        """Decode a job from :meth:`to_json`'s text.

        Raises:
            QueueError: the text is not a job.
        """
        try:
            return _DECODER.decode(text)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise QueueError(f"Not a cortexhooks job: {exc}") from None


def job_from_row(row: Sequence[Any], token: str) -> Job:
    """The job a SQL queue just reserved under ``token`` (``row``: :data:`ROW_COLUMNS`)."""
    job_id, event, body, delivery_id, webhook_id, secret_index, enqueued_at, attempts = row
    return Job(
        id=job_id,
        event=event,
        body=bytes(body),
        delivery_id=delivery_id,
        webhook_id=webhook_id,
        secret_index=secret_index,
        enqueued_at=enqueued_at,
        attempt=attempts,
        token=token,
    )


_ENCODER: Final = msgspec.json.Encoder()
_DECODER: Final = msgspec.json.Decoder(Job)


class DeadLetter(msgspec.Struct, frozen=True, kw_only=True):
    """A job that will not run again by itself: it failed ``attempts`` times, or permanently.

    Attributes:
        job_id: the job's id (give it to ``replay``).
        event: the event name.
        delivery_id: the delivery id (the handlers' idempotency key), if the sender gave one.
        attempts: how many attempts were made.
        error: the last failure's type and message (``"RuntimeError: boom"``): never a
            traceback, a body or a secret.
        failed_at: when it was buried (aware UTC datetime).
    """

    job_id: str
    event: str
    delivery_id: str | None
    attempts: int
    error: str
    failed_at: _dt.datetime


def dead_letter_from_row(row: Sequence[Any]) -> DeadLetter:
    """A dead letter from a SQL queue's row (:data:`DEAD_COLUMNS`)."""
    job_id, event, delivery_id, attempts, error, failed_at = row
    return DeadLetter(
        job_id=job_id,
        event=event,
        delivery_id=delivery_id,
        attempts=attempts,
        error=error or "",
        failed_at=_dt.datetime.fromtimestamp(failed_at, _dt.UTC),
    )


class QueueStats(msgspec.Struct, frozen=True, kw_only=True):
    """A queue's gauges (``None`` where an engine cannot tell).

    Attributes:
        depth: jobs not finished and not dead (waiting, scheduled or running).
        due: waiting jobs whose time has come (a worker can take them now).
        leased: jobs a worker is running now (an unexpired lease).
        dead: dead letters.
        oldest_age: seconds since the oldest unfinished job was enqueued (``None``: no job).
    """

    depth: int | None
    due: int | None
    leased: int | None
    dead: int | None
    oldest_age: float | None = None


def describe_failure(exc: BaseException) -> str:
    """Return what a dead letter keeps of a failure: ``"Type: message"``, at most 1000 chars.

    Never a traceback (its frames could hold a secret or the body). Never raises.
    """
    try:
        message = str(exc)
    except Exception:  # a broken __str__ must not lose the dead letter
        message = "<unprintable message>"
    name = type(exc).__qualname__
    text = f"{name}: {message}" if message else name
    return text if len(text) <= _MAX_ERROR_CHARS else text[: _MAX_ERROR_CHARS - 1] + "…"


class RetryPolicy:
    """When a failed job runs again: exponential backoff with jitter, up to ``max_attempts``.

    The ``n``-th retry waits ``min(max_backoff, backoff * 2 ** (n - 1))`` seconds, less a random
    part of up to half of it (so that jobs failing together do not come back together).

    Raises:
        ConfigurationError: ``max_attempts`` below 1, or a negative backoff.
    """

    __slots__ = ("_random", "backoff", "max_attempts", "max_backoff")

    def __init__(
        self,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        backoff: float = DEFAULT_BACKOFF,
        max_backoff: float = DEFAULT_MAX_BACKOFF,
        *,
        rng: Callable[[], float] = random.random,
    ) -> None:
        if isinstance(max_attempts, bool) or not isinstance(max_attempts, int) or max_attempts < 1:
            raise ConfigurationError(f"max_attempts must be an integer >= 1, not {max_attempts!r}.")
        for name, value in (("backoff", backoff), ("max_backoff", max_backoff)):
            if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
                raise ConfigurationError(f"{name} must be a number >= 0, not {value!r}.")
        self.max_attempts = max_attempts
        self.backoff = float(backoff)
        self.max_backoff = float(max_backoff)
        self._random = rng

    def __repr__(self) -> str:
        return (
            f"RetryPolicy(max_attempts={self.max_attempts}, backoff={self.backoff}, "
            f"max_backoff={self.max_backoff})"
        )

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt ``attempt`` (1, 2, ...) before the next one."""
        ceiling = min(self.max_backoff, self.backoff * 2.0 ** min(attempt - 1, 64))
        return ceiling - ceiling / 2 * self._random()

    def retry_after(self, attempt: int, failure: BaseException) -> float | None:
        """Return the delay before the next attempt, or ``None`` when the job should be buried.

        ``None`` for a :class:`~cortexhooks_receiver.errors.PermanentError` and once attempt
        ``max_attempts`` has failed.
        """
        if isinstance(failure, PermanentError) or attempt >= self.max_attempts:
            return None
        return self.delay(attempt)


@runtime_checkable
class JobRunner(Protocol):
    """What runs one job's handlers: the :class:`~cortexhooks_receiver.Receiver`."""

    def run_job(self, job: Job, *, timeout: float | None = None) -> AnyEvent:
        """Run the handlers of ``job`` and return its event; raise what a handler raised."""
        ...


@runtime_checkable
class Queue(Protocol):
    """What the receiver and the operator need of every queue."""

    def enqueue(self, job: Job) -> None:
        """Store ``job`` durably (or hand it to the engine) before returning.

        Raises:
            QueueError: the queue is unreachable; nothing was stored.
        """
        ...

    def dead_letters(self) -> list[DeadLetter]:
        """Return every dead letter, oldest failure first.

        Raises:
            QueueError: the queue is unreachable.
        """
        ...

    def dead_letter(self, job_id: str) -> DeadLetter:
        """Return the dead letter ``job_id``.

        Raises:
            JobNotFound: no dead letter has this id.
            QueueError: the queue is unreachable.
        """
        ...

    def replay(self, job_id: str) -> None:
        """Put dead letter ``job_id`` back on the queue, due now, with its attempts reset.

        Raises:
            JobNotFound: no dead letter has this id.
            QueueError: the queue is unreachable.
        """
        ...

    def purge(self) -> int:
        """Delete every dead letter and return how many there were.

        Raises:
            QueueError: the queue is unreachable.
        """
        ...

    def stats(self) -> QueueStats:
        """Return the queue's gauges.

        Raises:
            QueueError: the queue is unreachable.
        """
        ...

    def close(self) -> None:
        """Release the connections the queue holds (a later call opens them again)."""
        ...


@runtime_checkable
class WorkQueue(Queue, Store, Protocol):
    """A built-in queue: workers lease its jobs, and it keeps dedup keys in its own database."""

    def reserve(self, lease: float) -> Job | None:
        """Lease the next due job for ``lease`` seconds; ``None`` when none is due.

        A job whose lease expired (its worker died or overran) is due again: taken over, its
        attempt counted. The returned job carries the new ``attempt`` and the lease ``token``.

        Raises:
            QueueError: the queue is unreachable.
        """
        ...

    def ack(self, job: Job) -> bool:
        """Finish ``job``; ``False`` when its lease was lost (another worker has it now).

        Raises:
            QueueError: the queue is unreachable.
        """
        ...

    def retry(self, job: Job, delay: float, error: str) -> bool:
        """Make ``job`` due again in ``delay`` seconds; ``False`` when its lease was lost.

        Raises:
            QueueError: the queue is unreachable.
        """
        ...

    def bury(self, job: Job, error: str) -> bool:
        """Make ``job`` a dead letter with ``error``; ``False`` when its lease was lost.

        Raises:
            QueueError: the queue is unreachable.
        """
        ...

    def claim_enqueue(
        self, keys: Sequence[str], lease: float, retention: float, token: str, job: Job
    ) -> ClaimState:
        """Claim ``keys``, enqueue ``job`` and remember ``keys`` as done, in one transaction.

        Returns the claim's state as :meth:`Store.claim` would; only ``NEW`` enqueued the job
        (``DONE`` also remembers every key, as ``complete`` would).

        Raises:
            QueueError: the database is unreachable; nothing was claimed nor enqueued.
        """
        ...

    def same_database(self, store: str | Store) -> bool:
        """Return whether ``store`` (a URL or a store) names this queue's database."""
        ...

    def prune(self) -> int:
        """Delete expired dedup rows and return how many were deleted.

        Raises:
            QueueError: the queue is unreachable.
        """
        ...


@runtime_checkable
class HandoffQueue(Queue, Protocol):
    """A queue whose own engine runs the jobs (Celery, RQ); a :class:`Worker` does not."""

    def bind(self, runner: JobRunner) -> None:
        """Called by the receiver it is given to: the engine's task runs jobs with ``runner``.

        Raises:
            ConfigurationError: the queue is already bound to another receiver.
        """
        ...


def unknown_job(job_id: str) -> JobNotFound:
    """The error every queue raises for an unknown dead-letter id."""
    return JobNotFound(f"No dead letter has the id {job_id!r} (replayed, purged, or unknown).")

"""Hand background jobs to RQ: ``Receiver(queue=RQQueue(rq.Queue(connection=redis)))``.

Each job is an RQ job calling :func:`perform`, which imports your receiver by its
``MODULE:ATTR`` name (found among the loaded modules at the first enqueue, or given as
``receiver=``) and runs one attempt, so ``rq worker --with-scheduler`` (from the folder of your
app) runs the receiver's handlers. Retries (exponential backoff with jitter, as ``ch.Worker``),
``PermanentError`` and dead letters mean what they mean with the built-in queues; a retry is an
``enqueue_in``, which RQ's scheduler (``--with-scheduler``) moves to the queue when it is due.
Dead letters are kept in the same Redis (``jobs.redis.RedisDeadLetters``), so
``receiver.queue.dead_letters()`` and ``cortexhooks dead-letters`` work the same. Needs the
``rq`` extra.

RQ's ``job_timeout`` is the timeout plus one second: async handlers are cancelled at the timeout
by the receiver; a sync handler still running a second later is interrupted by RQ (its
``JobTimeoutException`` counts as a failed attempt). A work horse that dies mid-job is retried by
RQ itself (same attempt number); past ``max_attempts`` such a job ends in RQ's FailedJobRegistry.
"""

from __future__ import annotations

import math
import sys
from datetime import timedelta
from typing import Any, Final

from cortexhooks_receiver._imports import import_object
from cortexhooks_receiver.errors import ConfigurationError, QueueError
from cortexhooks_receiver.jobs.base import (
    DEFAULT_BACKOFF,
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_MAX_BACKOFF,
    DEFAULT_TIMEOUT,
    Job,
)
from cortexhooks_receiver.jobs.handoff import Handoff
from cortexhooks_receiver.jobs.redis import RedisDeadLetters

from ._common import require

__all__ = ["PERFORM", "RQQueue", "perform"]

PERFORM: Final = "cortexhooks_receiver.integrations.rq.perform"
"""The function every RQ job of a :class:`RQQueue` calls (an import path, as RQ stores it)."""


def perform(receiver: str, payload: str, attempt: int) -> str:
    """Run one attempt at a job in an RQ work horse: what each RQ job of an ``RQQueue`` calls.

    ``receiver`` is the receiver's ``MODULE:ATTR`` name; returns how the attempt ended
    (``done``, ``retry``, ``dead`` or ``lost``).

    Raises:
        ConfigurationError: ``receiver`` cannot be imported, or has no ``RQQueue``.
    """
    found = import_object(receiver)
    queue = getattr(found, "queue", None)
    if not isinstance(queue, RQQueue):
        raise ConfigurationError(f"{receiver} is not a receiver whose queue is an RQQueue")
    return queue.run(payload, attempt)


class RQQueue(Handoff):
    """A handoff queue whose jobs run as RQ jobs on ``rq_queue``.

    Args:
        rq_queue: an ``rq.Queue``; its Redis connection keeps the dead letters too.
        receiver: the receiver's ``MODULE:ATTR`` name for the RQ worker to import; default:
            found at the first enqueue, among the loaded modules' globals (pass it when the
            receiver is not a module-level name).
        dead_letters: where dead letters are kept; default the queue's Redis.
        max_attempts: attempts before a job is a dead letter (as for ``ch.Worker``).
        backoff: seconds before the first retry, doubled each time (with jitter).
        max_backoff: the longest wait between two attempts.
        timeout: seconds after which async handlers are cancelled.

    Raises:
        ImportError: RQ is not installed (the ``rq`` extra).
        ConfigurationError: a retry setting out of range.
    """

    def __init__(
        self,
        rq_queue: Any,
        *,
        receiver: str | None = None,
        dead_letters: RedisDeadLetters | None = None,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        backoff: float = DEFAULT_BACKOFF,
        max_backoff: float = DEFAULT_MAX_BACKOFF,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        require("rq", "rq")
        if dead_letters is None:
            dead_letters = RedisDeadLetters(
                rq_queue.connection, prefix=f"cortexhooks:rq:{rq_queue.name}:"
            )
        super().__init__(
            dead_letters,
            max_attempts=max_attempts,
            backoff=backoff,
            max_backoff=max_backoff,
            timeout=timeout,
        )
        self.rq_queue = rq_queue
        self._receiver = receiver

    def __repr__(self) -> str:
        return f"RQQueue({self.rq_queue.name!r}, receiver={self._receiver!r})"

    def receiver_name(self) -> str:
        """The receiver's ``MODULE:ATTR`` name the RQ worker imports.

        Raises:
            ConfigurationError: not given, and the receiver is not a global of a loaded module.
        """
        if self._receiver is None:
            self._receiver = _module_global(self._runner)
        return self._receiver

    def send(self, job: Job, attempt: int, delay: float) -> None:
        """Enqueue the RQ job for attempt ``attempt`` of ``job``, ``delay`` seconds from now.

        Raises:
            QueueError: Redis is unreachable.
            ConfigurationError: the receiver's name cannot be found (see ``receiver=``).
        """
        from redis import RedisError
        from rq import Retry

        args = (self.receiver_name(), job.to_json(), attempt)
        left = self.policy.max_attempts - attempt
        options: dict[str, Any] = {
            "job_timeout": math.ceil(self.timeout) + 1,
            "result_ttl": 0,
            "description": f"cortexhooks {job.event} {job.delivery_id or job.id} #{attempt}",
            "retry": Retry(max=left) if left > 0 else None,
        }
        try:
            if delay > 0:
                self.rq_queue.enqueue_in(timedelta(seconds=delay), PERFORM, *args, **options)
            else:
                self.rq_queue.enqueue(PERFORM, *args, **options)
        except RedisError as exc:
            raise QueueError(f"RQ could not enqueue the job: {exc}") from exc

    def depth(self) -> int | None:
        """Jobs waiting in the RQ queue, plus those scheduled for a retry.

        Raises:
            QueueError: Redis is unreachable.
        """
        from redis import RedisError

        try:
            return int(self.rq_queue.count) + int(self.rq_queue.scheduled_job_registry.count)
        except RedisError as exc:
            raise QueueError(f"RQ's Redis is unreachable: {exc}") from exc


def _module_global(receiver: object) -> str:
    if receiver is not None:
        for name, module in list(sys.modules.items()):
            if name == "__main__" or module is None:
                continue
            for attribute, value in list(getattr(module, "__dict__", {}).items()):
                if value is receiver:
                    return f"{name}:{attribute}"
    raise ConfigurationError(
        "RQQueue cannot tell the RQ worker where the receiver is: pass "
        "RQQueue(queue, receiver='myapp.hooks:receiver')."
    )

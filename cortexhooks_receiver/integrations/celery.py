"""Hand background jobs to Celery: ``Receiver(queue=CeleryQueue(celery_app))``.

``CeleryQueue`` registers one task on your Celery app (``cortexhooks_receiver.run_job``), so
``celery -A proj worker`` runs the receiver's handlers, provided the worker imports the module
that builds the receiver (list it in the app's ``include``/``imports``). The task is acknowledged
late (``acks_late``, ``reject_on_worker_lost``): a worker that dies mid-job leaves the message to
be delivered again. Retries (exponential backoff with jitter, as ``ch.Worker``), ``PermanentError``
and dead letters mean what they mean with the built-in queues; dead letters are kept in Redis
(the broker's, by default), so ``receiver.queue.dead_letters()`` and ``cortexhooks dead-letters``
work the same. Needs the ``celery`` extra (and ``redis`` for the dead letters).

A retry is a task sent again with a ``countdown``; with the Redis broker, keep the broker's
``visibility_timeout`` (default one hour) above ``max_backoff``, or Celery delivers a waiting
task twice.
"""

from __future__ import annotations

from typing import Any, Final

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

__all__ = ["TASK_NAME", "CeleryQueue"]

TASK_NAME: Final = "cortexhooks_receiver.run_job"
"""The name of the task :class:`CeleryQueue` registers (``task_name=`` chooses another)."""


class CeleryQueue(Handoff):
    """A handoff queue whose jobs run as tasks of ``celery_app``.

    Args:
        celery_app: your ``celery.Celery`` application; the task is registered on it now.
        dead_letters: where dead letters are kept: a ``redis://`` URL or a
            :class:`~cortexhooks_receiver.jobs.redis.RedisDeadLetters`; default the app's broker
            when it is Redis.
        task_name: the task's name (one per receiver).
        queue: the Celery queue the tasks are sent to (default: the app's default queue).
        max_attempts: attempts before a job is a dead letter (as for ``ch.Worker``).
        backoff: seconds before the first retry, doubled each time (with jitter).
        max_backoff: the longest wait between two attempts.
        timeout: seconds after which async handlers are cancelled.

    Raises:
        ConfigurationError: no ``dead_letters`` and a broker that is not Redis.
        ImportError: Celery is not installed (the ``celery`` extra).
    """

    def __init__(
        self,
        celery_app: Any,
        *,
        dead_letters: RedisDeadLetters | str | None = None,
        task_name: str = TASK_NAME,
        queue: str | None = None,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        backoff: float = DEFAULT_BACKOFF,
        max_backoff: float = DEFAULT_MAX_BACKOFF,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        require("celery", "celery")
        if dead_letters is None:
            dead_letters = str(celery_app.conf.broker_url or "")
            if not dead_letters.startswith(("redis://", "rediss://")):
                raise ConfigurationError(
                    "CeleryQueue keeps dead letters in Redis: the broker is not Redis, so pass "
                    "dead_letters='redis://host:6379/0'."
                )
        if isinstance(dead_letters, str):
            dead_letters = RedisDeadLetters(dead_letters, prefix=f"cortexhooks:{task_name}:")
        super().__init__(
            dead_letters,
            max_attempts=max_attempts,
            backoff=backoff,
            max_backoff=max_backoff,
            timeout=timeout,
        )
        self.app = celery_app
        self.queue = queue
        run = self.run

        def run_job(payload: str, attempt: int) -> str:
            return run(payload, attempt)

        run_job.__doc__ = "Run the handlers of one job queued by a cortexhooks receiver."
        self.task = celery_app.task(
            name=task_name, acks_late=True, reject_on_worker_lost=True, ignore_result=True
        )(run_job)

    def __repr__(self) -> str:
        return f"CeleryQueue({self.task.name!r}, queue={self.queue!r})"

    def send(self, job: Job, attempt: int, delay: float) -> None:
        """Send the task for attempt ``attempt`` of ``job``, ``delay`` seconds from now.

        Raises:
            QueueError: the broker is unreachable (after Celery's publish retries).
        """
        try:
            self.task.apply_async(
                (job.to_json(), attempt), countdown=delay if delay > 0 else None, queue=self.queue
            )
        except Exception as exc:  # kombu's OperationalError, or the transport's own errors
            raise QueueError(f"Celery could not send the job: {exc}") from exc

    def depth(self) -> int | None:
        """How many tasks wait in the broker's queue (countdowns held by workers excluded).

        Raises:
            QueueError: the broker is unreachable.
        """
        name = self.queue or self.app.conf.task_default_queue
        try:
            with self.app.connection_for_read() as connection:
                declared = connection.default_channel.queue_declare(queue=name, passive=True)
        except Exception as exc:
            if "NOT_FOUND" in str(exc):
                return 0
            raise QueueError(f"Celery's broker is unreachable: {exc}") from exc
        return int(declared.message_count)

"""What the Celery and RQ handoffs share: the receiver, the retry policy and the dead letters.

A handoff queue gives each job to an engine (:meth:`Handoff.send`, the engine-specific part)
whose task calls :meth:`Handoff.run` with the job and its attempt number. ``run`` is the same
attempt a :class:`~.worker.Worker` makes (:func:`.attempt.attempt`): the handlers through the
receiver, then ``ack`` (nothing to do: the task returns and the engine acknowledges it late),
``retry`` (the job is sent again with a countdown) or ``bury`` (a dead letter in
:class:`~.redis.RedisDeadLetters`). So retries, backoff, ``PermanentError`` and dead letters
mean the same thing whichever engine runs the jobs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec

from cortexhooks_receiver.errors import ConfigurationError

from .attempt import AttemptOutcome, attempt
from .base import (
    DEFAULT_BACKOFF,
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_MAX_BACKOFF,
    DEFAULT_TIMEOUT,
    DeadLetter,
    Job,
    JobRunner,
    QueueStats,
    RetryPolicy,
)

if TYPE_CHECKING:
    from .redis import RedisDeadLetters

__all__ = ["Handoff"]


class Handoff:
    """The engine-independent half of a handoff queue (see the module docs).

    Subclasses implement :meth:`send` (and may refine :meth:`stats`).

    Raises:
        ConfigurationError: a retry setting out of range.
    """

    def __init__(
        self,
        dead_letters: RedisDeadLetters,
        *,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        backoff: float = DEFAULT_BACKOFF,
        max_backoff: float = DEFAULT_MAX_BACKOFF,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.policy = RetryPolicy(max_attempts, backoff, max_backoff)
        self.timeout = float(timeout)
        self.dead = dead_letters
        self._runner: JobRunner | None = None

    # -- the engine-specific part ---------------------------------------------------------------

    def send(self, job: Job, attempt: int, delay: float) -> None:
        """Hand ``job`` to the engine, to run as attempt ``attempt`` in ``delay`` seconds.

        Raises:
            QueueError: the engine's broker is unreachable; nothing was sent.
        """
        raise NotImplementedError

    def depth(self) -> int | None:
        """The number of jobs waiting in the engine, when it can tell (``None`` otherwise)."""
        return None

    # -- the receiver's side --------------------------------------------------------------------

    def bind(self, runner: JobRunner) -> None:
        """Called by the receiver this queue is given to: its task runs jobs with ``runner``.

        Raises:
            ConfigurationError: the queue already belongs to another receiver.
        """
        if self._runner is not None and self._runner is not runner:
            raise ConfigurationError(
                f"This {type(self).__name__} already belongs to another receiver; give each "
                "receiver a queue (and a task name) of its own."
            )
        self._runner = runner

    def enqueue(self, job: Job) -> None:
        """Hand a new job to the engine (attempt 1, now).

        Raises:
            QueueError: the broker is unreachable.
        """
        self.send(job, 1, 0.0)

    # -- the engine's side ----------------------------------------------------------------------

    def run(self, payload: str, attempt_number: int) -> AttemptOutcome:
        """Run one attempt at the job ``payload`` (:meth:`Job.to_json`); what the task does.

        Raises:
            ConfigurationError: this queue was never given to a receiver (the module that builds
                the receiver was not imported by the engine's worker).
            QueueError: ``payload`` is not a job.
        """
        runner = self._runner
        if runner is None:
            raise ConfigurationError(
                f"This {type(self).__name__} was never given to a Receiver(queue=...): the "
                "worker must import the module that builds the receiver."
            )
        job = msgspec.structs.replace(Job.from_json(payload), attempt=attempt_number)
        telemetry = getattr(runner, "telemetry", None)
        return attempt(runner, job, self, self.policy, timeout=self.timeout, telemetry=telemetry)

    def ack(self, job: Job) -> bool:
        """Nothing to record: the engine acknowledges the task once it returns."""
        return True

    def retry(self, job: Job, delay: float, error: str) -> bool:
        """Send the job again, as its next attempt, in ``delay`` seconds.

        Raises:
            QueueError: the broker is unreachable.
        """
        self.send(job, job.attempt + 1, delay)
        return True

    def bury(self, job: Job, error: str) -> bool:
        """Keep the job as a dead letter.

        Raises:
            QueueError: Redis is unreachable.
        """
        self.dead.bury(job, error)
        return True

    # -- the operator's side --------------------------------------------------------------------

    def dead_letters(self) -> list[DeadLetter]:
        """Every dead letter, oldest failure first.

        Raises:
            QueueError: Redis is unreachable.
        """
        return self.dead.dead_letters()

    def dead_letter(self, job_id: str) -> DeadLetter:
        """Dead letter ``job_id``.

        Raises:
            JobNotFound: no dead letter has this id.
            QueueError: Redis is unreachable.
        """
        return self.dead.dead_letter(job_id)

    def replay(self, job_id: str) -> None:
        """Send dead letter ``job_id`` to the engine again (attempt 1), then forget it.

        Raises:
            JobNotFound: no dead letter has this id.
            QueueError: Redis or the broker is unreachable (the dead letter is kept).
        """
        self.send(self.dead.job(job_id), 1, 0.0)
        self.dead.forget(job_id)

    def purge(self) -> int:
        """Delete every dead letter; return how many.

        Raises:
            QueueError: Redis is unreachable.
        """
        return self.dead.purge()

    def stats(self) -> QueueStats:
        """Depth as the engine tells it (``None`` if it cannot) and the dead letters.

        Raises:
            QueueError: Redis or the broker is unreachable.
        """
        return QueueStats(depth=self.depth(), due=None, leased=None, dead=self.dead.count())

    def close(self) -> None:
        """Close what this queue opened itself (never the engine's connections)."""
        self.dead.close()

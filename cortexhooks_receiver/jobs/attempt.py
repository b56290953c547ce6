"""One attempt at one job, the same wherever it runs: a :class:`~.worker.Worker`, Celery, RQ.

:func:`attempt` runs the job's handlers through the receiver (:meth:`Receiver.run_job`, the
code ``handle`` uses inline), decides by the :class:`~.base.RetryPolicy` what happens next and
tells a :class:`Settle` (the built-in queue itself, or a handoff's adapter): ``ack`` after
success, ``retry`` after a failure with attempts left, ``bury`` after a
:class:`~cortexhooks_receiver.errors.PermanentError` or the last attempt. It logs the attempt
with structured fields (``extra``: ``job_id``, ``event``, ``delivery_id``, ``attempt``,
``outcome``) on the ``cortexhooks_receiver.jobs`` logger, and reports it to OpenTelemetry when
the receiver is instrumented.
"""

from __future__ import annotations

import contextlib
import logging
import time
from typing import TYPE_CHECKING, Any, Final, Literal, Protocol

from cortexhooks_receiver._logs import jobs_logger as logger
from cortexhooks_receiver.errors import QueueError

from .base import Job, JobRunner, RetryPolicy, describe_failure

if TYPE_CHECKING:
    from cortexhooks_receiver.telemetry import Telemetry

__all__ = ["AttemptOutcome", "Settle", "attempt"]

AttemptOutcome = Literal["done", "retry", "dead", "lost"]
"""How an attempt ended: ``lost`` when the job's lease had passed to another worker (or the
queue could not be told, so the lease will bring the job back)."""

_LEASE_RAN_OUT: Final = (
    "LeaseExpired: the job's lease ran out {n} times without a result (its worker died or "
    "overran the timeout)"
)


class Settle(Protocol):
    """Where an attempt's result goes; each method returns ``False`` when the lease was lost."""

    def ack(self, job: Job) -> bool:
        """The job is done."""
        ...

    def retry(self, job: Job, delay: float, error: str) -> bool:
        """Run the job again in ``delay`` seconds."""
        ...

    def bury(self, job: Job, error: str) -> bool:
        """Make the job a dead letter."""
        ...


def attempt(
    runner: JobRunner,
    job: Job,
    settle: Settle,
    policy: RetryPolicy,
    *,
    timeout: float | None,
    telemetry: Telemetry | None = None,
) -> AttemptOutcome:
    """Run one attempt at ``job`` (its ``attempt`` says which) and settle it; return how it ended.

    A job reserved more than ``max_attempts`` times (its leases kept running out: a handler
    that kills or hangs its worker) is buried without running again.

    Never raises for a handler's failure nor for the queue's: a queue that cannot be told is
    logged, and the job's lease brings it back later.
    """
    span_of = telemetry.job(job) if telemetry is not None else contextlib.nullcontext()
    with span_of as span:
        started = time.perf_counter()
        failure: Exception | None = None
        if job.attempt > policy.max_attempts:
            error: str | None = _LEASE_RAN_OUT.format(n=job.attempt - 1)
            delay = None
        else:
            try:
                runner.run_job(job, timeout=timeout)
            except Exception as exc:  # whatever a handler raised: the policy decides
                failure = exc
            error = None if failure is None else describe_failure(failure)
            delay = None if failure is None else policy.retry_after(job.attempt, failure)
        seconds = time.perf_counter() - started
        try:
            if error is None:
                outcome: AttemptOutcome = "done" if settle.ack(job) else "lost"
            elif delay is not None:
                outcome = "retry" if settle.retry(job, delay, error) else "lost"
            else:
                outcome = "dead" if settle.bury(job, error) else "lost"
        except QueueError as exc:
            logger.error(
                "Could not record the attempt at job %s; it runs again once its lease ends: %s",
                job.id,
                exc,
                extra=_fields(job, "lost"),
            )
            outcome = "lost"
        else:
            _log(job, outcome, seconds, error, delay, failure)
        if telemetry is not None:
            telemetry.job_settled(span, outcome, seconds, error)
        return outcome


def _fields(job: Job, outcome: AttemptOutcome) -> dict[str, Any]:
    return {
        "job_id": job.id,
        "event": job.event,
        "delivery_id": job.delivery_id,
        "attempt": job.attempt,
        "outcome": outcome,
    }


def _log(
    job: Job,
    outcome: AttemptOutcome,
    seconds: float,
    error: str | None,
    delay: float | None,
    failure: Exception | None,
) -> None:
    what = f"Job {job.id} ({job.event}, delivery {job.delivery_id}) attempt {job.attempt}"
    fields = _fields(job, outcome)
    if outcome == "done":
        if logger.isEnabledFor(logging.INFO):
            logger.info("%s done in %.3f s", what, seconds, extra=fields)
    elif outcome == "retry":
        logger.warning(
            "%s failed (%s); retrying in %.1f s", what, error, delay, exc_info=failure, extra=fields
        )
    elif outcome == "dead":
        logger.error(
            "%s failed for good: %s; it is a dead letter",
            what,
            error,
            exc_info=failure,
            extra=fields,
        )
    else:
        logger.warning(
            "%s ended (%s) after its lease had passed to another worker; nothing recorded",
            what,
            error or "success",
            extra=fields,
        )

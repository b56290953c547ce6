"""``ch.Worker``: runs the jobs of a receiver's built-in queue (SQLite, PostgreSQL).

Each of ``concurrency`` threads leases the next due job for ``timeout`` seconds, runs its
handlers through the receiver (:func:`.attempt.attempt`) and acks, retries or buries it. A
worker that dies mid-job (SIGKILL, OOM, a lost host) simply stops renewing nothing: its lease
runs out and another worker takes the job over, counting the attempt. A job whose handlers
succeeded is acked under its lease and never runs again.

``run()`` blocks until :meth:`Worker.stop` or SIGTERM/SIGINT (which let the running jobs
finish); ``start()``/``stop()`` do the same in a background thread; ``drain()`` runs every job
due now in the calling thread and returns (tests, cron). Idle threads poll the queue, backing
off from 10 ms to ``poll_interval``.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import TYPE_CHECKING, Final

from cortexhooks_receiver._logs import jobs_logger as logger
from cortexhooks_receiver.errors import ConfigurationError, QueueError

from .attempt import attempt
from .base import (
    DEFAULT_BACKOFF,
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_MAX_BACKOFF,
    DEFAULT_TIMEOUT,
    RetryPolicy,
    WorkQueue,
)

if TYPE_CHECKING:
    from cortexhooks_receiver.receiver import Receiver

__all__ = ["Worker"]

_FIRST_IDLE_WAIT: Final = 0.01
_SIGNALS: Final = (signal.SIGTERM, signal.SIGINT)


class Worker:
    """Runs the handlers of the jobs a receiver queued (``Receiver(queue="sqlite:///...")``).

    Args:
        receiver: the receiver whose queue, handlers and telemetry to use (the same object the
            web processes build: import it from the same module).
        concurrency: jobs run at once, each in a thread of its own.
        max_attempts: attempts before a failing job becomes a dead letter.
        backoff: seconds before the first retry; each retry waits twice as long as the last
            (less a random part of up to half), up to ``max_backoff``.
        max_backoff: the longest wait between two attempts, in seconds.
        timeout: a job's lease, in seconds: async handlers still running then are cancelled,
            and a job not finished by then (its worker died, or a sync handler overran) is taken
            over by another worker.
        poll_interval: the longest pause between two looks at an empty queue, in seconds.

    Raises:
        ConfigurationError: the receiver has no queue, or a handoff queue (Celery and RQ run
            their jobs with their own workers), or a setting is out of range.
    """

    def __init__(
        self,
        receiver: Receiver,
        concurrency: int = 1,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        backoff: float = DEFAULT_BACKOFF,
        max_backoff: float = DEFAULT_MAX_BACKOFF,
        timeout: float = DEFAULT_TIMEOUT,
        *,
        poll_interval: float = 1.0,
    ) -> None:
        queue = receiver.queue
        if queue is None:
            raise ConfigurationError(
                "This receiver runs its handlers inline (it has no queue): give it one, e.g. "
                "Receiver(..., store='sqlite:///hooks.db', queue='sqlite:///hooks.db')."
            )
        if not isinstance(queue, WorkQueue):
            raise ConfigurationError(
                f"{type(queue).__name__} hands its jobs to its own engine: run that engine's "
                "worker (celery worker, rq worker), not ch.Worker."
            )
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
            raise ConfigurationError(f"concurrency must be an integer >= 1, not {concurrency!r}.")
        for name, value in (("timeout", timeout), ("poll_interval", poll_interval)):
            if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
                raise ConfigurationError(f"{name} must be a number of seconds > 0, not {value!r}.")
        self.receiver = receiver
        self.queue: WorkQueue = queue
        self.concurrency = concurrency
        self.policy = RetryPolicy(max_attempts, backoff, max_backoff)
        self.timeout = float(timeout)
        self.poll_interval = float(poll_interval)
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        return (
            f"Worker({self.queue!r}, concurrency={self.concurrency}, timeout={self.timeout}, "
            f"{self.policy!r})"
        )

    # -- the ways to run it -------------------------------------------------------------------

    def run(self, *, burst: bool = False) -> int:
        """Run jobs until :meth:`stop`, SIGTERM or SIGINT; return how many attempts were made.

        On a signal the running jobs finish (a sync handler cannot be interrupted), then this
        returns; a second signal changes nothing (SIGKILL does: the leases bring the running
        jobs back). Signal handlers are installed only when called from the main thread, and
        restored on return. With ``burst=True`` it also returns once no job is due.

        Never raises for a job: failures are retried or dead-lettered, and an unreachable queue
        is logged and tried again.
        """
        restore = self._handle_signals()
        try:
            return self._work(self.concurrency, burst=burst)
        finally:
            restore()

    def drain(self) -> int:
        """Run every job due now, one at a time in this thread; return how many attempts ran.

        For tests and cron jobs. A job retried with a backoff is not due now, so it is left for
        later; with ``backoff=0`` a failing job is retried until it is a dead letter.
        """
        return self._work(1, burst=True)

    def start(self) -> None:
        """Run the worker in a background (daemon) thread of this process; see :meth:`stop`.

        Enough for a small app: one process, light jobs. A job cut off by the process's exit
        runs again after its lease; heavy or many jobs deserve worker processes of their own
        (``cortexhooks worker``), which a web server's restarts do not interrupt.

        Raises:
            RuntimeError: the worker is already running in a thread.
        """
        if self._thread is not None and self._thread.is_alive():
            raise RuntimeError("this worker is already running")
        self._stopping.clear()
        self._thread = threading.Thread(
            target=self._work, args=(self.concurrency,), name="cortexhooks-worker", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float | None = None) -> None:
        """Ask every thread to stop after its running job; wait up to ``timeout`` s for them.

        Stops :meth:`run` (from another thread) as well as :meth:`start`'s thread. Never raises.
        """
        self._stopping.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    # -- the loop -----------------------------------------------------------------------------

    def _work(self, threads: int, *, burst: bool = False) -> int:
        if not burst:
            self._stopping.clear()
            logger.info("Worker started: %s", self)
        counts = [0] * threads
        if threads == 1:
            self._loop(counts, 0, burst)
        else:
            pool = [
                threading.Thread(
                    target=self._loop, args=(counts, n, burst), name=f"cortexhooks-worker-{n}"
                )
                for n in range(threads)
            ]
            for thread in pool:
                thread.start()
            for thread in pool:
                thread.join()
        if not burst:
            logger.info("Worker stopped after %d job attempts", sum(counts))
        return sum(counts)

    def _loop(self, counts: list[int], index: int, burst: bool) -> None:
        queue, stopping = self.queue, self._stopping
        idle = _FIRST_IDLE_WAIT
        while not stopping.is_set():
            try:
                job = queue.reserve(self.timeout)
            except QueueError as exc:
                logger.error(
                    "Could not reserve a job (trying again in %g s): %s", self.poll_interval, exc
                )
                if burst:
                    return
                stopping.wait(self.poll_interval)
                continue
            if job is None:
                if burst:
                    return
                stopping.wait(idle)
                idle = min(idle * 2, self.poll_interval)
                continue
            idle = _FIRST_IDLE_WAIT
            attempt(
                self.receiver,
                job,
                queue,
                self.policy,
                timeout=self.timeout,
                telemetry=self.receiver.telemetry,
            )
            counts[index] += 1

    def _handle_signals(self) -> Callable[[], None]:
        if threading.current_thread() is not threading.main_thread():
            return lambda: None

        def on_signal(signum: int, frame: FrameType | None) -> None:
            if not self._stopping.is_set():
                logger.info(
                    "%s received: stopping after the running jobs", signal.Signals(signum).name
                )
            self._stopping.set()

        previous = {sig: signal.signal(sig, on_signal) for sig in _SIGNALS}

        def restore() -> None:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

        return restore

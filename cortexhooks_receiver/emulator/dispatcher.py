"""Runs the emulator's deliveries on the guide's schedule: a heap of due attempts and one worker.

Each attempt is made by the reference :class:`~cortexhooks_receiver.sender.Sender` and written to
the database at once, with the time of the next attempt, so a restarted emulator resumes where it
stopped. ``time_scale`` compresses the waits between attempts (60: a minute passes in a second);
the signed timestamps stay real time, so receivers' tolerance checks still hold.

For tests, no thread is needed: :meth:`Dispatcher.drain` runs every pending attempt, sleeping
through the injected ``sleep`` (a :class:`~cortexhooks_receiver.sender.VirtualClock` makes the
whole 81-minute schedule instant).
"""

from __future__ import annotations

import heapq
import itertools
import threading
from collections.abc import Callable

from cortexhooks_receiver.sender import Attempt, Sender

from .store import EmulatorDB

__all__ = ["Dispatcher"]

from cortexhooks_receiver._logs import emulator_logger as logger


class Dispatcher:
    """Schedules and makes delivery attempts.

    Args:
        db: the emulator database (also the sender's health tracker).
        sender: the sender that makes each attempt.
        clock: Unix seconds (the sender's clock).
        sleep: used by :meth:`drain` to wait for the next due attempt.
        time_scale: divides every wait of the schedule (must be > 0).

    Raises:
        ValueError: ``time_scale`` is not positive.
    """

    def __init__(
        self,
        db: EmulatorDB,
        sender: Sender,
        *,
        clock: Callable[[], float],
        sleep: Callable[[float], None],
        time_scale: float = 1.0,
    ) -> None:
        if not time_scale > 0:
            raise ValueError("time_scale must be positive")
        self.db = db
        self.sender = sender
        self.clock = clock
        self.sleep = sleep
        self.time_scale = float(time_scale)
        self._heap: list[tuple[float, int, str]] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._attempt_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Dispatcher(time_scale={self.time_scale!r}, queued={len(self._heap)})"

    def schedule(self, delivery_id: str, due: float) -> None:
        """Queue an attempt of ``delivery_id`` at clock time ``due`` (seconds)."""
        with self._cond:
            heapq.heappush(self._heap, (due, next(self._seq), delivery_id))
            self._cond.notify_all()

    def load_pending(self) -> int:
        """Queue every pending delivery found in the database (after a restart); return how many."""
        count = 0
        for delivery in self.db.pending():
            due = (delivery.next_attempt_at or 0) / 1000
            self.schedule(delivery.id, due)
            count += 1
        return count

    def next_due(self) -> float | None:
        """Clock time of the next queued attempt, or ``None`` when nothing is queued."""
        with self._cond:
            return self._heap[0][0] if self._heap else None

    def run_due(self) -> int:
        """Make every attempt that is due now; return how many were made."""
        made = 0
        while True:
            with self._cond:
                if not self._heap or self._heap[0][0] > self.clock():
                    return made
                _due, _seq, delivery_id = heapq.heappop(self._heap)
            if self.attempt(delivery_id) is not None:
                made += 1

    def drain(self, max_attempts: int = 100_000) -> int:
        """Run attempts until nothing is queued, sleeping (``sleep``) until each is due.

        Returns the number of attempts made. Meant for tests and batch runs without the thread.
        """
        made = 0
        while made < max_attempts:
            due = self.next_due()
            if due is None:
                break
            wait = due - self.clock()
            if wait > 0:
                self.sleep(wait)
            made += self.run_due()
        return made

    def attempt(self, delivery_id: str) -> Attempt | None:
        """Make the next scheduled attempt of ``delivery_id`` now, log it, queue the next one.

        Returns ``None`` when there is nothing to attempt (unknown, finished, or the webhook was
        deleted or disabled).
        """
        with self._attempt_lock:
            row = self.db.delivery(delivery_id)
            if row is None or row.state != "pending":
                return None
            hook = self.db.webhook(row.webhook_id)
            if hook is None:
                self.db.advance_delivery(delivery_id, "pending", "cancelled", None)
                return None
            delivery = self.db.sender_delivery(row)
            record = self.sender.attempt(hook.endpoint(), delivery)
            if record is not None:
                self.db.add_attempt(record)
            delay = self.sender.next_delay(delivery)
            if delay is None:
                self.db.advance_delivery(delivery_id, "pending", delivery.state, None)
            else:
                due = self.clock() + delay / self.time_scale
                if self.db.advance_delivery(delivery_id, "pending", "pending", int(due * 1000)):
                    self.schedule(delivery_id, due)
            return record

    # --- background worker --------------------------------------------------------------------

    def start(self) -> None:
        """Start the worker thread (real time); idempotent."""
        if self._thread is not None:
            return
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="cortexhooks-emulator", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the worker thread and wait up to ``timeout`` seconds for it."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stopping:
                    due = self._heap[0][0] if self._heap else None
                    now = self.clock()
                    if due is not None and due <= now:
                        break
                    self._cond.wait(None if due is None else min(due - now, 1.0))
                if self._stopping:
                    return
            try:
                self.run_due()
            except Exception:  # keep the worker alive; the failure is logged
                logger.exception("delivery worker failed on an attempt")

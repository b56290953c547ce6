"""Keep a running delivery's claim alive: the lease is extended while its handlers run.

A claim expires after ``lease`` seconds so that another worker can take over a delivery whose
worker crashed. A handler that simply runs longer than the lease must not be taken over (it would
run twice, concurrently), so one daemon thread per receiver (and process) re-claims, every third
of the lease, each delivery that was already running at the previous beat. Re-claiming with the
delivery's own token extends the lease; it never takes a claim that another worker holds. The
memory store extends only a claim the delivery still holds (``MemoryStore.extend``), so a beat
that lands after a failed handler's claim was released cannot take it back.

Per request this costs two dict operations on :attr:`Heartbeat.running` (atomic under the GIL),
done by the receiver itself; no clock is read.

The thread holds the heartbeat only weakly, and the heartbeat its receiver's method only weakly:
a receiver that is dropped is freed, and its thread ends at once.
"""

from __future__ import annotations

import inspect
import os
import threading
import weakref
from collections.abc import Callable
from typing import Any, Final

from ._logs import receiver_logger

__all__ = ["Heartbeat"]

_BEATS_PER_LEASE: Final = 3

# Threads do not survive a fork: a child starts its own on first use.
_live: weakref.WeakSet[Heartbeat] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for heartbeat in list(_live):
        heartbeat.started = False
        heartbeat._starting = threading.Lock()  # it may have been held at the fork
        heartbeat.running.clear()  # the parent's deliveries are not running here
        heartbeat._previous = set()


os.register_at_fork(after_in_child=_after_fork_in_child)


class Heartbeat:
    """Extends the claims of deliveries whose handlers are running.

    Args:
        extend: re-claims one running delivery (its token and ``running``'s value) for a whole
            lease.
        lease: the claim's lease in seconds; the thread beats every third of it.

    The receiver puts a delivery in :attr:`running` (token -> delivery) while its handlers run,
    and calls :meth:`start` once (``started`` is False until then, and again after a fork).
    """

    def __init__(self, extend: Callable[[str, Any], object], lease: float) -> None:
        # A bound method (the receiver's) is held weakly: the heartbeat must not keep it alive.
        self._extend: Callable[[], Callable[[str, Any], object] | None] = (
            weakref.WeakMethod(extend) if inspect.ismethod(extend) else lambda: extend
        )
        self.thread: threading.Thread | None = None
        self.interval = lease / _BEATS_PER_LEASE
        self.running: dict[str, Any] = {}
        self.started = False
        self._previous: set[str] = set()
        self._starting = threading.Lock()
        self._stop = threading.Event()
        _live.add(self)

    def beat(self) -> int:
        """Extend every delivery that was running at the previous beat too; return how many.

        The thread calls it every :attr:`interval` seconds; tests call it directly. A failure to
        extend is logged, and the next beat tries again.
        """
        current = dict(self.running)
        extended = 0
        extend = self._extend()
        if extend is None:  # the receiver is gone
            return 0
        for token in self._previous.intersection(current):
            try:
                extend(token, current[token])
            except Exception:  # a store outage: the claim may lapse; never kill the thread
                receiver_logger.warning(
                    "Could not extend a running delivery's claim", exc_info=True
                )
            else:
                extended += 1
        self._previous = set(current)
        return extended

    def start(self) -> None:
        """Start the beating thread, once per process. Never raises."""
        with self._starting:
            if self.started:
                return
            self._stop = stop = threading.Event()
            weakref.finalize(self, stop.set)  # a heartbeat that is freed stops its thread
            thread = threading.Thread(
                target=_beat_while_alive,
                args=(weakref.ref(self), stop, self.interval),
                name="cortexhooks-heartbeat",
                daemon=True,
            )
            thread.start()
            self.thread = thread
            self.started = True

    def close(self) -> None:
        """Stop the thread (it also dies with the process: it is a daemon). Never raises."""
        self._stop.set()


def _beat_while_alive(ref: weakref.ref[Heartbeat], stop: threading.Event, interval: float) -> None:
    # The thread's loop: it holds the heartbeat weakly, so that it never keeps a receiver alive.
    while not stop.wait(interval):
        heartbeat = ref()
        if heartbeat is None:
            return
        heartbeat.beat()
        del heartbeat

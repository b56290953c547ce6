"""The guide's delivery rules as data, and a virtual clock to run them without waiting.

CortexBuild makes 5 attempts: immediately, then 1 minute, 5 minutes, 15 minutes and 1 hour after
the previous one (about 81 minutes in all); each attempt has 10 seconds to get a 2xx answer, and a
webhook is disabled after 10 consecutive failed attempts.
"""

from __future__ import annotations

import threading
from typing import Final

__all__ = [
    "DEFAULT_TIMEOUT",
    "DISABLE_AFTER",
    "RETRY_SCHEDULE",
    "VirtualClock",
]

RETRY_SCHEDULE: Final[tuple[float, ...]] = (0.0, 60.0, 300.0, 900.0, 3600.0)
"""Seconds to wait before each attempt, counted from the previous attempt."""

DEFAULT_TIMEOUT: Final = 10.0
"""Seconds an attempt may take before it counts as failed."""

DISABLE_AFTER: Final = 10
"""Consecutive failed attempts (across deliveries) after which a webhook is disabled."""


class VirtualClock:
    """A clock whose ``sleep`` advances time instantly: run the whole schedule in no real time.

    ``clock.time()`` returns the virtual Unix time in seconds; ``clock.sleep(s)`` adds ``s``;
    ``clock.advance(s)`` does the same for code that simulates a slow receiver. Thread-safe.

    Raises:
        ValueError: from ``sleep``/``advance`` when given a negative duration.
    """

    def __init__(self, start: float = 1_762_700_000.0) -> None:
        self._now = float(start)
        self._lock = threading.Lock()
        self.sleeps: list[float] = []
        """Every duration passed to :meth:`sleep`, in order (to assert on the schedule)."""

    def __repr__(self) -> str:
        return f"VirtualClock(now={self._now!r})"

    def time(self) -> float:
        """Return the current virtual Unix time in seconds."""
        with self._lock:
            return self._now

    def sleep(self, seconds: float) -> None:
        """Advance the virtual time by ``seconds`` and record the sleep."""
        self.advance(seconds)
        with self._lock:
            self.sleeps.append(seconds)

    def advance(self, seconds: float) -> None:
        """Advance the virtual time by ``seconds`` without recording a sleep."""
        if seconds < 0:
            raise ValueError("time cannot go backwards")
        with self._lock:
            self._now += seconds

"""Completions the dedup store could not record, kept in this process until it can.

When the handlers ran but ``store.complete`` failed twice, the delivery was processed and the
answer is still 200 (the sender must stop retrying), yet the store does not know it. Without a
record, a replay of the body after the claim's lease ends would run again. So the receiver keeps
the keys here, checks them before asking the store, and records them in the store as soon as it
answers again. The record is bounded (oldest dropped first) and lives in one process: another
process, or this one after a restart, does not see it (docs/security.md says what that leaves).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Final

__all__ = ["UnrecordedCompletions"]

DEFAULT_LIMIT: Final = 10_000


class UnrecordedCompletions:
    """A bounded, thread-safe record of completed deliveries the store has not recorded yet.

    Args:
        limit: the most deliveries kept; beyond it the oldest are dropped.
    """

    __slots__ = ("_by_key", "_groups", "_limit", "_lock")

    def __init__(self, limit: int = DEFAULT_LIMIT) -> None:
        self._limit = max(1, limit)
        self._lock = threading.Lock()
        # keys -> (token, expires_at), in the order they failed; and each key -> expires_at.
        self._groups: dict[tuple[str, ...], tuple[str, float]] = {}
        self._by_key: dict[str, float] = {}

    def __bool__(self) -> bool:
        return bool(self._groups)

    def __len__(self) -> int:
        return len(self._groups)

    def add(self, keys: Sequence[str], token: str, expires_at: float) -> None:
        """Remember that ``keys`` were completed until ``expires_at`` (the clock's seconds)."""
        group = tuple(keys)
        with self._lock:
            self._groups[group] = (token, expires_at)
            for key in group:
                self._by_key[key] = expires_at
            while len(self._groups) > self._limit:
                oldest = next(iter(self._groups))
                self._forget(oldest)

    def holds(self, keys: Sequence[str], now: float) -> bool:
        """Return whether any of ``keys`` was completed and has not expired at ``now``."""
        by_key = self._by_key
        return any(by_key.get(key, 0.0) > now for key in keys)

    def pending(self) -> list[tuple[tuple[str, ...], str, float]]:
        """Return ``(keys, token, expires_at)`` of every completion still to record."""
        with self._lock:
            return [(keys, token, expires) for keys, (token, expires) in self._groups.items()]

    def recorded(self, keys: tuple[str, ...]) -> None:
        """Forget ``keys``: the store has recorded them."""
        with self._lock:
            self._forget(keys)

    def _forget(self, group: tuple[str, ...]) -> None:
        self._groups.pop(group, None)
        for key in group:
            self._by_key.pop(key, None)

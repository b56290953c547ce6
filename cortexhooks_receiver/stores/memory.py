"""The in-memory dedup store: thread-safe, bounded, for tests and single-process apps."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Final

from .base import ClaimState

__all__ = ["MemoryStore"]

_CLAIMED: Final = 0
_DONE: Final = 1


class MemoryStore:
    """A dedup store in this process's memory.

    Entries expire (claims after their lease, completions after their retention), and the store
    holds at most ``max_entries`` keys: beyond that the least recently written are forgotten, which
    bounds memory at the cost of forgetting the oldest deliveries first. Use the SQLite or Redis
    store when several processes receive webhooks.

    Raises:
        ConfigurationError: never; ``max_entries`` below 1 is clamped to 1.
    """

    def __init__(
        self, max_entries: int = 100_000, *, clock: Callable[[], float] | None = None
    ) -> None:
        self.max_entries = max(1, max_entries)
        self._clock = clock
        self._lock = threading.Lock()
        # key -> (state, token, expires_at), oldest write first: an LRU whose eviction is O(1).
        self._entries: OrderedDict[str, tuple[int, str, float]] = OrderedDict()

    def _now(self) -> float:
        clock = self._clock
        return clock() if clock is not None else time.monotonic()

    def __len__(self) -> int:
        return len(self._entries)

    def claim(self, keys: Sequence[str], lease: float, token: str) -> ClaimState:
        """Atomically claim ``keys``: DONE if any is done, IN_PROGRESS if any is held, else NEW."""
        now = self._now()
        with self._lock:
            entries = self._entries
            held = False
            for key in keys:
                entry = entries.get(key)
                if entry is not None and entry[2] > now:
                    if entry[0] == _DONE:
                        return ClaimState.DONE
                    if entry[1] != token:  # our own claim: a retried call stays NEW
                        held = True
            if held:
                return ClaimState.IN_PROGRESS
            claim = (_CLAIMED, token, now + lease)
            for key in keys:
                entries[key] = claim
                entries.move_to_end(key)
            if len(entries) > self.max_entries:
                self._evict()
            return ClaimState.NEW

    def complete(self, keys: Sequence[str], retention: float, token: str) -> None:
        """Remember ``keys`` as done for ``retention`` seconds."""
        done = (_DONE, token, self._now() + retention)
        with self._lock:
            entries = self._entries
            for key in keys:
                entries[key] = done
                entries.move_to_end(key)
            if len(entries) > self.max_entries:
                self._evict()

    def release(self, keys: Sequence[str], token: str) -> None:
        """Forget the claims on ``keys`` still held by ``token``."""
        with self._lock:
            entries = self._entries
            for key in keys:
                entry = entries.get(key)
                if entry is not None and entry[0] == _CLAIMED and entry[1] == token:
                    del entries[key]

    def clear(self) -> None:
        """Forget everything (for tests)."""
        with self._lock:
            self._entries.clear()

    def close(self) -> None:
        """Nothing to release; present for the Store protocol."""

    def _evict(self) -> None:
        entries = self._entries
        while len(entries) > self.max_entries:
            entries.popitem(last=False)

"""The in-memory dedup store: thread-safe, bounded, for tests and single-process apps."""

from __future__ import annotations

import itertools
import os
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from typing import Final

from cortexhooks_receiver._logs import store_logger

from .base import ClaimState

__all__ = ["MemoryStore"]

_CLAIMED: Final = 0
_DONE: Final = 1
_NEW: Final = ClaimState.NEW

# Stores alive in this process: a child forked after their creation is told so (see claim).
_live_stores: weakref.WeakSet[MemoryStore] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for store in list(_live_stores):
        store._forked = True


os.register_at_fork(after_in_child=_after_fork_in_child)


# Bound once: claim and complete are on every request's path.
_monotonic: Final = time.monotonic
_time_ns: Final = time.time_ns


def _several_workers_configured() -> bool:
    # gunicorn and uvicorn both read WEB_CONCURRENCY as their default number of workers.
    value = os.environ.get("WEB_CONCURRENCY", "")
    return value.isdigit() and int(value) > 1


class MemoryStore:
    """A dedup store in this process's memory.

    Entries expire (claims after their lease, completions after their retention), and the store
    holds at most ``max_entries`` keys: beyond that the least recently claimed are forgotten (an
    eighth at a time). Forgetting must never reopen a body, so an eviction of an entry still
    within its time raises :attr:`floor_ms` to the newest signed timestamp it forgot: the
    receiver then refuses, as ``event_too_old``, every body signed at or before it, since such a
    body may be one the store forgot. The store's memory therefore spans ``min(retention, the
    time max_entries keys take)``.
    Use the SQLite or Redis store when several processes receive webhooks: each process has its
    own memory, so a retry that reaches another worker runs again. The store says so once, at
    WARNING on the ``cortexhooks_receiver.stores`` logger, when it finds itself in a process
    forked after it was created, when ``WEB_CONCURRENCY`` asks for several workers, or when an
    adapter reports a multi-process server (WSGI's ``wsgi.multiprocess``).
    ``max_entries`` below 1 counts as 1. Never raises.
    """

    def __init__(
        self, max_entries: int = 100_000, *, clock: Callable[[], float] | None = None
    ) -> None:
        self.max_entries = max(1, max_entries)
        self._clock = clock
        self.floor_ms = 0
        """Bodies signed at or before this Unix time (ms) may have been forgotten (0: none)."""
        self._lock = threading.Lock()
        # key -> (state, token (a claim's; None once done), expires_at, signed_at_ms), in claim
        # order (the eviction order).
        self._entries: dict[str, tuple[int, str | None, float, int]] = {}
        # A dict that has held a key other than a str keeps each key's hash beside it for good,
        # so a lookup that meets another key compares hashes without reading that key's object:
        # fewer cache misses once the store holds many keys.
        self._entries[0] = None  # type: ignore[index, assignment]
        del self._entries[0]  # type: ignore[arg-type]
        self._forked = False
        self._warned_multiprocess = False
        _live_stores.add(self)
        if _several_workers_configured():
            self.warn_multiprocess("WEB_CONCURRENCY asks for several worker processes")

    def warn_multiprocess(self, reason: str) -> None:
        """Warn, once per store, that dedup does not span the processes receiving webhooks."""
        if self._warned_multiprocess:
            return
        self._warned_multiprocess = True
        store_logger.warning(
            "The memory:// dedup store is private to one process, but %s: a retry that reaches "
            "another worker runs its handlers again. Use store='sqlite:///webhooks.db' (one "
            "host) or 'redis://...' (many hosts). (Logged once.)",
            reason,
        )

    def straight_access(
        self,
    ) -> tuple[
        dict[str, tuple[int, str | None, float, int]],
        Callable[[], bool],
        Callable[[], None],
        Callable[[], float],
    ]:
        """The entries, the lock's acquire and release, and the clock: for the straight path.

        The straight path of :meth:`~cortexhooks_receiver.Receiver.handle` inlines what
        :meth:`claim` does when none of the keys is known, and what :meth:`complete` does, on
        these. Never raises.
        """
        lock = self._lock
        return self._entries, lock.acquire, lock.release, self._clock or _monotonic

    def __len__(self) -> int:
        return len(self._entries)

    def claim(
        self, keys: Sequence[str], lease: float, token: str, signed_at: int | None = None
    ) -> ClaimState:
        """Atomically claim ``keys``: DONE if any is done, IN_PROGRESS if any is held, else NEW.

        ``signed_at`` is the signed body timestamp (Unix ms) the keys stand for (the receiver
        passes it): what :attr:`floor_ms` rises to if the entry is forgotten early. Without it,
        the time of the claim is used.
        """
        if self._forked:
            self._forked = False
            self.warn_multiprocess("this process was forked after the store was created")
        clock = self._clock
        now = _monotonic() if clock is None else clock()
        entries = self._entries
        # Without the body's signed time, now (wall clock) bounds it from above: a safe floor.
        claim = (
            _CLAIMED,
            token,
            now + lease,
            _time_ns() // 1_000_000 if signed_at is None else signed_at,
        )
        # acquire/release rather than ``with``: the same lock, at half the cost on this path.
        lock = self._lock
        lock.acquire()
        try:
            for key in keys:
                if key in entries:
                    return self._claim_known(keys, token, claim, now)
            for key in keys:  # none is known: the usual case
                entries[key] = claim
            if len(entries) > self.max_entries:
                self._evict(now)
            return _NEW
        finally:
            lock.release()

    def _claim_known(
        self, keys: Sequence[str], token: str, claim: tuple[int, str, float, int], now: float
    ) -> ClaimState:
        # claim, when one of the keys has an entry (under the lock): done, held, or expired.
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
        for key in keys:  # re-inserted, so that each counts as recent for eviction
            entries.pop(key, None)
            entries[key] = claim
        if len(entries) > self.max_entries:
            self._evict(now)
        return _NEW

    def extend(self, keys: Sequence[str], lease: float, token: str) -> None:
        """Extend, to ``lease`` seconds from now, the claims on ``keys`` that ``token`` holds.

        A claim that was released, completed or expired and taken by another is left alone: the
        heartbeat calls this for a running delivery, and must never take a claim back.
        """
        clock = self._clock
        now = _monotonic() if clock is None else clock()
        entries = self._entries
        lock = self._lock
        lock.acquire()
        try:
            for key in keys:
                entry = entries.get(key)
                if entry is not None and entry[0] == _CLAIMED and entry[1] == token:
                    entries[key] = (_CLAIMED, token, now + lease, entry[3])
        finally:
            lock.release()

    def complete(
        self, keys: Sequence[str], retention: float, token: str, signed_at: int | None = None
    ) -> None:
        """Remember ``keys`` as done for ``retention`` seconds (``signed_at``: as for claim)."""
        clock = self._clock
        now = _monotonic() if clock is None else clock()
        done = (
            _DONE,
            None,  # a completion is nobody's: the token was the claim's (and is not kept)
            now + retention,
            _time_ns() // 1_000_000 if signed_at is None else signed_at,
        )
        entries = self._entries
        lock = self._lock
        lock.acquire()
        try:
            for key in keys:
                entries[key] = done  # keeps the key's place: eviction goes by claim order
            if len(entries) > self.max_entries:
                self._evict(now)
        finally:
            lock.release()

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

    def _evict(self, now: float) -> None:
        # Drop the oldest eighth at once, in place: one deletion per evicted key (a plain dict
        # keeps insertion order), instead of an ordered dict's bookkeeping on every write.
        entries = self._entries
        drop = len(entries) - self.max_entries + self.max_entries // 8
        newest_live = 0
        for key in list(itertools.islice(entries, drop)):
            entry = entries.pop(key)
            if entry[2] > now and entry[3] > newest_live:
                newest_live = entry[3]
        if newest_live > self.floor_ms:
            if not self.floor_ms:
                store_logger.warning(
                    "The memory:// dedup store is full (max_entries=%d) and forgot deliveries "
                    "still within their retention: bodies signed before the newest forgotten "
                    "one are now refused as event_too_old, so none can run twice. Raise "
                    "max_entries, or use store='sqlite:///webhooks.db' or 'redis://...'. "
                    "(Logged once.)",
                    self.max_entries,
                )
            self.floor_ms = newest_live

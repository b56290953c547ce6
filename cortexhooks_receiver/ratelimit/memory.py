"""Token buckets in this process's memory: thread-safe, the table bounded."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Final

from .base import Rate

__all__ = ["DEFAULT_MAX_BUCKETS", "MemoryBuckets"]

DEFAULT_MAX_BUCKETS: Final = 10_000
"""Buckets remembered at most (one per client address, plus the endpoint's)."""


class MemoryBuckets:
    """Named token buckets in this process (each worker process has its own).

    A bucket is ``[tokens, when]``: its tokens at ``when``; refill is computed on the next take.
    Beyond ``max_buckets`` names, the buckets that have refilled completely are forgotten
    (forgetting a full bucket changes nothing), then the oldest: a client forgotten early gets a
    full bucket back, never fewer tokens. Never raises.
    """

    __slots__ = ("_clock", "_lock", "_table", "max_buckets")

    def __init__(
        self, max_buckets: int = DEFAULT_MAX_BUCKETS, *, clock: Callable[[], float] | None = None
    ) -> None:
        self.max_buckets = max(2, max_buckets)
        self._clock = time.monotonic if clock is None else clock
        self._lock = threading.Lock()
        self._table: dict[str, list[float]] = {}  # name -> [tokens, when]: updated in place

    def __len__(self) -> int:
        return len(self._table)

    def take(self, buckets: Sequence[tuple[str, Rate]]) -> float:
        """Take a token from every bucket, or none; 0.0, or the seconds to wait (see Buckets)."""
        now = self._clock()
        table = self._table
        # acquire/release rather than ``with``: the same lock, at half the cost on this path.
        lock = self._lock
        lock.acquire()
        try:
            if len(buckets) == 1:  # the endpoint's bucket alone: unrolled, it is every request's
                name, (capacity, per_second) = buckets[0]
                state = table.get(name)
                if state is None:  # never seen, or forgotten once full: a full bucket
                    table[name] = [capacity - 1.0, now]
                    return 0.0
                tokens = state[0] + (now - state[1]) * per_second
                if tokens > capacity:
                    tokens = capacity
                state[1] = now
                if tokens < 1.0:
                    state[0] = tokens
                    return (1.0 - tokens) / per_second
                state[0] = tokens - 1.0
                return 0.0
            if len(buckets) == 2:  # the endpoint's and the client's: unrolled too
                (name, (capacity, per_second)), (own_name, (own_capacity, own_per_second)) = buckets
                state = table.get(name)
                if state is None:
                    tokens = capacity
                    state = table[name] = [capacity, now]
                else:  # refilled up to now, whether or not a token is taken
                    tokens = state[0] + (now - state[1]) * per_second
                    if tokens > capacity:
                        tokens = capacity
                    state[1] = now
                own = table.get(own_name)
                if own is None:
                    own_tokens = own_capacity
                    own = table[own_name] = [own_capacity, now]
                else:
                    own_tokens = own[0] + (now - own[1]) * own_per_second
                    if own_tokens > own_capacity:
                        own_tokens = own_capacity
                    own[1] = now
                if tokens >= 1.0 and own_tokens >= 1.0:
                    state[0] = tokens - 1.0
                    own[0] = own_tokens - 1.0
                    if len(table) > self.max_buckets:
                        self._forget(now, max(capacity / per_second, own_capacity / own_per_second))
                    return 0.0
                state[0] = tokens
                own[0] = own_tokens
                wait = 0.0 if tokens >= 1.0 else (1.0 - tokens) / per_second
                if own_tokens < 1.0:
                    wait = max(wait, (1.0 - own_tokens) / own_per_second)
                return wait
            wait = 0.0
            states = []
            for name, (capacity, per_second) in buckets:
                state = table.get(name)
                if state is None:
                    state = table[name] = [capacity, now]
                else:  # refilled up to now, whether or not a token is taken
                    tokens = state[0] + (now - state[1]) * per_second
                    state[0] = capacity if tokens > capacity else tokens
                    state[1] = now
                if state[0] < 1.0:
                    missing = (1.0 - state[0]) / per_second
                    if missing > wait:
                        wait = missing
                states.append(state)
            if wait > 0.0:
                return wait
            for state in states:
                state[0] -= 1.0
            if len(table) > self.max_buckets:
                self._forget(now, max(rate.capacity / rate.per_second for _, rate in buckets))
            return 0.0
        finally:
            lock.release()

    async def atake(self, buckets: Sequence[tuple[str, Rate]]) -> float:
        """Coroutine form of :meth:`take` (it never blocks)."""
        return self.take(buckets)

    def close(self) -> None:
        """Nothing to release. Never raises."""

    def _forget(self, now: float, full_after: float) -> None:
        # Called with the lock held. A bucket untouched for ``full_after`` seconds (the longest
        # refill of the rates in use) is full again: forgetting it changes nothing.
        table = self._table
        for name in [n for n, (_, when) in table.items() if now - when >= full_after]:
            del table[name]
        excess = len(table) - self.max_buckets * 7 // 8
        if excess > 0:
            for name in [n for n in table if n != "g"][:excess]:
                del table[name]

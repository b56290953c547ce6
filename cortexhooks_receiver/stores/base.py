"""The dedup store protocol every store implements.

A delivery is identified by one or two keys (its delivery id, when the sender gave one, and the
digest of its signed body). Processing a delivery is::

    state = store.claim(keys, lease, token)   # NEW: we own it until the lease ends
    ... run the handlers ...
    store.complete(keys, retention, token)    # remembered as done for `retention` seconds
    # or, when a handler failed:
    store.release(keys, token)                # forgotten, so the sender's retry runs it again

``claim`` is atomic over all keys: if any key is done the result is DONE; else if any key is held
by an unexpired claim it is IN_PROGRESS; else every key is claimed by ``token`` and the result is
NEW. A claim whose lease has expired (its worker crashed) is taken over by the next ``claim``.
Keys already held by ``token`` itself count as free, so a ``claim`` retried after a lost reply
(a network store's client retry) is NEW again rather than blocking its own caller.
``release`` only removes claims still held by ``token`` (a slow worker cannot release the claim of
the worker that took over). ``complete`` marks every key done whoever holds it.

Every method raises :class:`StoreError` when the backing service cannot be reached; the receiver
turns that into a 503 and fails closed.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from cortexhooks_receiver._concurrency import to_thread
from cortexhooks_receiver.errors import StoreError

__all__ = ["AsyncStore", "ClaimState", "Store", "StoreError", "SyncStoreAsAsync"]


class ClaimState(enum.Enum):
    """The outcome of :meth:`Store.claim`."""

    NEW = "new"
    IN_PROGRESS = "in_progress"
    DONE = "done"


@runtime_checkable
class Store(Protocol):
    """A dedup store used from synchronous code."""

    def claim(self, keys: Sequence[str], lease: float, token: str) -> ClaimState:
        """Atomically claim ``keys`` for ``lease`` seconds; see the module docs.

        Raises:
            StoreError: the store is unreachable.
        """
        ...

    def complete(self, keys: Sequence[str], retention: float, token: str) -> None:
        """Remember ``keys`` as done for ``retention`` seconds.

        Raises:
            StoreError: the store is unreachable.
        """
        ...

    def release(self, keys: Sequence[str], token: str) -> None:
        """Forget the claims on ``keys`` that ``token`` still holds.

        Raises:
            StoreError: the store is unreachable.
        """
        ...

    def close(self) -> None:
        """Release connections and files held by the store."""
        ...


@runtime_checkable
class AsyncStore(Protocol):
    """A dedup store with native coroutine methods (e.g. Redis' asyncio client)."""

    async def aclaim(self, keys: Sequence[str], lease: float, token: str) -> ClaimState:
        """Coroutine form of :meth:`Store.claim`."""
        ...

    async def acomplete(self, keys: Sequence[str], retention: float, token: str) -> None:
        """Coroutine form of :meth:`Store.complete`."""
        ...

    async def arelease(self, keys: Sequence[str], token: str) -> None:
        """Coroutine form of :meth:`Store.release`."""
        ...


class SyncStoreAsAsync:
    """Adapts a blocking :class:`Store` to :class:`AsyncStore` by running calls in a thread.

    Stores whose calls never block (the memory store) are called inline instead.
    """

    __slots__ = ("_inline", "store")

    def __init__(self, store: Store, *, inline: bool = False) -> None:
        self.store = store
        self._inline = inline

    async def aclaim(self, keys: Sequence[str], lease: float, token: str) -> ClaimState:
        """Run :meth:`Store.claim` without blocking the event loop."""
        if self._inline:
            return self.store.claim(keys, lease, token)
        return await to_thread(self.store.claim, keys, lease, token)

    async def acomplete(self, keys: Sequence[str], retention: float, token: str) -> None:
        """Run :meth:`Store.complete` without blocking the event loop."""
        if self._inline:
            self.store.complete(keys, retention, token)
        else:
            await to_thread(self.store.complete, keys, retention, token)

    async def arelease(self, keys: Sequence[str], token: str) -> None:
        """Run :meth:`Store.release` without blocking the event loop."""
        if self._inline:
            self.store.release(keys, token)
        else:
            await to_thread(self.store.release, keys, token)

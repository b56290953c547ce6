"""Dedup stores backed by Django: the ORM (any database Django supports) and the cache framework.

Both implement :class:`cortexhooks_receiver.stores.Store` (claim/complete/release/close) and raise
:class:`~cortexhooks_receiver.stores.StoreError` when the database or cache fails, so the receiver
answers 503 and the sender retries (fail closed).

* :class:`DjangoORMStore` (``STORE: "django-orm"`` or ``"django-orm://<alias>"``): rows of
  :class:`~.models.DeliveryClaim` (run ``manage.py migrate``). A claim is one transaction: expired
  rows for the keys are deleted, the live ones are read ``SELECT ... FOR UPDATE``, missing keys
  are inserted; the primary key makes two concurrent inserts of one key impossible (the loser
  sees ``IntegrityError`` and looks again). Safe across processes and hosts on PostgreSQL and
  MySQL; on SQLite concurrent writers may get "database is locked", answered with 503 (the sender
  retries), so prefer PostgreSQL in production.
* :class:`DjangoCacheStore` (``STORE: "django-cache://<alias>"``): ``cache.add`` (atomic on
  Redis, Memcached and the database cache) claims each key with the lease as timeout; completion
  is ``set_many`` with the retention as timeout. LocMem (one process only), the file cache (no
  atomic add) and the dummy cache (remembers nothing) are flagged by system check
  ``cortexhooks.W001``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import Any, Final

from django.core.cache import caches
from django.db import Error as DatabaseError
from django.db import IntegrityError, transaction

from cortexhooks_receiver.stores import ClaimState, StoreError

__all__ = ["DjangoCacheStore", "DjangoORMStore"]

_ATTEMPTS: Final = 3


class DjangoORMStore:
    """A dedup store in the project's database (see the module docs).

    Args:
        using: the database alias.
        clock: Unix seconds (wall clock: shared by every worker); default :func:`time.time`.
        prune_every: delete expired rows once every this many completions (0: never).

    Raises:
        StoreError: (from every method) the database failed.
    """

    def __init__(
        self,
        using: str = "default",
        *,
        clock: Callable[[], float] | None = None,
        prune_every: int = 1000,
    ) -> None:
        self.using = using
        self._clock = clock or time.time
        self.prune_every = prune_every
        self._completions = 0

    def __repr__(self) -> str:
        return f"DjangoORMStore(using={self.using!r})"

    def _objects(self) -> Any:
        from .models import DeliveryClaim

        return DeliveryClaim.objects.using(self.using)

    def claim(self, keys: Sequence[str], lease: float, token: str) -> ClaimState:
        """Atomically claim ``keys``: DONE if any is done, IN_PROGRESS if any is held, else NEW.

        Raises:
            StoreError: the database failed.
        """
        for _attempt in range(_ATTEMPTS):
            try:
                with transaction.atomic(using=self.using):
                    return self._claim(keys, lease, token)
            except IntegrityError:
                continue  # another worker inserted one of the keys first: look again
            except DatabaseError as exc:
                raise StoreError(f"database error in claim: {type(exc).__name__}") from exc
        return ClaimState.IN_PROGRESS

    def _claim(self, keys: Sequence[str], lease: float, token: str) -> ClaimState:
        from .models import DeliveryClaim

        now = self._clock()
        objects = self._objects()
        # A write first: it takes the write lock (SQLite) and locks expired rows (others).
        objects.filter(key__in=keys, expires_at__lte=now).delete()
        held = False
        for done in objects.select_for_update().filter(key__in=keys).values_list("done", flat=True):
            if done:
                return ClaimState.DONE
            held = True
        if held:
            return ClaimState.IN_PROGRESS
        expires = now + lease
        objects.bulk_create(
            [DeliveryClaim(key=key, done=False, token=token, expires_at=expires) for key in keys]
        )
        return ClaimState.NEW

    def complete(self, keys: Sequence[str], retention: float, token: str) -> None:
        """Remember ``keys`` as done for ``retention`` seconds.

        Raises:
            StoreError: the database failed.
        """
        from .models import DeliveryClaim

        now = self._clock()
        expires = now + retention
        try:
            with transaction.atomic(using=self.using):
                self._objects().bulk_create(
                    [
                        DeliveryClaim(key=k, done=True, token=token, expires_at=expires)
                        for k in keys
                    ],
                    update_conflicts=True,
                    unique_fields=["key"],
                    update_fields=["done", "token", "expires_at"],
                )
            self._completions += 1
            if self.prune_every and self._completions % self.prune_every == 0:
                self._objects().filter(expires_at__lte=now).delete()
        except DatabaseError as exc:
            raise StoreError(f"database error in complete: {type(exc).__name__}") from exc

    def release(self, keys: Sequence[str], token: str) -> None:
        """Forget the claims on ``keys`` still held by ``token``.

        Raises:
            StoreError: the database failed.
        """
        try:
            self._objects().filter(key__in=keys, token=token, done=False).delete()
        except DatabaseError as exc:
            raise StoreError(f"database error in release: {type(exc).__name__}") from exc

    def prune(self) -> int:
        """Delete expired rows now; return how many.

        Raises:
            StoreError: the database failed.
        """
        try:
            deleted, _ = self._objects().filter(expires_at__lte=self._clock()).delete()
        except DatabaseError as exc:
            raise StoreError(f"database error in prune: {type(exc).__name__}") from exc
        return int(deleted)

    def close(self) -> None:
        """Nothing to release: Django manages database connections."""


_CLAIMED: Final = "c:"
_DONE: Final = "d:"


class DjangoCacheStore:
    """A dedup store in a Django cache whose ``add`` is atomic (Redis, Memcached, database).

    Claiming several keys is one atomic ``add`` per key; if a later key is taken, the keys this
    call added are given back, so the claim as a whole is all-or-nothing. ``release`` reads then
    deletes (two calls): a claim taken over in between by another worker after the lease expired
    could be deleted; keep the lease longer than your slowest handler.

    Args:
        alias: the cache alias in ``settings.CACHES``.
        prefix: prepended to every key.

    Raises:
        StoreError: (from every method) the cache backend failed.
    """

    def __init__(self, alias: str = "default", *, prefix: str = "cortexhooks:") -> None:
        self.alias = alias
        self.prefix = prefix

    def __repr__(self) -> str:
        return f"DjangoCacheStore(alias={self.alias!r})"

    @property
    def cache(self) -> Any:
        """The Django cache this store uses."""
        return caches[self.alias]

    def claim(self, keys: Sequence[str], lease: float, token: str) -> ClaimState:
        """Claim ``keys`` with ``cache.add``: DONE, IN_PROGRESS or NEW (see the class docs).

        Raises:
            StoreError: the cache failed.
        """
        try:
            cache = self.cache
            full = [self.prefix + key for key in keys]
            current = cache.get_many(full)
            if current:
                return _state(current.values())
            mine = _CLAIMED + token
            timeout = max(1, math.ceil(lease))
            added: list[str] = []
            for key in full:
                if cache.add(key, mine, timeout=timeout):
                    added.append(key)
                    continue
                for own in added:
                    if cache.get(own) == mine:
                        cache.delete(own)
                winner = cache.get(key)
                return ClaimState.IN_PROGRESS if winner is None else _state([winner])
            return ClaimState.NEW
        except Exception as exc:
            raise StoreError(f"cache error in claim: {type(exc).__name__}") from exc

    def complete(self, keys: Sequence[str], retention: float, token: str) -> None:
        """Remember ``keys`` as done for ``retention`` seconds (``set_many``).

        Raises:
            StoreError: the cache failed.
        """
        try:
            self.cache.set_many(
                {self.prefix + key: _DONE + token for key in keys},
                timeout=max(1, math.ceil(retention)),
            )
        except Exception as exc:
            raise StoreError(f"cache error in complete: {type(exc).__name__}") from exc

    def release(self, keys: Sequence[str], token: str) -> None:
        """Delete the claims on ``keys`` still held by ``token``.

        Raises:
            StoreError: the cache failed.
        """
        mine = _CLAIMED + token
        try:
            cache = self.cache
            full = [self.prefix + key for key in keys]
            for key, value in cache.get_many(full).items():
                if value == mine:
                    cache.delete(key)
        except Exception as exc:
            raise StoreError(f"cache error in release: {type(exc).__name__}") from exc

    def close(self) -> None:
        """Nothing to release: Django manages cache connections."""


def _state(values: Any) -> ClaimState:
    for value in values:
        if isinstance(value, str) and value.startswith(_DONE):
            return ClaimState.DONE
    return ClaimState.IN_PROGRESS

"""Dedup stores: memory, SQLite (the embedded default for one host) and Redis (many hosts)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cortexhooks_receiver._lazy import lazy_attributes

from .base import AsyncStore, ClaimState, Store, StoreError, SyncStoreAsAsync
from .memory import MemoryStore

if TYPE_CHECKING:
    from .redis import RedisStore
    from .sqlite import SQLiteStore

__all__ = [
    "AsyncStore",
    "ClaimState",
    "MemoryStore",
    "RedisStore",
    "SQLiteStore",
    "Store",
    "StoreError",
    "SyncStoreAsAsync",
    "open_store",
]


# The SQLite and Redis stores load when first named, never on `import cortexhooks_receiver`.
__getattr__ = lazy_attributes(__name__, {"SQLiteStore": ".sqlite", "RedisStore": ".redis"})


def open_store(url: str | Store) -> Store:
    """Return the store a URL names: ``memory://``, ``sqlite:///path.db`` or ``redis://host/0``.

    A :class:`Store` instance is returned unchanged.

    Raises:
        ConfigurationError: the URL's scheme is unknown, or its extra is not installed.
    """
    from ._urls import open_store_url

    if not isinstance(url, str):
        return url
    return open_store_url(url)

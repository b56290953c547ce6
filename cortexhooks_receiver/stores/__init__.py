"""Dedup stores: memory, SQLite (the embedded default for one host) and Redis (many hosts)."""

from __future__ import annotations

from .base import AsyncStore, ClaimState, Store, StoreError, SyncStoreAsAsync
from .memory import MemoryStore

__all__ = [
    "AsyncStore",
    "ClaimState",
    "MemoryStore",
    "Store",
    "StoreError",
    "SyncStoreAsAsync",
    "open_store",
]


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

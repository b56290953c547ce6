"""Turn a store URL into a store instance (SQLite and Redis are imported only when named)."""

from __future__ import annotations

from ..errors import ConfigurationError
from .base import Store
from .memory import MemoryStore


def open_store_url(url: str) -> Store:
    """Return a new store for ``url``.

    Raises:
        ConfigurationError: unknown scheme.
    """
    scheme = url.partition("://")[0].lower()
    if scheme == "memory":
        return MemoryStore()
    raise ConfigurationError(
        f"Unknown dedup store URL scheme {scheme!r}; use memory://, sqlite:///path.db or "
        "redis://host:6379/0."
    )

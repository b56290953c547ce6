"""What the Redis dedup store and the Redis journal share: the client, its errors, the key prefix.

Imported only by those two (the ``redis`` extra), so ``import cortexhooks_receiver`` never
imports redis.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from cortexhooks_receiver.errors import ConfigurationError

if TYPE_CHECKING:
    import redis as redis_lib

__all__ = ["DEFAULT_SOCKET_TIMEOUT", "client_from_url", "hash_tagged", "import_redis"]

DEFAULT_SOCKET_TIMEOUT: Final = 5.0
"""Seconds a URL-created client waits to connect or for a reply (a URL query can override)."""


def import_redis(what: str) -> Any:
    """Import and return the redis package.

    Raises:
        ConfigurationError: it is not installed; the message says that ``what`` (e.g. "The
            Redis dedup store") needs it, and names the pip extra.
    """
    try:
        import redis
    except ImportError as exc:
        raise ConfigurationError(
            f"{what} needs the redis package: pip install 'cortexhooks-receiver[redis]'."
        ) from exc
    return redis


def client_from_url(redis: Any, url: str, socket_timeout: float, what: str) -> redis_lib.Redis:
    """Return a sync client of the ``redis`` package for a ``redis://`` / ``rediss://`` URL.

    No connection is made yet.

    Raises:
        ConfigurationError: the URL is not a valid Redis URL or has an option redis-py does not
            know (the message says it is the URL of ``what``, e.g. "the journal").
    """
    try:
        client = redis.Redis.from_url(
            url, socket_timeout=socket_timeout, socket_connect_timeout=socket_timeout
        )
        # Connections are made lazily; build one (no I/O) so an unknown URL option fails here
        # rather than as a TypeError on the first request.
        pool = client.connection_pool
        pool.connection_class(**pool.connection_kwargs)
    except (ValueError, TypeError) as exc:
        raise ConfigurationError(f"Invalid Redis URL for {what}: {exc}") from exc
    result: redis_lib.Redis = client
    return result


def hash_tagged(prefix: str) -> str:
    """Return ``prefix`` if it holds a Redis Cluster hash tag, else the prefix wrapped as one.

    Every key under one tagged prefix lives in one hash slot, so one Lua script may touch them
    all on a cluster.

    Raises:
        ConfigurationError: ``prefix`` is empty.
    """
    if not prefix:
        raise ConfigurationError("A Redis key prefix must not be empty.")
    start = prefix.find("{")
    if start != -1:
        end = prefix.find("}", start + 1)
        if end > start + 1:
            return prefix
    return "{" + prefix + "}"

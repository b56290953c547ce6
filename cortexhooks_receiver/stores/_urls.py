"""Turn a store URL into a store instance (SQLite and Redis are imported only when named).

Accepted forms:

* ``memory://`` (optional ``?max_entries=100000``): this process's memory.
* ``sqlite:///relative/path.db`` (three slashes: relative to the working directory) and
  ``sqlite:////absolute/path.db`` (four slashes); options ``?busy_timeout=5`` (seconds) and
  ``?prune_every=256``. The path is percent-decoded. ``sqlite://:memory:`` and
  ``sqlite:///:memory:`` are refused: each worker process would get a private database, which
  defeats the store; use ``memory://`` for one process.
* ``redis://[[user]:password@]host[:port][/db]`` and ``rediss://...`` (TLS), with every query
  option redis-py understands (``socket_timeout``, ``ssl_cert_reqs``, ...) plus ``prefix`` (key
  prefix, default ``cortexhooks:``). Needs the ``redis`` extra.
"""

from __future__ import annotations

from cortexhooks_receiver._urls import (
    memory_query,
    options,
    redis_url,
    split_url,
    sqlite_path,
    url_number,
)
from cortexhooks_receiver.errors import ConfigurationError

from .base import Store
from .memory import MemoryStore

__all__ = ["open_store_url", "sqlite_settings"]

_HINT = "use memory://, sqlite:///path.db or redis://host:6379/0"
_WHAT = "dedup store"


def open_store_url(url: str) -> Store:
    """Return a new store for ``url`` (see the module docs for the accepted forms).

    Raises:
        ConfigurationError: not a URL, an unknown scheme, an unknown or invalid option, an
            in-memory SQLite database, or a ``redis://`` URL without the ``redis`` extra.
    """
    scheme, rest = split_url(url, _WHAT, _HINT)
    if scheme == "memory":
        return _open_memory(rest)
    if scheme == "sqlite":
        return _open_sqlite(rest)
    if scheme in ("redis", "rediss"):
        return _open_redis(url)
    raise ConfigurationError(f"Unknown dedup store URL scheme {scheme!r}; {_HINT}.")


def _open_memory(rest: str) -> Store:
    found = options(memory_query(rest, "store"), ("max_entries",), "memory", _WHAT)
    if "max_entries" in found:
        return MemoryStore(int(url_number(found, "max_entries", int, _WHAT)))
    return MemoryStore()


def _open_sqlite(rest: str) -> Store:
    from .sqlite import SQLiteStore

    path, busy_timeout, prune_every = sqlite_settings(rest)
    return SQLiteStore(path, busy_timeout=busy_timeout, prune_every=prune_every)


def sqlite_settings(rest: str, what: str = _WHAT) -> tuple[str, float, int]:
    """Return ``(path, busy_timeout, prune_every)`` of a SQLite URL (``rest``: after ``://``).

    The one reading of SQLite URLs: the dedup store's and the job queue's.

    Raises:
        ConfigurationError: an in-memory database, no file path, or an unknown or invalid option.
    """
    location, _, query = rest.partition("?")
    path = sqlite_path(location, what)
    found = options(query, ("busy_timeout", "prune_every"), "sqlite", what)
    return (
        path,
        float(url_number(found, "busy_timeout", float, what)) if "busy_timeout" in found else 5.0,
        int(url_number(found, "prune_every", int, what)) if "prune_every" in found else 256,
    )


def _open_redis(url: str) -> Store:
    client_url, found = redis_url(url, ("prefix",), _WHAT)
    from .redis import RedisStore

    if "prefix" not in found:
        return RedisStore(client_url)
    return RedisStore(client_url, prefix=found["prefix"])

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

from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from cortexhooks_receiver.errors import ConfigurationError

from .base import Store
from .memory import MemoryStore

__all__ = ["open_store_url", "sqlite_settings"]

_HINT = "use memory://, sqlite:///path.db or redis://host:6379/0"


def open_store_url(url: str) -> Store:
    """Return a new store for ``url`` (see the module docs for the accepted forms).

    Raises:
        ConfigurationError: not a URL, an unknown scheme, an unknown or invalid option, an
            in-memory SQLite database, or a ``redis://`` URL without the ``redis`` extra.
    """
    scheme, sep, rest = url.partition("://")
    scheme = scheme.lower()
    if not sep:
        raise ConfigurationError(f"The dedup store must be given as a URL; {_HINT}.")
    if scheme == "memory":
        return _open_memory(rest)
    if scheme == "sqlite":
        return _open_sqlite(rest)
    if scheme in ("redis", "rediss"):
        return _open_redis(url)
    raise ConfigurationError(f"Unknown dedup store URL scheme {scheme!r}; {_HINT}.")


def _options(query: str, allowed: tuple[str, ...], scheme: str) -> dict[str, str]:
    options: dict[str, str] = {}
    for name, value in parse_qsl(query, keep_blank_values=True):
        if name not in allowed:
            known = ", ".join(allowed) or "none"
            raise ConfigurationError(
                f"Unknown option {name!r} in the {scheme}:// store URL (known options: {known})."
            )
        options[name] = value
    return options


def _number(options: dict[str, str], name: str, kind: type[int] | type[float]) -> int | float:
    text = options[name]
    try:
        value = kind(text)
    except ValueError:
        raise ConfigurationError(
            f"Option {name!r} of the store URL must be a number, not {text!r}."
        ) from None
    if value < 0:
        raise ConfigurationError(f"Option {name!r} of the store URL must not be negative.")
    return value


def _open_memory(rest: str) -> Store:
    location, _, query = rest.partition("?")
    if location.strip("/"):
        raise ConfigurationError("The memory:// store URL takes no host or path.")
    options = _options(query, ("max_entries",), "memory")
    if "max_entries" in options:
        return MemoryStore(int(_number(options, "max_entries", int)))
    return MemoryStore()


def _open_sqlite(rest: str) -> Store:
    from .sqlite import SQLiteStore

    path, busy_timeout, prune_every = sqlite_settings(rest)
    return SQLiteStore(path, busy_timeout=busy_timeout, prune_every=prune_every)


def sqlite_settings(rest: str) -> tuple[str, float, int]:
    """Return ``(path, busy_timeout, prune_every)`` of a SQLite URL (``rest``: after ``://``).

    The one reading of SQLite URLs: the dedup store's and the job queue's.

    Raises:
        ConfigurationError: an in-memory database, no file path, or an unknown or invalid option.
    """
    location, _, query = rest.partition("?")
    if location in (":memory:", "/:memory:"):
        raise ConfigurationError(
            "An in-memory SQLite database would be private to each worker process; use "
            "memory:// for a single process or sqlite:///path.db for a shared file."
        )
    if not location.startswith("/") or len(location) < 2:
        raise ConfigurationError(
            "A SQLite store URL names a file: sqlite:///relative/path.db (three slashes) or "
            "sqlite:////absolute/path.db (four slashes)."
        )
    options = _options(query, ("busy_timeout", "prune_every"), "sqlite")
    return (
        unquote(location[1:]),
        float(_number(options, "busy_timeout", float)) if "busy_timeout" in options else 5.0,
        int(_number(options, "prune_every", int)) if "prune_every" in options else 256,
    )


def _open_redis(url: str) -> Store:
    parts = urlsplit(url)
    prefix: str | None = None
    kept: list[tuple[str, str]] = []
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        if name == "prefix":
            prefix = value
        else:
            kept.append((name, value))
    client_url = urlunsplit(parts._replace(query=urlencode(kept)))
    from .redis import RedisStore

    if prefix is None:
        return RedisStore(client_url)
    return RedisStore(client_url, prefix=prefix)

"""Turn a journal URL into a journal (SQLite and Redis are imported only when named).

Accepted forms, with the options each takes:

* ``memory://`` (``?max_receipts=1000&retention=604800``): this process's memory.
* ``sqlite:///relative/path.db`` (three slashes) and ``sqlite:////absolute/path.db`` (four), with
  ``?retention=604800&prune_every=256&busy_timeout=5``. In-memory databases are refused.
* ``redis://[[user]:password@]host[:port][/db]`` and ``rediss://...``, with ``prefix``
  (default ``cortexhooks:``), ``max_receipts`` (default 100000), ``retention`` and
  ``prune_every``; every other option goes to redis-py. Needs the ``redis`` extra.

``retention`` is in seconds (default a week).
"""

from __future__ import annotations

from typing import Any

from cortexhooks_receiver._urls import (
    memory_query,
    options,
    redis_url,
    split_url,
    sqlite_path,
    url_number,
)
from cortexhooks_receiver.errors import ConfigurationError

from .base import Journal
from .memory import MemoryJournal

__all__ = ["open_journal_url"]

_HINT = "use memory://, sqlite:///path.db or redis://host:6379/0"
_WHAT = "journal"
# Option name -> its type, for every option a journal URL may carry.
_KINDS: dict[str, type[int] | type[float]] = {
    "max_receipts": int,
    "retention": float,
    "prune_every": int,
    "busy_timeout": float,
}


def open_journal_url(url: str) -> Journal:
    """Open the journal ``url`` names, with the options the module docs list for its scheme.

    Raises:
        ConfigurationError: ``url`` is no URL or has a scheme other than memory, sqlite, redis
            and rediss; an option is unknown, not a number or negative; the SQLite database is
            in memory; or redis is not installed.
    """
    scheme, rest = split_url(url, _WHAT, _HINT)
    if scheme == "memory":
        query = memory_query(rest, _WHAT)
        return MemoryJournal(**_numbers(query, ("max_receipts", "retention"), "memory"))
    if scheme == "sqlite":
        location, _, query = rest.partition("?")
        path = sqlite_path(location, _WHAT)
        numbers = _numbers(query, ("retention", "prune_every", "busy_timeout"), "sqlite")
        from .sqlite import SQLiteJournal

        return SQLiteJournal(path, **numbers)
    if scheme in ("redis", "rediss"):
        own = ("prefix", "max_receipts", "retention", "prune_every")
        client_url, found = redis_url(url, own, _WHAT)
        kwargs: dict[str, Any] = {name: _kind(found, name) for name in found if name != "prefix"}
        if "prefix" in found:
            kwargs["prefix"] = found["prefix"]
        from .redis import RedisJournal

        return RedisJournal(client_url, **kwargs)
    raise ConfigurationError(f"Unknown journal URL scheme {scheme!r}; {_HINT}.")


def _kind(found: dict[str, str], name: str) -> int | float:
    return url_number(found, name, _KINDS[name], _WHAT)


def _numbers(query: str, allowed: tuple[str, ...], scheme: str) -> dict[str, Any]:
    found = options(query, allowed, scheme, _WHAT)
    return {name: _kind(found, name) for name in found}

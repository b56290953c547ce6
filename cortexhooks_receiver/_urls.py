"""Reading the URLs that name stores and journals: schemes, query options, SQLite paths, Redis.

One vocabulary for every ``open_*()``: ``memory://``, ``sqlite:///relative.db`` (three slashes)
or ``sqlite:////absolute.db`` (four), ``redis://`` / ``rediss://`` with a ``prefix`` option.
Each reader names ``what`` the URL is for ("dedup store", "journal") in its error messages.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from cortexhooks_receiver.errors import ConfigurationError

__all__ = ["memory_query", "options", "redis_url", "split_url", "sqlite_path", "url_number"]


def split_url(url: str, what: str, hint: str) -> tuple[str, str]:
    """Return ``(scheme, rest)`` of ``url``, the scheme lower-cased.

    Raises:
        ConfigurationError: ``url`` has no ``scheme://`` (``hint`` lists the accepted forms).
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ConfigurationError(f"The {what} must be given as a URL; {hint}.")
    return scheme.lower(), rest


def memory_query(rest: str, what: str) -> str:
    """Return the query of a ``memory://`` URL's ``rest`` (what follows ``://``).

    Raises:
        ConfigurationError: the URL has a host or path.
    """
    location, _, query = rest.partition("?")
    if location.strip("/"):
        raise ConfigurationError(f"The memory:// {what} URL takes no host or path.")
    return query


def options(query: str, allowed: tuple[str, ...], scheme: str, what: str) -> dict[str, str]:
    """Return the query options of a ``scheme://`` URL, each one of ``allowed``.

    Raises:
        ConfigurationError: an option ``allowed`` does not name.
    """
    found: dict[str, str] = {}
    for name, value in parse_qsl(query, keep_blank_values=True):
        if name not in allowed:
            known = ", ".join(allowed) or "none"
            raise ConfigurationError(
                f"Unknown option {name!r} in the {scheme}:// {what} URL (known options: {known})."
            )
        found[name] = value
    return found


def url_number(
    found: dict[str, str], name: str, kind: type[int] | type[float], what: str
) -> int | float:
    """Return option ``name`` as a non-negative ``kind``.

    Raises:
        ConfigurationError: it is not a number of that kind, or it is negative.
    """
    text = found[name]
    try:
        value = kind(text)
    except ValueError:
        raise ConfigurationError(
            f"Option {name!r} of the {what} URL must be a number, not {text!r}."
        ) from None
    if value < 0:
        raise ConfigurationError(f"Option {name!r} of the {what} URL must not be negative.")
    return value


def sqlite_path(location: str, what: str) -> str:
    """Return the file path of a ``sqlite://`` URL's ``location`` (what follows ``://``).

    Raises:
        ConfigurationError: an in-memory database (each worker process would get its own), or
            a location that is not ``/relative.db`` or ``//absolute.db``.
    """
    if location in (":memory:", "/:memory:"):
        raise ConfigurationError(
            "An in-memory SQLite database would be private to each worker process; use "
            "memory:// for a single process or sqlite:///path.db for a shared file."
        )
    if not location.startswith("/") or len(location) < 2:
        raise ConfigurationError(
            f"A SQLite {what} URL names a file: sqlite:///relative/path.db (three slashes) or "
            "sqlite:////absolute/path.db (four slashes)."
        )
    return unquote(location[1:])


def redis_url(url: str, own: tuple[str, ...], what: str) -> tuple[str, dict[str, str]]:
    """Split a Redis URL into the URL for redis-py and the options named in ``own``.

    Every other query option (``socket_timeout``, ``ssl_cert_reqs``, ...) stays in the URL for
    redis-py to read. Every part must mean something: a database that is not a number
    (``/notadb``, which redis-py would silently read as database 0), a path below the database,
    a ``#fragment`` or a database given twice (path and ``?db=``) is refused.

    Raises:
        ConfigurationError: the URL has a part that would be ignored or misread (the message
            names ``what`` the URL is for).
    """
    parts = urlsplit(url)
    database = parts.path.removeprefix("/")
    if database and not (database.isascii() and database.isdigit()):
        raise ConfigurationError(
            f"The Redis URL of the {what} names database {database!r}: a database is a number "
            "(redis://host:6379/0)."
        )
    if parts.fragment:
        raise ConfigurationError(
            f"The Redis URL of the {what} has a #fragment, which means nothing."
        )
    found: dict[str, str] = {}
    kept: list[tuple[str, str]] = []
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        if name in own:
            found[name] = value
        elif name == "db" and database:
            raise ConfigurationError(
                f"The Redis URL of the {what} gives the database twice (/{database} and ?db=)."
            )
        else:
            kept.append((name, value))
    return urlunsplit(parts._replace(query=urlencode(kept))), found

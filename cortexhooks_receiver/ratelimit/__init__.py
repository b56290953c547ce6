"""Rate limiting before verification: token buckets over a small counter protocol.

``Receiver(rate_limit="200/s", rate_limit_per_client="50/s", rate_limit_store="memory://")``
checks every request against one bucket for the whole endpoint and one per client address before
anything else of the request is read (no HMAC is computed, the dedup store is never touched); a
request over either limit is answered 429 ``rate_limited`` with ``Retry-After``, which
CortexBuild retries.

A rate ``"N/s"`` (also ``/m``, ``/h``, or ``/10s``, ``/15min``...) is a bucket of ``N`` tokens
refilled at ``N`` per period: a burst of ``N`` requests is allowed, then ``N`` per period. A
request takes one token from each of its buckets, atomically, or none when one of them is empty;
``Retry-After`` is the time until every one of them holds a token again (whole seconds, at
least 1).

Backends implement :class:`Buckets` (``take`` and ``atake``): ``memory://`` is this process
(thread-safe, the per-client table bounded), ``redis://host:6379/0`` is shared by every process
of every host (one Lua script per request, one round trip). A limiter whose backend fails lets
the request through (and logs it): the dedup store, not the limiter, protects correctness.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from cortexhooks_receiver._urls import options, split_url, url_number
from cortexhooks_receiver.errors import ConfigurationError

from .base import Buckets, Rate, parse_rate, retry_after
from .memory import MemoryBuckets

__all__ = [
    "Buckets",
    "MemoryBuckets",
    "Rate",
    "RateLimiter",
    "open_buckets",
    "parse_rate",
]

_HINT: Final = "use memory:// or redis://host:6379/0"


def open_buckets(url: str | Buckets, clock: Callable[[], float] | None = None) -> Buckets:
    """Return the :class:`Buckets` a URL names: ``memory://`` or ``redis://host:6379/0``.

    ``memory://?max_clients=10000`` bounds the per-client table; ``redis://...?prefix=...``
    sets the key prefix (default ``cortexhooks:ratelimit:``). A :class:`Buckets` is returned
    unchanged. ``clock`` (seconds, monotonic) is the memory backend's, for tests.

    Raises:
        ConfigurationError: an unknown scheme or option, a bad number, an invalid Redis URL,
            or ``redis://`` without the ``redis`` extra.
    """
    if not isinstance(url, str):
        if not isinstance(url, Buckets):
            raise ConfigurationError(f"rate_limit_store takes a URL or Buckets, not {url!r}.")
        return url
    what = "rate limit store"
    scheme, rest = split_url(url, what, _HINT)
    if scheme == "memory":
        location, _, query = rest.partition("?")
        if location.strip("/"):
            raise ConfigurationError("The memory:// rate limit store URL takes no host or path.")
        found = options(query, ("max_clients",), scheme, what)
        if "max_clients" in found:
            limit = int(url_number(found, "max_clients", int, what))
            return MemoryBuckets(max_buckets=limit, clock=clock)
        return MemoryBuckets(clock=clock)
    if scheme in ("redis", "rediss"):
        from .redis import RedisBuckets

        return RedisBuckets.from_url(url)
    raise ConfigurationError(f"Unknown rate limit store URL scheme {scheme!r}; {_HINT}.")


class RateLimiter:
    """The limits of one receiver: the buckets each request draws from, and their backend.

    Args:
        rate_limit: the whole endpoint's rate (``"200/s"``), or ``None``.
        per_client: each client address's rate (``"50/s"``), or ``None``. Requests whose
            client the adapter could not tell share one bucket.
        store: ``"memory://"``, ``"redis://..."`` or a :class:`Buckets`.
        clock: the memory backend's clock (seconds), for tests.

    Raises:
        ConfigurationError: no rate at all, a rate that does not parse, or a bad store.
    """

    __slots__ = ("_client_rate", "_global", "_shared", "buckets", "inline")

    def __init__(
        self,
        rate_limit: str | Rate | None,
        per_client: str | Rate | None,
        store: str | Buckets = "memory://",
        clock: Callable[[], float] | None = None,
    ) -> None:
        if rate_limit is None and per_client is None:
            raise ConfigurationError("A rate limiter needs rate_limit or rate_limit_per_client.")
        self._global = None if rate_limit is None else ("g", parse_rate(rate_limit))
        self._client_rate = None if per_client is None else parse_rate(per_client)
        self._shared = () if self._global is None else (self._global,)  # every request's
        self.buckets = open_buckets(store, clock)
        # In this process, never blocks nor fails: the pipeline calls it directly.
        self.inline = type(self.buckets) is MemoryBuckets

    def __repr__(self) -> str:
        rates = [
            f"{name}={rate}"
            for name, rate in (
                ("rate_limit", self._global and self._global[1]),
                ("per_client", self._client_rate),
            )
            if rate
        ]
        return f"RateLimiter({', '.join(rates)}, {type(self.buckets).__name__})"

    def buckets_of(self, client: str | None) -> tuple[tuple[str, Rate], ...]:
        """The named buckets a request from ``client`` takes a token from. Never raises."""
        client_rate = self._client_rate
        if client_rate is None:
            return self._shared
        own = ("c:" + (client or "?"), client_rate)
        return (*self._shared, own)

    def check(self, client: str | None) -> int:
        """Take a request's tokens; return 0, or the ``Retry-After`` seconds when over a limit.

        Raises:
            Exception: the backend failed.
        """
        client_rate = self._client_rate  # buckets_of(), inlined: this is every request's path
        if client_rate is None:
            wait = self.buckets.take(self._shared)
        else:
            own = ("c:" + (client or "?"), client_rate)
            endpoint = self._global
            wait = self.buckets.take((own,) if endpoint is None else (endpoint, own))
        return 0 if wait <= 0.0 else retry_after(wait)

    async def acheck(self, client: str | None) -> int:
        """Coroutine form of :meth:`check`.

        Raises:
            Exception: the backend failed.
        """
        return retry_after(await self.buckets.atake(self.buckets_of(client)))

"""Token buckets in Redis, shared by every process of every host (the ``redis`` extra).

One Lua script per request (one round trip) reads every bucket the request draws from, refills
them by the time elapsed on the **server's** clock (``TIME``: hosts need not agree on the time),
and takes a token from each, or from none. A bucket is one key, ``"<tokens> <ms>"``, expiring
once it would be full again (idle clients cost nothing). Every key carries the prefix's hash tag,
so the script's keys share a slot on Redis Cluster.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final

from cortexhooks_receiver._redis import (
    DEFAULT_SOCKET_TIMEOUT,
    client_from_url,
    hash_tagged,
    import_redis,
)
from cortexhooks_receiver._redis_loops import LoopScripts
from cortexhooks_receiver._urls import redis_url

from .base import Rate

if TYPE_CHECKING:
    import redis as redis_lib

__all__ = ["DEFAULT_PREFIX", "RedisBuckets"]

DEFAULT_PREFIX: Final = "cortexhooks:ratelimit:"

_TAKE: Final = """
if redis.replicate_commands then redis.replicate_commands() end
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + tonumber(time[2]) / 1000
local wait = 0
local levels = {}
for i = 1, #KEYS do
  local capacity = tonumber(ARGV[2 * i - 1])
  local per_ms = tonumber(ARGV[2 * i])
  local tokens = capacity
  local state = redis.call('GET', KEYS[i])
  if state then
    local level, since = string.match(state, '^(%S+) (%S+)$')
    tokens = math.min(capacity, tonumber(level) + (now - tonumber(since)) * per_ms)
  end
  if tokens < 1 then wait = math.max(wait, (1 - tokens) / per_ms) end
  levels[i] = tokens
end
if wait > 0 then return tostring(wait) end
for i = 1, #KEYS do
  local capacity = tonumber(ARGV[2 * i - 1])
  local per_ms = tonumber(ARGV[2 * i])
  local state = string.format('%.17g %.17g', levels[i] - 1, now)
  redis.call('SET', KEYS[i], state, 'PX', math.ceil(capacity / per_ms) + 1000)
end
return '0'
"""


class RedisBuckets:
    """Named token buckets in Redis (see the module docs).

    Args:
        url_or_client: a ``redis://`` / ``rediss://`` URL, or a ``redis.Redis`` client.
        prefix: prepended to every key; wrapped in ``{}`` when it holds no hash tag.
        async_client: a ``redis.asyncio`` client for :meth:`atake`; by default one is created
            from the URL in each event loop (given a client and no ``async_client``, ``atake``
            runs ``take`` in a thread).
        socket_timeout: seconds a URL-created client waits to connect or for a reply.

    No connection is made until the first call.

    Raises:
        ConfigurationError: the redis package is missing, the URL is invalid, or ``prefix`` is
            empty.
    """

    def __init__(
        self,
        url_or_client: str | redis_lib.Redis,
        *,
        prefix: str = DEFAULT_PREFIX,
        async_client: Any = None,
        socket_timeout: float = DEFAULT_SOCKET_TIMEOUT,
    ) -> None:
        redis = import_redis("The Redis rate limit store")
        self.prefix = hash_tagged(prefix)
        self._url = url_or_client if isinstance(url_or_client, str) else None
        self.client: redis_lib.Redis = (
            client_from_url(redis, url_or_client, socket_timeout, "the rate limit store")
            if isinstance(url_or_client, str)
            else url_or_client
        )
        self._take = self.client.register_script(_TAKE)
        self._loop_scripts = LoopScripts((_TAKE,), self._url, socket_timeout, async_client)

    @classmethod
    def from_url(cls, url: str) -> RedisBuckets:
        """Return the buckets of a ``redis://...[?prefix=...]`` URL (other options: redis-py's).

        Raises:
            ConfigurationError: see the class.
        """
        client_url, found = redis_url(url, ("prefix",), "rate limit store")
        return cls(client_url, prefix=found.get("prefix", DEFAULT_PREFIX))

    def __repr__(self) -> str:
        return f"RedisBuckets(prefix={self.prefix!r})"

    def _arguments(self, buckets: Sequence[tuple[str, Rate]]) -> tuple[list[str], list[float]]:
        keys = [self.prefix + name for name, _ in buckets]
        args: list[float] = []
        for _, (capacity, per_second) in buckets:
            args += (capacity, per_second / 1000)
        return keys, args

    def take(self, buckets: Sequence[tuple[str, Rate]]) -> float:
        """Take a token from every bucket, or none (one round trip); see :class:`Buckets`.

        Raises:
            redis.RedisError, OSError: Redis is unreachable or answered with an error.
        """
        keys, args = self._arguments(buckets)
        return float(self._take(keys, args)) / 1000

    async def atake(self, buckets: Sequence[tuple[str, Rate]]) -> float:
        """Coroutine form of :meth:`take`, on the asyncio client of the running loop.

        Raises:
            redis.RedisError, OSError: Redis is unreachable or answered with an error.
        """
        scripts = self._loop_scripts.get()
        if scripts is None:
            return await asyncio.to_thread(self.take, buckets)
        keys, args = self._arguments(buckets)
        return float(await scripts[0](keys, args)) / 1000

    def close(self) -> None:
        """Close the connections of a client created from the URL. Never raises."""
        if self._url is not None:
            with contextlib.suppress(Exception):  # closing is best effort
                self.client.close()
        self._loop_scripts.drop()

    async def aclose(self) -> None:
        """Close the async client created for the running loop. Never raises."""
        await self._loop_scripts.aclose()

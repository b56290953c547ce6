"""The Redis dedup store: one store shared by the receivers of many hosts (``redis`` extra).

Every step is one Lua script run with ``EVALSHA`` (redis-py's ``Script`` object loads the script
again when the server answers ``NOSCRIPT``, e.g. after a restart), so a processed delivery costs
exactly **two round trips**: ``claim`` and ``complete``. Scripts run atomically on the server:

* ``claim``: ``MGET`` the keys; any ``done`` -> DONE, any claim held by another token ->
  IN_PROGRESS, else ``SET key "c:<token>" PX lease`` for every key -> NEW.
* ``complete``: ``SET key "d" PX retention`` for every key.
* ``release``: delete each key whose value is still ``"c:<token>"`` (compare-and-delete).

Leases and retention are Redis' own key expiry (``PX``), measured by the server's clock: a claim
whose worker died simply disappears when its lease ends, and the next ``claim`` takes the
delivery over. No clean-up job is needed.

Redis Cluster. A script may only touch keys of one hash slot, and the two keys of a delivery
(``d:<delivery id>`` and ``b:<body digest>``) cannot share a per-delivery hash tag: each must be
found on its own, since a replay pairs the same body with a new delivery id. So every key of the
store carries one fixed hash tag: if ``prefix`` contains no ``{tag}``, it is wrapped as one
(``"cortexhooks:"`` gives keys like ``{cortexhooks:}d:<id>``). All dedup keys then live in one
slot: correct on a cluster, at the cost of not spreading the dedup load across shards (a few
hundred bytes per delivery; one shard handles tens of thousands of deliveries per second). A
prefix that already holds a hash tag (``"{hooks}:"``) is used as given.

The sync client (``redis.Redis``) serves ``claim``/``complete``/``release``; the asyncio client
(``redis.asyncio.Redis``) serves ``aclaim``/``acomplete``/``arelease`` natively. From a URL both
are created lazily, the async one per event loop (an asyncio connection belongs to one loop).
Given a sync client and no ``async_client``, the coroutine methods run the sync ones in a thread.

Any Redis failure (unreachable, timeout, an error reply) raises :class:`StoreError`; redis-py's
own exceptions never escape.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Final

from cortexhooks_receiver._redis import (
    DEFAULT_SOCKET_TIMEOUT,
    client_from_url,
    hash_tagged,
    import_redis,
)
from cortexhooks_receiver._redis_loops import LoopScripts

from .base import ClaimState, StoreError

if TYPE_CHECKING:
    import redis as redis_lib
    import redis.asyncio as redis_asyncio

__all__ = ["RedisStore"]

_CLAIM: Final = """
local values = redis.call('MGET', unpack(KEYS))
local held = false
for i = 1, #KEYS do
  local value = values[i]
  if value then
    if value == 'd' then return 2 end
    if value ~= ARGV[1] then held = true end
  end
end
if held then return 1 end
for i = 1, #KEYS do
  redis.call('SET', KEYS[i], ARGV[1], 'PX', ARGV[2])
end
return 0
"""
_COMPLETE: Final = """
for i = 1, #KEYS do
  redis.call('SET', KEYS[i], 'd', 'PX', ARGV[1])
end
return #KEYS
"""
_RELEASE: Final = """
local released = 0
for i = 1, #KEYS do
  if redis.call('GET', KEYS[i]) == ARGV[1] then
    redis.call('DEL', KEYS[i])
    released = released + 1
  end
end
return released
"""
_STATES: Final = (ClaimState.NEW, ClaimState.IN_PROGRESS, ClaimState.DONE)


def _ms(seconds: float) -> int:
    # PX needs a positive integer of milliseconds; round up so a lease is never shorter.
    return max(1, math.ceil(round(seconds * 1000, 6)))


class RedisStore:
    """A dedup store in Redis, shared by every process of every host that uses the same server.

    Args:
        url_or_client: a ``redis://`` / ``rediss://`` URL, or a ``redis.Redis`` (or
            ``redis.cluster.RedisCluster``) client you configured yourself.
        prefix: prepended to every key; wrapped in ``{}`` when it holds no hash tag (see the
            module docs on Redis Cluster).
        async_client: a ``redis.asyncio`` client for the coroutine methods; by default one is
            created from the URL on first use in each event loop.
        socket_timeout: seconds a URL-created client waits to connect or for a reply, unless the
            URL sets ``socket_timeout``/``socket_connect_timeout`` itself.

    No connection is made until the first call.

    Raises:
        ConfigurationError: the redis package is missing, the URL is not a valid Redis URL or
            has an option redis-py does not know, or ``prefix`` is empty.
    """

    def __init__(
        self,
        url_or_client: str | redis_lib.Redis,
        *,
        prefix: str = "cortexhooks:",
        async_client: redis_asyncio.Redis | None = None,
        socket_timeout: float = DEFAULT_SOCKET_TIMEOUT,
    ) -> None:
        redis = import_redis("The Redis dedup store")
        self._errors: tuple[type[BaseException], ...] = (redis.RedisError, OSError)
        self.prefix = hash_tagged(prefix)
        self._url: str | None = None
        self._socket_timeout = socket_timeout
        self._owns_client = isinstance(url_or_client, str)
        if isinstance(url_or_client, str):
            self._url = url_or_client
            client = client_from_url(redis, url_or_client, socket_timeout, "the dedup store")
        else:
            client = url_or_client
        self.client: redis_lib.Redis = client
        self._claim = client.register_script(_CLAIM)
        self._complete = client.register_script(_COMPLETE)
        self._release = client.register_script(_RELEASE)
        # The (claim, complete, release) scripts on the asyncio client of the running loop.
        self._loop_scripts = LoopScripts(
            (_CLAIM, _COMPLETE, _RELEASE), self._url, socket_timeout, async_client
        )

    def __repr__(self) -> str:
        return f"RedisStore(prefix={self.prefix!r})"

    def _keys(self, keys: Sequence[str]) -> list[str]:
        prefix = self.prefix
        return [prefix + key for key in keys]

    def _fail(self, exc: BaseException, action: str) -> StoreError:
        return StoreError(f"Redis dedup store failed to {action}: {type(exc).__name__}: {exc}")

    # -- sync -------------------------------------------------------------------------------

    def claim(self, keys: Sequence[str], lease: float, token: str) -> ClaimState:
        """Atomically claim ``keys`` for ``lease`` seconds with one script call (one round trip).

        Returns DONE if any key is done, IN_PROGRESS if any key is held by another token's
        unexpired claim, else NEW. Claiming again with the same token is NEW again.

        Raises:
            StoreError: Redis is unreachable, timed out or answered with an error.
        """
        try:
            result = self._claim(self._keys(keys), ("c:" + token, _ms(lease)))
        except self._errors as exc:
            raise self._fail(exc, "claim a delivery") from exc
        return _STATES[int(result)]

    def complete(self, keys: Sequence[str], retention: float, token: str) -> None:
        """Mark ``keys`` done for ``retention`` seconds with one script call (one round trip).

        Raises:
            StoreError: Redis is unreachable, timed out or answered with an error.
        """
        try:
            self._complete(self._keys(keys), (_ms(retention),))
        except self._errors as exc:
            raise self._fail(exc, "complete a delivery") from exc

    def release(self, keys: Sequence[str], token: str) -> None:
        """Delete the claims on ``keys`` still held by ``token`` (one round trip).

        Raises:
            StoreError: Redis is unreachable, timed out or answered with an error.
        """
        try:
            self._release(self._keys(keys), ("c:" + token,))
        except self._errors as exc:
            raise self._fail(exc, "release a claim") from exc

    def close(self) -> None:
        """Close the connections of clients this store created (not a client you passed in).

        A URL-created async client is dropped; await :meth:`aclose` inside its event loop to
        close it cleanly. Never raises.
        """
        if self._owns_client:
            with contextlib.suppress(*self._errors):
                self.client.close()
        self._loop_scripts.drop()

    # -- async ------------------------------------------------------------------------------

    async def aclaim(self, keys: Sequence[str], lease: float, token: str) -> ClaimState:
        """Coroutine form of :meth:`claim`, on the asyncio client (one round trip).

        Raises:
            StoreError: Redis is unreachable, timed out or answered with an error.
        """
        scripts = self._loop_scripts.get()
        if scripts is None:
            return await asyncio.to_thread(self.claim, keys, lease, token)
        try:
            result = await scripts[0](self._keys(keys), ("c:" + token, _ms(lease)))
        except self._errors as exc:
            raise self._fail(exc, "claim a delivery") from exc
        return _STATES[int(result)]

    async def acomplete(self, keys: Sequence[str], retention: float, token: str) -> None:
        """Coroutine form of :meth:`complete`, on the asyncio client (one round trip).

        Raises:
            StoreError: Redis is unreachable, timed out or answered with an error.
        """
        scripts = self._loop_scripts.get()
        if scripts is None:
            await asyncio.to_thread(self.complete, keys, retention, token)
            return
        try:
            await scripts[1](self._keys(keys), (_ms(retention),))
        except self._errors as exc:
            raise self._fail(exc, "complete a delivery") from exc

    async def arelease(self, keys: Sequence[str], token: str) -> None:
        """Coroutine form of :meth:`release`, on the asyncio client (one round trip).

        Raises:
            StoreError: Redis is unreachable, timed out or answered with an error.
        """
        scripts = self._loop_scripts.get()
        if scripts is None:
            await asyncio.to_thread(self.release, keys, token)
            return
        try:
            await scripts[2](self._keys(keys), ("c:" + token,))
        except self._errors as exc:
            raise self._fail(exc, "release a claim") from exc

    async def aclose(self) -> None:
        """Close the async client this store created for the running loop. Never raises.

        A client created in another event loop (already closed, typically) is only dropped:
        its sockets belong to that loop.
        """
        await self._loop_scripts.aclose()

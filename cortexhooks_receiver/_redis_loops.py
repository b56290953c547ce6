"""Async Redis scripts for the running event loop, shared by the Redis store and rate limiter.

An asyncio connection belongs to the event loop that opened it, so a client created from a URL is
made again in each loop that uses it. A client passed in is used as it is. Imported only with the
``redis`` extra.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

__all__ = ["LoopScripts"]


class LoopScripts:
    """Lua scripts registered on an asyncio Redis client of the running loop.

    Args:
        sources: the scripts' Lua source, in the order :meth:`get` returns them.
        url: the URL to create a client from in each loop, or ``None``.
        socket_timeout: seconds a created client waits to connect or for a reply.
        client: an asyncio client to use in every loop instead (the caller's to close).
    """

    __slots__ = ("_client", "_current", "_socket_timeout", "_sources", "_url")

    def __init__(
        self,
        sources: tuple[str, ...],
        url: str | None,
        socket_timeout: float,
        client: Any = None,
    ) -> None:
        self._sources = sources
        self._url = url
        self._socket_timeout = socket_timeout
        self._client = client
        # (its event loop, the client, its scripts); the loop is None for a client passed in.
        self._current: tuple[asyncio.AbstractEventLoop | None, Any, tuple[Any, ...]] | None = (
            None if client is None else (None, client, self._register(client))
        )

    def _register(self, client: Any) -> tuple[Any, ...]:
        return tuple(client.register_script(source) for source in self._sources)

    def get(self) -> tuple[Any, ...] | None:
        """The scripts for the running loop, or ``None`` when only a sync client is known.

        Raises:
            RuntimeError: no event loop is running.
        """
        current = self._current
        if self._client is not None:
            assert current is not None
            return current[2]
        if self._url is None:
            return None
        loop = asyncio.get_running_loop()
        if current is None or current[0] is not loop:
            import redis.asyncio

            client = redis.asyncio.Redis.from_url(
                self._url,
                socket_timeout=self._socket_timeout,
                socket_connect_timeout=self._socket_timeout,
            )
            current = self._current = (loop, client, self._register(client))
        return current[2]

    def drop(self) -> None:
        """Forget a client created from the URL (closing it needs its loop). Never raises."""
        if self._client is None:
            self._current = None

    async def aclose(self) -> None:
        """Close the client created for the running loop. Never raises.

        A client created in another event loop (already closed, typically) is only dropped: its
        sockets belong to that loop.
        """
        current = self._current
        if current is None or self._client is not None:
            return
        self._current = None
        if current[0] is not asyncio.get_running_loop():
            return
        with contextlib.suppress(Exception):
            await current[1].aclose()

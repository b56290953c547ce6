"""Crossing between sync and async code: run a coroutine from sync code, a call in a thread.

The one home of the package's thread helpers: the receiver's async driver runs sync handlers
with :func:`to_thread`, :class:`~cortexhooks_receiver.stores.SyncStoreAsAsync` runs blocking
store calls with it, and :func:`run_sync` awaits async handlers (and ASGI apps) from sync code.
asyncio is imported on first use: it costs a third of the package's import time.
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

__all__ = ["run_sync", "to_thread"]

_T = TypeVar("_T")


def run_sync(awaitable: Awaitable[_T], *, thread_name: str = "cortexhooks-run-sync") -> _T:
    """Await ``awaitable`` in a fresh event loop and return its result (or raise its exception).

    Without a running loop in this thread it uses :func:`asyncio.run` directly; inside one (sync
    code called from async code) it runs the loop in a helper thread and waits for it, because a
    thread can run only one loop at a time.
    """
    import asyncio

    async def main() -> _T:
        return await awaitable

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(main())
    result: list[Any] = []
    failure: list[BaseException] = []

    def worker() -> None:
        try:
            result.append(asyncio.run(main()))
        except BaseException as exc:
            failure.append(exc)

    thread = threading.Thread(target=worker, name=thread_name)
    thread.start()
    thread.join()
    if failure:
        raise failure[0]
    value: _T = result[0]
    return value


async def to_thread(func: Callable[..., _T], *args: Any) -> _T:
    """Run ``func(*args)`` in the default thread pool without blocking the event loop.

    Raises:
        Whatever ``func`` raises.
    """
    from asyncio import to_thread as _to_thread

    return await _to_thread(func, *args)

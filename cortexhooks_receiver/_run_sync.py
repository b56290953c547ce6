"""Run a coroutine to completion from synchronous code, whether or not a loop is running."""

from __future__ import annotations

import threading
from collections.abc import Awaitable
from typing import Any, TypeVar

__all__ = ["run_sync"]

_T = TypeVar("_T")


def run_sync(awaitable: Awaitable[_T], *, thread_name: str = "cortexhooks-run-sync") -> _T:
    """Await ``awaitable`` in a fresh event loop and return its result (or raise its exception).

    Without a running loop in this thread it uses :func:`asyncio.run` directly; inside one (sync
    code called from async code) it runs the loop in a helper thread and waits for it, because a
    thread can run only one loop at a time.
    """
    import asyncio  # imported on first use: it costs a third of the package's import time

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

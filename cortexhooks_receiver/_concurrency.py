"""Crossing between sync and async code: run a coroutine from sync code, a call in a thread.

The one home of the package's thread helpers: the receiver's async driver runs sync handlers
with :func:`to_thread`, :class:`~cortexhooks_receiver.stores.SyncStoreAsAsync` runs blocking
store calls with it, and :func:`run_sync` awaits async handlers (and ASGI apps) from sync code.
asyncio is imported on first use: it costs a third of the package's import time.
"""

from __future__ import annotations

import atexit
import contextvars
import os
import threading
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

__all__ = ["run_sync", "to_thread"]

_T = TypeVar("_T")


def run_sync(awaitable: Awaitable[_T]) -> _T:
    """Await ``awaitable`` from sync code and return its result (or raise its exception).

    Without an event loop running in this thread, the coroutine is first stepped directly, with
    this thread's persistent loop set as the running loop: one that finishes without suspending
    (the common handler) needs no loop iteration at all. One that suspends is continued on that
    same loop, which lives as long as the thread (never one loop per call); tasks it leaves
    behind are cancelled when it returns, as :func:`asyncio.run` would.

    Inside a running loop (sync code called from async code) the coroutine runs on a persistent
    helper thread's loop, and this thread waits for it.

    Raises:
        Whatever ``awaitable`` raises.
    """
    import asyncio

    coro: Coroutine[Any, Any, _T] = (
        awaitable if isinstance(awaitable, Coroutine) else _await(awaitable)
    )
    if asyncio.events._get_running_loop() is not None:
        done: _T = _helper_loop().run(coro)
        return done
    loop = _thread_loop()
    context = contextvars.copy_context()  # the coroutine's context variables stay its own
    asyncio.events._set_running_loop(loop)
    try:
        pending = context.run(coro.send, None)
    except StopIteration as stop:
        result: _T = stop.value
        return result
    except BaseException:
        coro.close()
        raise
    finally:
        asyncio.events._set_running_loop(None)
    finished: _T = _finish_on(loop, _continue(coro, pending), context)
    return finished


async def _await(awaitable: Awaitable[_T]) -> _T:
    return await awaitable


def _continue(coro: Any, pending: Any) -> Any:
    # The coroutine was stepped once outside any task and yielded ``pending`` (a future of this
    # loop, or None for a bare yield): a task waits for it, then the coroutine resumes as if it
    # had run in that task all along.
    import types

    @types.coroutine
    def resume() -> Any:
        yield pending
        return (yield from coro)

    return resume()


def _finish_on(loop: Any, coro: Any, context: contextvars.Context) -> Any:
    import asyncio

    task = loop.create_task(coro, context=context)
    try:
        return loop.run_until_complete(task)
    finally:
        # What the handler left running is cancelled, as asyncio.run does.
        leftovers = [t for t in asyncio.all_tasks(loop) if not t.done()]
        for leftover in leftovers:
            leftover.cancel()
        if leftovers:
            loop.run_until_complete(asyncio.gather(*leftovers, return_exceptions=True))


class _LoopHolder:
    """Owns one thread's loop; closing it when the thread's locals go (no unclosed-loop warning)."""

    __slots__ = ("loop",)

    def __init__(self) -> None:
        import asyncio

        self.loop = asyncio.new_event_loop()

    def close(self) -> None:
        loop = self.loop
        if not loop.is_closed() and not loop.is_running():
            loop.close()

    __del__ = close


_local = threading.local()


def _thread_loop() -> Any:
    holder: _LoopHolder | None = getattr(_local, "holder", None)
    if holder is None or holder.loop.is_closed():
        holder = _local.holder = _LoopHolder()
    return holder.loop


class _HelperLoop:
    """A loop running forever in a daemon thread, for sync code that a running loop called."""

    def __init__(self) -> None:
        import asyncio

        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(
            target=self.loop.run_forever, name="cortexhooks-run-sync", daemon=True
        )
        self.thread.start()

    def run(self, coro: Any) -> Any:
        import asyncio

        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()


_helper: _HelperLoop | None = None
_helper_lock = threading.Lock()


def _helper_loop() -> _HelperLoop:
    global _helper
    with _helper_lock:
        if _helper is None:
            _helper = _HelperLoop()
        return _helper


def _close_this_threads_loop() -> None:
    # At exit, in the main thread: its loop is closed while asyncio can still close it.
    holder: _LoopHolder | None = getattr(_local, "holder", None)
    if holder is not None:
        del _local.holder
        holder.close()


atexit.register(_close_this_threads_loop)


def _after_fork_in_child() -> None:
    # Neither a loop's selector nor a thread crosses a fork: the child makes its own.
    global _local, _helper, _helper_lock
    _local = threading.local()
    _helper = None
    _helper_lock = threading.Lock()


os.register_at_fork(after_in_child=_after_fork_in_child)


async def to_thread(func: Callable[..., _T], *args: Any) -> _T:
    """Run ``func(*args)`` in the default thread pool without blocking the event loop.

    Raises:
        Whatever ``func`` raises.
    """
    from asyncio import to_thread as _to_thread

    return await _to_thread(func, *args)

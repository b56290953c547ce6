"""Crossing between sync and async code: run a coroutine from sync code, a call in a thread.

The one home of the package's thread helpers: :func:`is_async_callable` tells which user
functions (handlers, hooks, secret lookups) must be awaited, the receiver's async driver runs
sync handlers with :func:`to_thread`, :class:`~cortexhooks_receiver.stores.SyncStoreAsAsync` runs
blocking store calls with it, and :func:`run_sync` awaits async handlers (and ASGI apps) from
sync code. asyncio is imported on first use: it costs a third of the package's import time.
"""

from __future__ import annotations

import atexit
import contextvars
import functools
import inspect
import os
import threading
import types
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar, cast

__all__ = ["is_async_callable", "run_sync", "to_thread"]

_T = TypeVar("_T")


def run_sync(awaitable: Awaitable[_T]) -> _T:
    """Await ``awaitable`` from sync code and return its result (or raise its exception).

    Without an event loop running in this thread, the coroutine's first step runs at once, with
    this thread's persistent loop as the running loop (never one loop per call) and a stand-in
    for its task as the current task (``asyncio.timeout`` and task groups work): one that
    finishes without suspending (the common handler) needs no task and no loop iteration at
    all. One that suspends is continued by that loop in a real task, which the stand-in then
    forwards to (a timeout entered in the first step cancels the real task). Tasks it leaves
    behind are cancelled when it returns, as :func:`asyncio.run` would, and its context
    variables are its own.

    Inside a running loop (sync code called from async code) the coroutine runs on a persistent
    helper thread's loop, and this thread waits for it.

    Raises:
        Whatever ``awaitable`` raises.
    """
    coro: Coroutine[Any, Any, _T] = (
        cast("Coroutine[Any, Any, _T]", awaitable)
        if type(awaitable) is _CoroutineType or isinstance(awaitable, Coroutine)
        else _await(awaitable)
    )
    api = _asyncio_api or _bind_asyncio()
    get_running_loop, set_running_loop, enter_task, leave_task = api
    if get_running_loop() is not None:
        done: _T = _helper_loop().run(coro)
        return done
    holder = _thread_holder()
    loop: Any = holder.loop
    stand_in = holder.stand_in
    context = _copy_context()
    set_running_loop(loop)
    enter_task(loop, stand_in)
    try:
        pending = context.run(coro.send, None)
    except BaseException as exc:
        ended: BaseException | None = exc  # finished (StopIteration) or failed at once
    else:
        ended = None
    finally:
        leave_task(loop, stand_in)
        set_running_loop(None)
    if ended is not None:
        if stand_in._cancelling:  # a cancel asked of the first step: the next call's is fresh
            stand_in._cancelling = 0
            stand_in._cancel_message = None
        if loop._ready or loop._scheduled:  # it left something behind: cancel and run it out
            _settle(loop)
        # ``ended`` holds this frame (through its traceback): let go of it before leaving, or
        # every call would leave a reference cycle for the garbage collector.
        try:
            if type(ended) is StopIteration:
                result: _T = ended.value
                return result
            raise ended
        finally:
            ended = None
    # It suspended: a real task continues it, and the stand-in is that task's from now on.
    holder.stand_in = _FirstStep(loop)
    task = _task_after_first_step(coro, pending, loop, context)
    stand_in.became(task)
    try:
        finished: _T = loop.run_until_complete(task)
        return finished
    finally:
        _settle(loop)


_CoroutineType: Any = types.CoroutineType
_copy_context = contextvars.copy_context
# asyncio's get/set of the running loop and enter/leave of the current task, bound on first use:
# importing asyncio costs a third of the package's import time.
_asyncio_api: tuple[Any, Any, Any, Any] | None = None


def _bind_asyncio() -> tuple[Any, Any, Any, Any]:
    global _asyncio_api
    import asyncio

    _asyncio_api = (
        asyncio.events._get_running_loop,
        asyncio.events._set_running_loop,
        asyncio.tasks._enter_task,
        asyncio.tasks._leave_task,
    )
    return _asyncio_api


def _task_after_first_step(coro: Any, pending: Any, loop: Any, context: contextvars.Context) -> Any:
    """The task that continues ``coro`` after its first step yielded ``pending``."""
    import asyncio

    return asyncio.Task(_resume(coro, pending), loop=loop, context=context)


class _FirstStep:
    """The current task while a coroutine takes its first step, before any task exists.

    What asyncio asks of the current task there (``asyncio.timeout``, ``TaskGroup``): its loop,
    and its cancel count. If the coroutine suspends, a real task continues it, and everything
    that kept this stand-in (a timeout's expiry) is forwarded to that task.
    """

    __slots__ = ("_cancel_message", "_cancelling", "_loop", "_task")

    def __init__(self, loop: Any) -> None:
        self._loop = loop
        self._task: Any = None
        self._cancelling = 0
        self._cancel_message: Any = None

    def became(self, task: Any) -> None:
        self._task = task
        for _ in range(self._cancelling):  # asked before the task existed: the task owes it
            task.cancel(self._cancel_message)

    def get_loop(self) -> Any:
        return self._loop

    def done(self) -> bool:
        return False if self._task is None else bool(self._task.done())

    def cancel(self, msg: Any = None) -> bool:
        if self._task is not None:
            return bool(self._task.cancel(msg))
        self._cancelling += 1
        self._cancel_message = msg
        return True

    def cancelling(self) -> int:
        return self._cancelling if self._task is None else int(self._task.cancelling())

    def uncancel(self) -> int:
        if self._task is not None:
            return int(self._task.uncancel())
        if self._cancelling:
            self._cancelling -= 1
        return self._cancelling

    def get_name(self) -> str:
        return "cortexhooks-first-step" if self._task is None else str(self._task.get_name())


async def _await(awaitable: Awaitable[_T]) -> _T:
    return await awaitable


def _resume(coro: Any, first: Any) -> Any:
    # The task's coroutine: the first step of ``coro`` already ran (eagerly, before the task)
    # and yielded ``first`` (a future of this loop, or None for a bare yield). From there on this
    # does what ``yield from coro`` would: what the task sends or throws (a cancellation, say)
    # goes into ``coro`` at the point where it waits.
    import types

    @types.coroutine
    def resume() -> Any:
        pending = first
        while True:
            try:
                sent = yield pending
            except GeneratorExit:
                coro.close()
                raise
            except BaseException as exc:
                try:
                    pending = coro.throw(exc)
                except StopIteration as stop:
                    return stop.value
            else:
                try:
                    pending = coro.send(sent)
                except StopIteration as stop:
                    return stop.value

    return resume()


def _settle(loop: Any) -> None:
    # What the coroutine left behind (tasks, callbacks, cancelled timers) is cancelled and run
    # out, as asyncio.run does.
    import asyncio

    leftovers = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for leftover in leftovers:
        leftover.cancel()
    loop.run_until_complete(_gathered(leftovers))


async def _gathered(tasks: list[Any]) -> None:
    # Created by this loop's run_until_complete, so gather() finds this loop even with no tasks.
    import asyncio

    await asyncio.gather(*tasks, return_exceptions=True)


class _LoopHolder:
    """Owns one thread's loop; closing it when the thread's locals go (no unclosed-loop warning).

    With it, the stand-in task of :func:`run_sync`'s first steps, reused from one to the next
    until one suspends (that one's stand-in then belongs to its real task).
    """

    __slots__ = ("loop", "stand_in")

    def __init__(self) -> None:
        import asyncio

        self.loop = asyncio.new_event_loop()
        self.stand_in = _FirstStep(self.loop)

    def close(self) -> None:
        loop = self.loop
        if not loop.is_closed() and not loop.is_running():
            loop.close()

    __del__ = close


_local = threading.local()


def _thread_holder() -> _LoopHolder:
    # This thread's loop (and first-step stand-in), made on first use or when it was closed.
    holder: _LoopHolder | None = getattr(_local, "holder", None)
    if holder is None or holder.loop.is_closed():
        holder = _local.holder = _LoopHolder()
    return holder


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


def is_async_callable(func: object) -> bool:
    """Return whether calling ``func`` returns a coroutine .

    ``async def`` functions, ``functools.partial`` of them and objects whose ``__call__`` is
    ``async def``. Never raises.
    """
    while isinstance(func, functools.partial):
        func = func.func
    if inspect.iscoroutinefunction(func):
        return True
    if inspect.isroutine(func) or isinstance(func, type):
        return False
    call = getattr(func, "__call__", None)  # noqa: B004 - a callable instance's own __call__
    return call is not None and inspect.iscoroutinefunction(call)

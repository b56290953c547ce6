"""Async handlers under the sync ``handle``: no event loop per call, same semantics as before.

A coroutine that finishes without suspending needs no loop at all; one that suspends continues on
a loop that lives as long as its thread. Exceptions propagate, tasks a handler leaves behind are
cancelled when it returns (as ``asyncio.run`` does), context variables stay the handler's, and
it all works from inside a running loop, in many threads, under gunicorn's threads and after a fork.
"""

from __future__ import annotations

import asyncio
import contextvars
import http.client
import json
import os
import socket
import subprocess
import sys
import textwrap
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

import cortexhooks_receiver as ch
from cortexhooks_receiver import _concurrency

SECRET = "whsec_async_from_sync_0123456789abcd"
NOW = 1_767_225_600.0
NOW_MS = int(NOW * 1000)
_serial = iter(range(10**9))


def _delivery() -> tuple[bytes, dict[str, str]]:
    n = next(_serial)
    body = b'{"event":"task.created","timestamp":%d,"data":{"id":"t-%d"}}' % (NOW_MS, n)
    return body, ch.sign(body, SECRET, timestamp=NOW_MS, delivery_id=f"dlv_{n}")


def _receiver() -> ch.Receiver:
    return ch.Receiver(SECRET, now=lambda: NOW, router=ch.Router())


def test_a_handler_that_never_suspends_runs_without_a_loop_iteration(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    receiver = _receiver()
    seen: list[str] = []

    @receiver.on("task.created")
    async def quick(event: Any) -> None:
        seen.append(asyncio.get_running_loop().__class__.__name__)  # a running loop is visible

    iterations: list[int] = []
    real = asyncio.BaseEventLoop.run_until_complete
    monkeypatch.setattr(
        asyncio.BaseEventLoop,
        "run_until_complete",
        lambda self, future: iterations.append(1) or real(self, future),
    )
    for _ in range(3):
        assert receiver.handle(*_delivery()).status == 200
    assert len(seen) == 3
    assert iterations == []


def test_a_handler_that_suspends_continues_on_one_persistent_loop_per_thread() -> None:
    receiver = _receiver()
    loops: list[asyncio.AbstractEventLoop] = []

    @receiver.on("task.created")
    async def slow(event: Any) -> None:
        await asyncio.sleep(0)  # a real suspension
        future = asyncio.get_running_loop().create_future()
        asyncio.get_running_loop().call_soon(future.set_result, "x")
        assert await future == "x"
        loops.append(asyncio.get_running_loop())

    for _ in range(3):
        assert receiver.handle(*_delivery()).status == 200
    assert len(loops) == 3
    assert len({id(loop) for loop in loops}) == 1
    assert not loops[0].is_closed()


@pytest.mark.parametrize("suspends", [False, True])
def test_a_handler_exception_is_a_handler_error_and_the_retry_runs_again(suspends: bool) -> None:
    receiver = _receiver()
    calls: list[int] = []

    @receiver.on("task.created")
    async def flaky(event: Any) -> None:
        calls.append(1)
        if suspends:
            await asyncio.sleep(0)
        if len(calls) == 1:
            raise ValueError("boom")

    body, headers = _delivery()
    assert receiver.handle(body, headers).status == 500
    assert receiver.handle(body, headers).status == 200
    assert len(calls) == 2


def test_run_sync_raises_what_the_coroutine_raises_and_cancels_what_it_left_running() -> None:
    cancelled = threading.Event()

    async def background() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    async def leaves_a_task() -> str:
        asyncio.get_running_loop().create_task(background())
        await asyncio.sleep(0)
        return "done"

    assert _concurrency.run_sync(leaves_a_task()) == "done"
    assert cancelled.is_set()

    async def fails() -> None:
        await asyncio.sleep(0)
        raise KeyError("k")

    with pytest.raises(KeyError):
        _concurrency.run_sync(fails())


def test_context_variables_set_by_a_handler_stay_its_own() -> None:
    var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="caller")

    async def sets(suspend: bool) -> str:
        var.set("handler")
        if suspend:
            await asyncio.sleep(0)
        return var.get()

    assert _concurrency.run_sync(sets(False)) == "handler"
    assert _concurrency.run_sync(sets(True)) == "handler"
    assert var.get() == "caller"


def test_sync_handle_called_from_inside_a_running_loop_still_works() -> None:
    receiver = _receiver()
    runs: list[int] = []

    @receiver.on("task.created")
    async def handler(event: Any) -> None:
        await asyncio.sleep(0)
        runs.append(1)

    async def main() -> int:
        return receiver.handle(*_delivery()).status  # sync code under a running loop

    assert asyncio.run(main()) == 200
    assert runs == [1]


def test_many_threads_each_get_their_own_loop() -> None:
    receiver = _receiver()
    loops: set[int] = set()
    lock = threading.Lock()

    @receiver.on("task.created")
    async def handler(event: Any) -> None:
        await asyncio.sleep(0)
        with lock:
            loops.add(id(asyncio.get_running_loop()))

    deliveries = [_delivery() for _ in range(40)]
    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(lambda d: receiver.handle(*d).status, deliveries))
    assert statuses == [200] * 40
    assert 1 < len(loops) <= 8


def test_a_forked_child_makes_its_own_loop() -> None:
    receiver = _receiver()

    @receiver.on("task.created")
    async def handler(event: Any) -> None:
        await asyncio.sleep(0)

    assert receiver.handle(*_delivery()).status == 200  # the parent's loop exists now
    delivery = _delivery()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(read_end)
            status = receiver.handle(*delivery).status
            os.write(write_end, str(status).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        assert pipe.read() == b"200"
    os.waitpid(pid, 0)
    assert receiver.handle(*_delivery()).status == 200  # and the parent's still works


APP = textwrap.dedent(
    """
    import asyncio, os
    import cortexhooks_receiver as ch
    from cortexhooks_receiver.integrations.wsgi import WebhookApp

    receiver = ch.Receiver(os.environ["CORTEXBUILD_WEBHOOK_SECRET"], router=ch.Router())

    @receiver.on("task.created")
    async def handler(event):
        await asyncio.sleep(0)
        with open(os.environ["HANDLED_LOG"], "a") as log:
            log.write(event.delivery_id + "\\n")

    application = WebhookApp(receiver)
    """
)


@pytest.mark.e2e
def test_async_handlers_under_gunicorn_threads(tmp_path: Path) -> None:
    (tmp_path / "threaded_app.py").write_text(APP)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = tmp_path / "handled.log"
    env = {**os.environ, "CORTEXBUILD_WEBHOOK_SECRET": SECRET, "HANDLED_LOG": str(log)}
    env["HOME"] = str(tmp_path)  # gunicorn keeps a control socket under ~/.gunicorn
    argv = [str(Path(sys.executable).parent / "gunicorn"), "--bind", f"127.0.0.1:{port}"]
    argv += ["--workers", "1", "--threads", "4", "--chdir", str(tmp_path)]
    proc = subprocess.Popen(
        [*argv, "threaded_app:application"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        _wait_for_port(port, proc)

        def post(n: int) -> int:
            body = b'{"event":"task.created","timestamp":%d,"data":{"id":"g-%d"}}' % (
                ch.signature.now_ms(),
                n,
            )
            headers = ch.sign(body, SECRET, delivery_id=f"dlv_g{n}")
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            try:
                connection.request("POST", "/", body=body, headers=headers)
                response = connection.getresponse()
                assert json.loads(response.read())["received"] is True
                return response.status
            finally:
                connection.close()

        with ThreadPoolExecutor(8) as pool:
            assert list(pool.map(post, range(24))) == [200] * 24
        assert sorted(log.read_text().split()) == sorted(f"dlv_g{n}" for n in range(24))
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(timeout=20)


def _wait_for_port(port: int, proc: subprocess.Popen[bytes]) -> None:
    import time

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert proc.poll() is None, "gunicorn exited"
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)  # readiness poll interval, bounded by the deadline
    raise AssertionError("gunicorn did not start in time")


def test_a_handler_runs_inside_a_task_so_timeouts_and_task_groups_work() -> None:
    async def uses_task_apis(suspend: bool) -> bool:
        assert asyncio.current_task() is not None
        async with asyncio.timeout(5):
            if suspend:
                await asyncio.sleep(0)
        async with asyncio.TaskGroup() as group:
            child = group.create_task(asyncio.sleep(0, result=True))
        return child.result()

    assert _concurrency.run_sync(uses_task_apis(False)) is True
    assert _concurrency.run_sync(uses_task_apis(True)) is True


def test_a_timeout_that_fires_after_a_suspension_reaches_the_handler() -> None:
    cancelled: list[bool] = []

    async def waits_forever() -> None:
        try:
            async with asyncio.timeout(0.01):  # the loop's own timer, not a sleep in the test
                await asyncio.Event().wait()
        except TimeoutError:
            cancelled.append(True)
            raise

    with pytest.raises(TimeoutError):
        _concurrency.run_sync(waits_forever())
    assert cancelled == [True]
    assert _concurrency.run_sync(asyncio.sleep(0, result="still usable")) == "still usable"


def test_finished_fast_paths_leave_no_task_behind() -> None:
    async def quick() -> int:
        return 1

    for _ in range(50):
        assert _concurrency.run_sync(quick()) == 1
    loop = _concurrency._thread_holder().loop
    assert [t for t in asyncio.all_tasks(loop) if not t.done()] == []
    assert not loop._ready

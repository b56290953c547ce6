"""Exactly-once processing with real worker processes: concurrency, crashes and retries.

Each test starts real processes that share one SQLite file or the real Redis, the way gunicorn
workers do, and counts handler runs in a file the handlers append to.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

import cortexhooks_receiver as ch

SECRET = "whsec_K2Fj8sL3mN9pQ4rT7vX1yZ5bC6dE8fG"
PROCESSES = 4
COPIES = 50


def _body() -> bytes:
    return json.dumps(
        {
            "event": "invoice.paid",
            "timestamp": int(time.time() * 1000),
            "data": {"id": f"inv-{uuid.uuid4().hex[:8]}", "amount": 1250.5},
            "companyId": "comp-1",
            "userId": "user-1",
        },
        separators=(",", ":"),
    ).encode()


def _receiver(
    store: Any, runs: Path, *, fail_first: int = 0, hang: Path | None = None
) -> ch.Receiver:
    receiver = ch.Receiver(SECRET, store=store, router=ch.Router(), lease=30)

    @receiver.on("invoice.paid")
    def record(event: Any) -> None:
        if hang is not None:
            hang.write_text("started")
            while True:  # the worker is killed here, holding the claim
                time.sleep(0.05)
        with runs.open("a") as f:
            f.write(f"{os.getpid()}\n")
        time.sleep(0.02)  # hold the claim a little so that copies really overlap
        attempts = len(runs.read_text().splitlines())
        if attempts <= fail_first:
            raise RuntimeError("transient failure")

    return receiver


def _worker(
    store: str,
    runs: str,
    body: bytes,
    headers: dict[str, str],
    copies: int,
    barrier: Any,
    results: Any,
) -> None:
    receiver = _receiver(store, Path(runs))
    barrier.wait(timeout=30)
    with ThreadPoolExecutor(max_workers=copies) as pool:
        statuses = list(pool.map(lambda _: receiver.handle(body, headers).status, range(copies)))
    results.put(statuses)


def _run_concurrently(store: str, tmp_path: Path) -> tuple[list[int], Path, bytes, dict[str, str]]:
    runs = tmp_path / "runs.txt"
    runs.touch()
    body = _body()
    headers = ch.sign(body, SECRET, delivery_id=f"dlv_{uuid.uuid4().hex}")
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(PROCESSES)
    results = ctx.Queue()
    per_process = [COPIES // PROCESSES + (i < COPIES % PROCESSES) for i in range(PROCESSES)]
    procs = [
        ctx.Process(target=_worker, args=(store, str(runs), body, headers, n, barrier, results))
        for n in per_process
    ]
    for p in procs:
        p.start()
    statuses: list[int] = []
    for _ in procs:
        statuses += results.get(timeout=60)
    for p in procs:
        p.join(timeout=30)
        assert p.exitcode == 0
    return statuses, runs, body, headers


def _assert_exactly_once(statuses: list[int], runs: Path, retry: Callable[[], ch.Outcome]) -> None:
    assert len(statuses) == COPIES
    assert set(statuses) <= {200, 409}
    assert len(runs.read_text().splitlines()) == 1
    # every copy that was told to come back later now sees a duplicate
    for _ in range(statuses.count(409)):
        assert retry().duplicate


def test_fifty_concurrent_copies_on_one_sqlite_file_run_the_handler_once(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'dedup.db'}"
    statuses, runs, body, headers = _run_concurrently(store, tmp_path)
    receiver = _receiver(store, runs)
    _assert_exactly_once(statuses, runs, lambda: receiver.handle(body, headers))


@pytest.mark.redis
def test_fifty_concurrent_copies_on_redis_run_the_handler_once(
    tmp_path: Path, redis_url: str
) -> None:
    sep = "&" if "?" in redis_url else "?"
    store = f"{redis_url}{sep}prefix=test-{uuid.uuid4().hex}:"
    statuses, runs, body, headers = _run_concurrently(store, tmp_path)
    receiver = _receiver(store, runs)
    _assert_exactly_once(statuses, runs, lambda: receiver.handle(body, headers))


def _crashing_worker(
    store: str, runs: str, hang: str, body: bytes, headers: dict[str, str]
) -> None:
    _receiver(store, Path(runs), hang=Path(hang)).handle(body, headers)


def test_worker_killed_mid_handler_is_taken_over_after_the_lease(tmp_path: Path) -> None:
    from cortexhooks_receiver.stores.sqlite import SQLiteStore

    db = tmp_path / "dedup.db"
    runs, hang = tmp_path / "runs.txt", tmp_path / "hang.txt"
    runs.touch()
    body = _body()
    headers = ch.sign(body, SECRET, delivery_id="dlv_crash")
    ctx = multiprocessing.get_context("fork")
    proc = ctx.Process(
        target=_crashing_worker, args=(f"sqlite:///{db}", str(runs), str(hang), body, headers)
    )
    proc.start()
    deadline = time.monotonic() + 30
    while not hang.exists():
        assert time.monotonic() < deadline, "the worker never reached its handler"
        time.sleep(0.01)
    assert proc.pid is not None
    os.kill(proc.pid, signal.SIGKILL)
    proc.join(timeout=10)
    assert proc.exitcode == -signal.SIGKILL

    # Before the lease ends, the delivery is still claimed by the dead worker.
    now_store = SQLiteStore(str(db))
    receiver = _receiver(now_store, runs)
    assert receiver.handle(body, headers).status == 409
    # After the lease (30 s), the next attempt takes the claim over and processes it once.
    later_store = SQLiteStore(str(db), clock=lambda: time.time() + 31)
    receiver = _receiver(later_store, runs)
    assert receiver.handle(body, headers).status == 200
    assert receiver.handle(body, headers).duplicate
    assert len(runs.read_text().splitlines()) == 1


def test_handler_failing_twice_then_succeeding_is_processed_once_on_sqlite(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'dedup.db'}"
    runs = tmp_path / "runs.txt"
    runs.touch()
    body = _body()
    headers = ch.sign(body, SECRET, delivery_id="dlv_flaky")
    statuses = []
    for _ in range(4):  # each attempt a fresh worker, as after a restart
        statuses.append(_receiver(store, runs, fail_first=2).handle(body, headers).status)
    assert statuses == [500, 500, 200, 200]
    assert len(runs.read_text().splitlines()) == 3

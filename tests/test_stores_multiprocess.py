"""Durable stores under real concurrency: many processes racing for one delivery, and crashes.

Workers are separate interpreters (``spawn``) that open the store from its URL, as gunicorn
workers would, and start together at a barrier.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cortexhooks_receiver.stores import ClaimState, Store, open_store
from cortexhooks_receiver.stores.redis import RedisStore
from cortexhooks_receiver.stores.sqlite import SQLiteStore

PROCESSES = 5
THREADS_PER_PROCESS = 10  # 50 claims in all, for each of several deliveries
ROUNDS = 8
KEYS = ("d:race-delivery", "b:" + "5a" * 32)
LEASE = 60.0


def _race(url: str, worker: int, start: Any, results: Any) -> None:
    import threading

    store = open_store(url)
    lock = threading.Lock()
    for round_ in range(ROUNDS):
        keys = _round_keys(round_)
        outcomes: list[str] = []
        go = threading.Barrier(THREADS_PER_PROCESS)

        def claim(
            n: int,
            keys: tuple[str, str] = keys,
            outcomes: list[str] = outcomes,
            go: threading.Barrier = go,
        ) -> None:
            go.wait(timeout=30)
            state = store.claim(keys, LEASE, f"worker-{worker}-{n}")
            with lock:
                outcomes.append(state.value)

        threads = [threading.Thread(target=claim, args=(n,)) for n in range(THREADS_PER_PROCESS)]
        start.wait(timeout=60)  # every process is ready for this round
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        results.put((round_, outcomes))
    store.close()


def _round_keys(round_: int) -> tuple[str, str]:
    return (f"{KEYS[0]}-{round_}", f"{KEYS[1]}{round_}")


def _claim_and_hang(url: str, claimed: Any) -> None:
    store = open_store(url)
    claimed.put(store.claim(KEYS, LEASE, "doomed-worker").value)
    signal.pause()  # holds the claim until SIGKILLed


@pytest.fixture(params=["sqlite", "redis"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL every process can open: a SQLite file, or the real Redis under a unique prefix."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'dedup.db'}"  # absolute path: four slashes in all
        return
    redis_url = request.getfixturevalue("redis_url")
    prefix = f"test-{uuid.uuid4().hex}:"
    yield f"{redis_url}?prefix={prefix}"
    store = RedisStore(redis_url, prefix=prefix)
    keys = list(store.client.scan_iter(match=store.prefix + "*"))
    if keys:
        store.client.delete(*keys)
    store.close()


def test_fifty_concurrent_claims_across_processes_get_exactly_one_new(store_url: str) -> None:
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Barrier(PROCESSES + 1)
    results = ctx.Queue()
    workers = [
        ctx.Process(target=_race, args=(store_url, w, start, results), daemon=True)
        for w in range(PROCESSES)
    ]
    for worker in workers:
        worker.start()
    by_round: dict[int, list[str]] = {round_: [] for round_ in range(ROUNDS)}
    try:
        for _ in range(ROUNDS):
            start.wait(timeout=60)
        for _ in range(ROUNDS * PROCESSES):
            round_, outcomes = results.get(timeout=60)
            by_round[round_] += outcomes
    finally:
        for worker in workers:
            worker.join(timeout=30)
    assert all(worker.exitcode == 0 for worker in workers)
    for outcomes in by_round.values():
        assert len(outcomes) == PROCESSES * THREADS_PER_PROCESS
        assert outcomes.count("new") == 1
        assert outcomes.count("in_progress") == len(outcomes) - 1


def test_claim_of_a_worker_killed_with_sigkill_is_taken_over_after_its_lease(
    store_url: str,
) -> None:
    ctx = multiprocessing.get_context("spawn")
    claimed = ctx.Queue()
    doomed = ctx.Process(target=_claim_and_hang, args=(store_url, claimed), daemon=True)
    doomed.start()
    try:
        assert claimed.get(timeout=60) == "new"
    finally:
        os.kill(doomed.pid or 0, signal.SIGKILL)
        doomed.join(timeout=30)
    assert doomed.exitcode == -signal.SIGKILL

    store = open_store(store_url)
    try:
        # Within the lease the dead worker's claim still stands (nobody knows it died).
        assert store.claim(KEYS, LEASE, "survivor") is ClaimState.IN_PROGRESS
    finally:
        store.close()
    later = _store_after_the_lease(store_url)
    try:
        assert later.claim(KEYS, LEASE, "survivor") is ClaimState.NEW
    finally:
        later.close()


def _store_after_the_lease(url: str) -> Store:
    """The store as a worker sees it once the lease has passed (no sleeping)."""
    store = open_store(url)
    if isinstance(store, SQLiteStore):
        # Leases are wall-clock times in the file: a clock reading past the lease is "later".
        path = store.path
        store.close()
        return SQLiteStore(path, clock=lambda: time.time() + LEASE + 1)
    assert isinstance(store, RedisStore)
    # The lease is the keys' server-side expiry: check it is set, then let the server apply it.
    for key in KEYS:
        ttl = store.client.pttl(store.prefix + key)
        assert 0 < ttl <= LEASE * 1000
        assert store.client.pexpireat(store.prefix + key, 1)  # an expiry in the past deletes
    return store

"""Dedup stores side by side: processed deliveries per second (claim + complete) and round trips.

Run: ``.venv/bin/python benchmarks/bench_stores.py [--seconds 2] [--processes 4]``.
Redis comes from ``CORTEXHOOKS_BENCH_REDIS_URL`` (default ``redis://127.0.0.1:6379/15``) and is
left out, with a note, when unreachable. Every delivery has two keys (delivery id and body
digest), as in the receiver. Round trips are counted on the client's sockets: one request written
per round trip.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import REDIS_URL, redis_reachable

from cortexhooks_receiver.stores import MemoryStore, Store, open_store
from cortexhooks_receiver.stores.redis import RedisStore
from cortexhooks_receiver.stores.sqlite import SQLiteStore


def _keys(worker: str, i: int) -> tuple[str, str]:
    return (f"d:{worker}-{i}", f"b:{worker}{i:060d}")


def run_sync(store: Store, seconds: float, worker: str = "w") -> tuple[int, float]:
    """Process fresh deliveries for about ``seconds``; return (count, elapsed)."""
    claim, complete = store.claim, store.complete
    count = 0
    start = time.perf_counter()
    deadline = start + seconds
    while True:
        for _ in range(100):
            keys = _keys(worker, count)
            claim(keys, 60.0, "t")
            complete(keys, 3600.0, "t")
            count += 1
        now = time.perf_counter()
        if now >= deadline:
            return count, now - start


def run_async(store: RedisStore, seconds: float) -> tuple[int, float]:
    """The asyncio form of :func:`run_sync`, awaited one delivery at a time."""

    async def main() -> tuple[int, float]:
        count = 0
        start = time.perf_counter()
        deadline = start + seconds
        while True:
            for _ in range(100):
                keys = _keys("a", count)
                await store.aclaim(keys, 60.0, "t")
                await store.acomplete(keys, 3600.0, "t")
                count += 1
            now = time.perf_counter()
            if now >= deadline:
                await store.aclose()
                return count, now - start

    return asyncio.run(main())


def _process_worker(url: str, seconds: float, worker: str, start: Any, out: Any) -> None:
    store = open_store(url)
    start.wait()
    out.put(run_sync(store, seconds, worker))
    store.close()


def run_processes(url: str, processes: int, seconds: float) -> tuple[int, float]:
    """``processes`` workers on one store URL at once; return (total count, elapsed)."""
    ctx = multiprocessing.get_context("spawn")
    start, out = ctx.Barrier(processes), ctx.Queue()
    workers = [
        ctx.Process(target=_process_worker, args=(url, seconds, f"p{n}", start, out))
        for n in range(processes)
    ]
    for worker in workers:
        worker.start()
    results = [out.get(timeout=120) for _ in workers]
    for worker in workers:
        worker.join()
    return sum(count for count, _ in results), max(elapsed for _, elapsed in results)


def count_round_trips(url: str, prefix: str) -> tuple[float, float]:
    """Round trips per processed delivery, sync and async, counted on the sockets."""
    import redis
    import redis.asyncio

    class Counting(redis.Connection):
        sent = 0

        def send_packed_command(self, command: Any, check_health: bool = True) -> None:
            Counting.sent += 1
            super().send_packed_command(command, check_health)

    class AsyncCounting(redis.asyncio.Connection):
        sent = 0

        async def send_packed_command(self, command: Any, check_health: bool = True) -> None:
            AsyncCounting.sent += 1
            await super().send_packed_command(command, check_health)

    deliveries = 200
    client = redis.Redis(
        connection_pool=redis.ConnectionPool.from_url(url, connection_class=Counting)
    )
    store = RedisStore(client, prefix=prefix)
    store.claim(["b:warm"], 60, "t")  # connection handshake and script loading, once
    store.complete(["b:warm"], 60, "t")
    Counting.sent = 0
    for i in range(deliveries):
        store.claim(_keys("rt", i), 60, "t")
        store.complete(_keys("rt", i), 60, "t")
    sync_per_delivery = Counting.sent / deliveries

    async def measure_async() -> float:
        aclient = redis.asyncio.Redis(
            connection_pool=redis.asyncio.ConnectionPool.from_url(
                url, connection_class=AsyncCounting
            )
        )
        astore = RedisStore(client, prefix=prefix, async_client=aclient)
        await astore.aclaim(["b:awarm"], 60, "t")
        await astore.acomplete(["b:awarm"], 60, "t")
        AsyncCounting.sent = 0
        for i in range(deliveries):
            await astore.aclaim(_keys("art", i), 60, "t")
            await astore.acomplete(_keys("art", i), 60, "t")
        await aclient.aclose()
        return AsyncCounting.sent / deliveries

    async_per_delivery = asyncio.run(measure_async())
    client.close()
    return sync_per_delivery, async_per_delivery


def _redis_cleanup(url: str, prefix: str) -> None:
    store = RedisStore(url, prefix=prefix)
    keys = list(store.client.scan_iter(match=store.prefix + "*", count=1000))
    for i in range(0, len(keys), 1000):
        store.client.delete(*keys[i : i + 1000])
    store.close()


def main() -> None:
    """Run every store and print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=2.0, help="time per row")
    parser.add_argument(
        "--processes", type=int, default=4, help="workers in the multi-process rows"
    )
    args = parser.parse_args()
    seconds, processes = args.seconds, args.processes

    rows: list[tuple[str, int, float, str]] = []  # name, count, elapsed, round trips
    notes: list[str] = []

    def add(name: str, result: tuple[int, float], round_trips: str = "-") -> None:
        rows.append((name, result[0], result[1], round_trips))

    add("memory", run_sync(MemoryStore(max_entries=10_000_000), seconds))

    with tempfile.TemporaryDirectory() as tmp:
        sqlite = SQLiteStore(Path(tmp) / "bench.db")
        add("sqlite (file, WAL)", run_sync(sqlite, seconds))
        sqlite.close()
        add(
            f"sqlite, {processes} processes",
            run_processes(f"sqlite:///{tmp}/bench-mp.db", processes, seconds),
        )

    if redis_reachable(REDIS_URL):
        prefix = f"bench-{uuid.uuid4().hex}:"
        try:
            sync_rt, async_rt = count_round_trips(REDIS_URL, prefix)
            redis_store = RedisStore(REDIS_URL, prefix=prefix)
            add("redis (sync client)", run_sync(redis_store, seconds), f"{sync_rt:g}")
            add("redis (asyncio client)", run_async(redis_store, seconds), f"{async_rt:g}")
            redis_store.close()
            url = f"{REDIS_URL}?prefix={prefix}"
            add(f"redis, {processes} processes", run_processes(url, processes, seconds))
        finally:
            _redis_cleanup(REDIS_URL, prefix)
    else:
        notes.append(f"Redis left out: nothing answers at {REDIS_URL}.")

    def rate(row: tuple[str, int, float, str]) -> float:
        return row[1] / row[2]

    baseline = rate(rows[1])  # single-process SQLite, the embedded default
    print(f"Dedup stores: claim + complete of fresh two-key deliveries, ~{seconds:g} s per row")
    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    print()
    header = (
        f"{'store':<26} {'deliveries/s':>13} {'us/delivery':>12} {'vs sqlite':>10} "
        f"{'RTT/deliv.':>11}"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        per_second = rate(row)
        print(
            f"{row[0]:<26} {per_second:>13,.0f} {1e6 / per_second:>12.1f} "
            f"{per_second / baseline:>9.2f}x {row[3]:>11}"
        )
    for note in notes:
        print(note)


if __name__ == "__main__":
    main()

"""The scaling curve: deliveries/s against body size, and against the number of worker processes.

Run: ``.venv/bin/python benchmarks/bench_scaling.py [--requests 3000] [--skip-servers]``

1. **Body size**, in process: ``Receiver.handle`` (memory store, one no-op handler) beside the
   hand-rolled minimum (``hmac.new(...).hexdigest()`` + ``compare_digest`` + ``json.loads``) on
   distinct signed bodies of 259 B to 1 MiB (the guide's task payload, padded in a description).
2. **Worker processes**, under real servers: Flask under gunicorn (sync workers) and Starlette under
   uvicorn, with 1, 2 and 4 worker processes, on the SQLite store (a WAL file shared by the workers)
   and on the real Redis (Starlette's several workers are gunicorn's with ``uvicorn-worker``'s
   ``UvicornWorker``: production's usual set-up, and uvicorn's own ``--workers`` mode answered
   keep-alive requests here about 40 ms late), each beside the same framework's hand-written
   endpoint (``/bare``: the guide's verification and nothing else: no timestamp check, no dedup).
   The load generator is ``bench_adapters.load`` (keep-alive sockets from 8 threads, requests
   pre-built), so it competes for the same CPU cores as the server: the absolute figures are
   those of one machine; the ratios and where the curve bends are the point.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import sys
import tempfile
import timeit
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import GUIDE_SECRET, environment, padded_body, print_table, redis_reachable
from bench_adapters import build_requests, load, servers
from bench_receiver import NOW_MS, REDIS_URL, deliveries

import cortexhooks_receiver as ch
from cortexhooks_receiver.stores import MemoryStore

SIZES = (259, 1024, 10 * 1024, 100 * 1024, 1024 * 1024)
REPEAT = 5


def body_sizes(max_deliveries: int) -> None:
    print("\n## Deliveries/s against body size (in process, best of 5 passes)\n")
    key = GUIDE_SECRET.encode()
    rows = []
    for size in SIZES:
        count = max(min(50, max_deliveries), min(max_deliveries, 20_000_000 // size))
        stream = deliveries(count, padded_body(size, NOW_MS))

        def raw(stream: list[tuple[bytes, dict[str, str]]] = stream) -> None:
            for body, headers in stream:
                expected = hmac.new(key, body, hashlib.sha256).hexdigest()
                assert hmac.compare_digest(headers["X-CortexBuild-Signature"], expected)
                json.loads(body)

        def handle(stream: list[tuple[bytes, dict[str, str]]] = stream) -> None:
            receiver = ch.Receiver(
                GUIDE_SECRET,
                store=MemoryStore(),  # the real clock, as in bench_receiver
                router=ch.Router(),
                max_body_bytes=2 * 1024 * 1024,
            )
            receiver.on("task.completed")(lambda event: None)
            for body, headers in stream:
                assert receiver.handle(body, headers).status == 200

        best_raw = best_handle = float("inf")
        for _ in range(REPEAT):  # interleaved: a slow moment of the machine hits both alike
            best_raw = min(best_raw, timeit.timeit(raw, number=1) / count)
            best_handle = min(best_handle, timeit.timeit(handle, number=1) / count)
        rows.append(
            [
                _size(size),
                f"{1 / best_raw:,.0f}",
                f"{1 / best_handle:,.0f}",
                f"{best_handle / best_raw:.2f}",
                f"{size / best_handle / 1e6:,.0f}",
            ]
        )
    print_table(
        rows,
        ["body", "raw minimum /s", "Receiver.handle /s", "x raw", "handle MB/s"],
    )


def _size(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size // (1024 * 1024)} MiB"
    if size >= 1024:
        return f"{size // 1024} KiB"
    return f"{size} B"


def workers(requests: int, connections: int, rounds: int) -> None:
    print(
        f"\n## Requests/s against worker processes ({requests} distinct deliveries per round, "
        f"{connections} keep-alive connections, best of {rounds} interleaved rounds)\n"
    )
    specs = [
        next(s for s in servers.SERVERS if s.name == "flask-gunicorn"),
        servers.ServerSpec("starlette-gunicorn+uvicorn", _gunicorn_uvicorn("starlette_app:app")),
    ]
    stores = ["sqlite"] + (["redis"] if redis_reachable(REDIS_URL) else [])
    rows: list[list[Any]] = []
    failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        for spec in specs:
            for store_kind in stores:
                for count in (1, 2, 4):
                    store = (
                        f"sqlite:///{tmp}/{spec.name}-{count}.db"
                        if store_kind == "sqlite"
                        else f"{REDIS_URL}?prefix=scaling-{uuid.uuid4().hex}:"
                    )
                    bare, adapter, fails = _measure(
                        spec, store, count, Path(tmp), requests, connections, rounds
                    )
                    failed += fails
                    rows.append(
                        [
                            spec.title,
                            store_kind,
                            count,
                            f"{bare:,.0f}",
                            f"{adapter:,.0f}",
                            f"{adapter / bare:.2f}",
                        ]
                    )
    print_table(
        rows, ["server", "store", "workers", "bare req/s", "adapter req/s", "adapter / bare"]
    )
    if failed:
        raise SystemExit(f"{failed} requests got an answer other than 200")


def _gunicorn_uvicorn(app: str) -> servers.ArgvFactory:
    def argv(port: int, workers: int) -> list[str]:
        wsgi = servers._gunicorn(servers.APPS, app)(port, workers)
        return [*wsgi[:-1], "-k", "uvicorn_worker.UvicornWorker", wsgi[-1]]

    return argv


def _measure(
    spec: servers.ServerSpec,
    store: str,
    count: int,
    workdir: Path,
    requests: int,
    connections: int,
    rounds: int,
) -> tuple[float, float, int]:
    port = servers.free_port()
    proc = servers.start(spec, port, workdir, store=store, workers=count)
    bare = adapter = 0.0
    failed = 0
    try:
        servers.wait_ready(proc, port)
        tag = uuid.uuid4().hex[:8]
        load(port, build_requests(servers.BARE_PATH, 200, f"wb{tag}"), connections)
        load(port, build_requests(servers.ADAPTER_PATH, 200, f"wa{tag}"), connections)
        for round_ in range(rounds):
            rate, fails = load(
                port,
                build_requests(servers.BARE_PATH, requests, f"b{round_}{tag}"),
                connections,
            )
            bare, failed = max(bare, rate), failed + fails
            rate, fails = load(
                port,
                build_requests(servers.ADAPTER_PATH, requests, f"a{round_}{tag}"),
                connections,
            )
            adapter, failed = max(adapter, rate), failed + fails
    finally:
        servers.stop(proc)
    return bare, adapter, failed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--skip-servers", action="store_true", help="only the body-size curve")
    parser.add_argument("--skip-sizes", action="store_true", help="only the worker curve")
    parser.add_argument(
        "--max-deliveries", type=int, default=20_000, help="per pass of the body-size curve"
    )
    args = parser.parse_args()
    print("# Scaling: body size and worker processes")
    print(environment(), f"{os.cpu_count()} CPU cores")
    if not args.skip_sizes:
        body_sizes(args.max_deliveries)
    if not args.skip_servers:
        workers(args.requests, args.connections, args.rounds)


if __name__ == "__main__":
    main()

"""Background mode: time to the 2xx, the cost of an enqueue, and the workers' throughput.

Run: ``.venv/bin/python benchmarks/bench_background.py [--requests 200] [--jobs 2000]``.
PostgreSQL comes from ``CORTEXHOOKS_BENCH_POSTGRES_DSN`` (default
``postgresql://postgres@127.0.0.1:5432/test``, in a schema of its own, dropped afterwards) and is
left out, with a note, when unreachable.

1. **Time to the 2xx** under a real server: ``integrations/background_app.py`` under gunicorn (one
   sync worker), one request at a time over loopback, inline with a no-op handler, inline with a
   100 ms handler, and in background mode with the same 100 ms handler (SQLite and PostgreSQL
   queues, one ``cortexhooks worker`` process running alongside). Target: background within 1.5x
   of the inline no-op answer, whatever the handler's duration.
2. **Enqueue cost per delivery**, in process: ``Receiver.handle`` inline with a no-op handler
   against background mode, with the same store (the queue's database as dedup store).
3. **Worker throughput**: jobs per second with 1, 2 and 4 ``cortexhooks worker --burst`` processes
   draining a queue of no-op jobs, SQLite and PostgreSQL.
"""

from __future__ import annotations

import argparse
import http.client
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _common import environment, print_table

import cortexhooks_receiver as ch
from cortexhooks_receiver.testing import make_body
from integrations import servers

POSTGRES_DSN = os.environ.get(
    "CORTEXHOOKS_BENCH_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test"
)
APPS = Path(servers.__file__).resolve().parent
SECRET = servers.SECRET


def _postgres_available() -> bool:
    try:
        import psycopg

        with psycopg.connect(POSTGRES_DSN, connect_timeout=2):
            return True
    except Exception:
        return False


@contextmanager
def _queue_urls(folder: Path) -> Iterator[dict[str, str]]:
    """SQLite always; PostgreSQL (a schema of its own) when reachable."""
    urls = {"SQLite": f"sqlite:///{folder / 'hooks.db'}"}
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    if _postgres_available():
        urls["PostgreSQL"] = f"{POSTGRES_DSN}?schema={schema}"
    else:
        print(f"note: PostgreSQL unreachable at {POSTGRES_DSN}; its rows are left out")
    try:
        yield urls
    finally:
        if "PostgreSQL" in urls:
            import psycopg

            with psycopg.connect(POSTGRES_DSN, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def _body(tag: str, n: int) -> bytes:
    return make_body("invoice.paid", **{"data.id": f"inv-{tag}-{n}"})


def _env(extra: dict[str, str]) -> dict[str, str]:
    return {
        **os.environ,
        "CORTEXBUILD_WEBHOOK_SECRET": SECRET,
        "PYTHONPATH": os.pathsep.join([str(APPS.parent), os.environ.get("PYTHONPATH", "")]),
        **extra,
    }


def _worker(env: dict[str, str], *args: str, log: Path | None = None) -> subprocess.Popen[bytes]:
    """A ``cortexhooks worker`` process on ``background_app:receiver``; its log to ``log``."""
    sink = log.open("wb") if log is not None else subprocess.DEVNULL
    try:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "cortexhooks_receiver.cli",
                "worker",
                "background_app:receiver",
                *args,
            ],
            cwd=APPS,
            env=_env(env),
            stdout=subprocess.DEVNULL,
            stderr=sink,
        )
    finally:
        if not isinstance(sink, int):
            sink.close()  # the child holds its own copy


# -- 1. time to the 2xx under gunicorn ----------------------------------------------------------


def time_to_answer(env: dict[str, str], requests: int, folder: Path) -> list[float]:
    """Seconds to each answer, one request at a time, under gunicorn (one worker process)."""
    spec = servers.ServerSpec("background-gunicorn", servers._gunicorn(APPS, "background_app:app"))
    port = servers.free_port()
    log = folder / "server.log"
    server = servers.start(spec, port, folder, workers=1, env=_env(env), output=log)
    worker = _worker(env) if "CORTEXHOOKS_QUEUE" in env else None
    tag = uuid.uuid4().hex[:8]
    times: list[float] = []
    try:
        try:
            servers.wait_ready(server, port)
        except servers.ServerError:
            print(log.read_text())
            raise
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        for n in range(requests + 10):
            body = _body(tag, n)
            headers = ch.sign(body, SECRET, delivery_id=f"dlv_{tag}_{n}")
            start = time.perf_counter()
            conn.request("POST", servers.ADAPTER_PATH, body, headers)
            response = conn.getresponse()
            response.read()
            elapsed = time.perf_counter() - start
            assert response.status in (200, 202), response.status
            if n >= 10:  # the first requests warm the worker up
                times.append(elapsed)
        conn.close()
    finally:
        servers.stop(server)
        if worker is not None:
            worker.terminate()
            worker.wait(30)
    return times


def bench_answers(requests: int, folder: Path, urls: dict[str, str]) -> None:
    print(f"\n## Time to the 2xx under gunicorn, {requests} sequential requests\n")
    rows: list[list[Any]] = []
    for name, url in urls.items():
        inline = url.replace("hooks.db", "answer-inline.db").replace("?schema=", "?schema=a")
        queued = url.replace("hooks.db", "answer-queued.db").replace("?schema=", "?schema=b")
        slow = {"CORTEXHOOKS_HANDLER_SECONDS": "0.1"}
        cases = [
            (f"{name}: inline, no-op handler", {"CORTEXHOOKS_STORE": inline}),
            (f"{name}: inline, 100 ms handler", {"CORTEXHOOKS_STORE": inline, **slow}),
            (f"{name}: background, 100 ms handler", {"CORTEXHOOKS_QUEUE": queued, **slow}),
        ]
        baseline = 0.0
        for index, (case, env) in enumerate(cases):
            workdir = folder / f"answer-{name}-{index}"
            workdir.mkdir()
            times = time_to_answer(env, requests, workdir)
            median = statistics.median(times) * 1000
            p95 = statistics.quantiles(times, n=20)[-1] * 1000
            baseline = baseline or median
            rows.append([case, median, p95, f"{median / baseline:.2f}x"])
        if name == "PostgreSQL":
            _drop_schemas(inline, queued)
    print_table(rows, ["case", "median ms", "p95 ms", "vs inline no-op"])


# -- 2. enqueue cost in process -----------------------------------------------------------------


def per_delivery(receiver: ch.Receiver, count: int) -> float:
    tag = uuid.uuid4().hex[:8]
    sends = []
    for n in range(count):
        body = _body(tag, n)
        sends.append((body, ch.sign(body, SECRET, delivery_id=f"dlv_{tag}_{n}")))
    start = time.perf_counter()
    for body, headers in sends:
        receiver.handle(body, headers)
    return (time.perf_counter() - start) / count


def bench_enqueue(count: int, folder: Path, urls: dict[str, str]) -> None:
    print(f"\n## Cost per delivery, in process ({count} deliveries, the same store)\n")
    rows: list[list[Any]] = []
    for name, url in urls.items():
        inline_url = url.replace("hooks.db", "inline.db").replace("?schema=", "?schema=i")
        queue_url = url.replace("hooks.db", "queued.db").replace("?schema=", "?schema=q")
        inline = ch.Receiver(SECRET, store=_store_of(inline_url), router=ch.Router())
        inline.on("*")(lambda event: None)
        queued = ch.Receiver(SECRET, store=queue_url, queue=queue_url, router=ch.Router())
        queued.on("*")(lambda event: None)
        per_delivery(inline, 50)  # create the tables, warm the connections
        per_delivery(queued, 50)
        inline_s = per_delivery(inline, count)
        queued_s = per_delivery(queued, count)
        rows.append([f"{name}: inline `handle`, no-op handler", inline_s * 1e6, "1.00x"])
        rows.append(
            [
                f"{name}: background `handle` (claim + enqueue, one transaction)",
                queued_s * 1e6,
                f"{queued_s / inline_s:.2f}x",
            ]
        )
        for receiver in (inline, queued):
            receiver.store.close()
        if name == "PostgreSQL":
            _drop_schemas(inline_url, queue_url)
    print_table(rows, ["case", "µs/delivery", "vs inline"])


def _store_of(url: str) -> Any:
    """The dedup store of an inline receiver on ``url``: a PostgreSQL queue is a store too."""
    if url.startswith("postgresql"):
        from cortexhooks_receiver.jobs.postgres import PostgresQueue

        return PostgresQueue.from_url(url)
    return url


def _drop_schemas(*urls: str) -> None:
    import psycopg

    with psycopg.connect(POSTGRES_DSN, autocommit=True) as conn:
        for url in urls:
            schema = url.rpartition("schema=")[2]
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


# -- 3. worker throughput -----------------------------------------------------------------------


def bench_workers(jobs: int, folder: Path, urls: dict[str, str]) -> None:
    print(f"\n## Worker throughput: {jobs} no-op jobs, `cortexhooks worker` processes\n")
    rows: list[list[Any]] = []
    for name, url in urls.items():
        for processes in (1, 2, 4):
            run_url = url.replace("hooks.db", f"workers-{processes}.db").replace(
                "?schema=", f"?schema=w{processes}"
            )
            rows.append([name, processes, drain_rate(run_url, jobs, processes, folder)])
            if name == "PostgreSQL":
                _drop_schemas(run_url)
    print_table(rows, ["queue", "worker processes", "jobs/s"])


def drain_rate(url: str, jobs: int, processes: int, folder: Path) -> float:
    """Jobs per second: workers started (and idle) first, then the queue filled and drained."""
    receiver = ch.Receiver(SECRET, store=url, queue=url, router=ch.Router())
    receiver.on("*")(lambda event: None)
    queue = receiver.queue
    assert queue is not None
    queue.stats()  # creates the tables before the workers poll them
    logs = [folder / f"worker-{processes}-{n}.log" for n in range(processes)]
    procs = [_worker({"CORTEXHOOKS_QUEUE": url}, log=log) for log in logs]
    try:
        while not all(b"Worker started" in log.read_bytes() for log in logs):
            time.sleep(0.01)
        start = time.perf_counter()
        per_delivery(receiver, jobs)
        while queue.stats().depth:
            time.sleep(0.01)
        elapsed = time.perf_counter() - start
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(30)
        queue.close()
    return jobs / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--deliveries", type=int, default=1000)
    parser.add_argument("--jobs", type=int, default=2000)
    args = parser.parse_args()
    print(environment())
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        with _queue_urls(folder) as urls:
            bench_answers(args.requests, folder, urls)
            bench_enqueue(args.deliveries, folder, urls)
            bench_workers(args.jobs, folder, urls)


if __name__ == "__main__":
    main()

"""Background mode with real processes: workers killed mid-job, stopped by SIGTERM, and 5 000
deliveries through 4 gunicorn workers and 2 worker processes, on SQLite and on PostgreSQL.

The app is ``integrations/background_app.py``; the workers are ``cortexhooks worker`` processes.
Handlers count their own runs in a file (one line when an attempt starts, one when it succeeds).
A worker that should see the others' leases as run out gets a clock offset by the lease instead
of waiting for it.
"""

from __future__ import annotations

import collections
import http.client
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import cortexhooks_receiver as ch
from cortexhooks_receiver.testing import make_body
from integrations import servers

APPS = Path(servers.__file__).resolve().parent
SECRET = servers.SECRET
LEASE = 30
WAIT = 60.0


@pytest.fixture(params=["sqlite", "postgres"])
def queue_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A queue every process can open: a SQLite file, or a schema of the real PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'hooks.db'}"
    dsn = request.getfixturevalue("postgres_dsn")
    return f"{dsn}?schema={request.getfixturevalue('postgres_schema')}"


def _env(queue_url: str, log: Path, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "CORTEXBUILD_WEBHOOK_SECRET": SECRET,
        "CORTEXHOOKS_QUEUE": queue_url,
        "CORTEXHOOKS_HANDLED_LOG": str(log),
        "PYTHONPATH": os.pathsep.join([str(APPS.parent), os.environ.get("PYTHONPATH", "")]),
        **extra,
    }


def _worker(env: dict[str, str], *args: str) -> subprocess.Popen[bytes]:
    """A ``cortexhooks worker`` process; its log goes to ``<handled log>.<n>.stderr``."""
    log = Path(env["CORTEXHOOKS_HANDLED_LOG"])
    output = log.with_name(f"{log.name}.{len(list(log.parent.glob('*.stderr')))}.stderr")
    with output.open("wb") as sink:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "cortexhooks_receiver.cli",
                "worker",
                "background_app:receiver",
                "--timeout",
                str(LEASE),
                *args,
            ],
            cwd=APPS,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=sink,
            start_new_session=True,
        )


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Processes a test starts; whatever is still running at the end is killed with its group."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(WAIT)


def _lines(log: Path) -> list[list[str]]:
    return [line.split() for line in log.read_text().splitlines()] if log.exists() else []


def _wait_for(condition: object, what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)  # polling another process's progress, bounded by the deadline


def _enqueue(queue_url: str, delivery_id: str) -> ch.Receiver:
    receiver = ch.Receiver(SECRET, store=queue_url, queue=queue_url, router=ch.Router())
    receiver.on("*")(lambda event: None)
    body = make_body("invoice.paid", **{"data.id": f"inv-{delivery_id}"})
    assert receiver.handle(body, ch.sign(body, SECRET, delivery_id=delivery_id)).status == 202
    return receiver


def test_a_worker_killed_mid_job_is_taken_over_after_its_lease_and_the_job_finishes_once(
    queue_url: str, tmp_path: Path, processes: list[subprocess.Popen[bytes]]
) -> None:
    log, hang = tmp_path / "handled.log", tmp_path / "hanging"
    receiver = _enqueue(queue_url, "dlv_crash")
    assert receiver.queue is not None
    doomed = _worker(_env(queue_url, log, CORTEXHOOKS_HANG_FILE=str(hang)))
    processes.append(doomed)
    _wait_for(hang.exists, "the first worker to start the job")
    os.killpg(doomed.pid, signal.SIGKILL)
    assert doomed.wait(WAIT) == -signal.SIGKILL
    stats = receiver.queue.stats()
    assert (stats.depth, stats.leased) == (1, 1)  # still leased by the dead worker

    # A worker that already lives past the lease takes the job over and finishes it.
    later = _worker(_env(queue_url, log, CORTEXHOOKS_CLOCK_OFFSET=str(LEASE + 1)), "--burst")
    processes.append(later)
    assert later.wait(WAIT) == 0
    # And a worker now finds nothing left to do: the finished job never runs again.
    now = _worker(_env(queue_url, log), "--burst")
    processes.append(now)
    assert now.wait(WAIT) == 0

    runs = _lines(log)
    assert [(delivery, attempt, what) for _, delivery, attempt, what in runs] == [
        ("dlv_crash", "1", "start"),
        ("dlv_crash", "2", "start"),
        ("dlv_crash", "2", "done"),
    ]
    assert runs[0][0] == str(doomed.pid) != runs[1][0]
    assert receiver.queue.stats().depth == 0
    receiver.queue.close()


def test_sigterm_stops_a_worker_process_once_its_running_job_is_done(
    tmp_path: Path, processes: list[subprocess.Popen[bytes]]
) -> None:
    queue_url = f"sqlite:///{tmp_path / 'hooks.db'}"
    log = tmp_path / "handled.log"
    _enqueue(queue_url, "dlv_term")
    worker = _worker(_env(queue_url, log, CORTEXHOOKS_HANDLER_SECONDS="1"))
    processes.append(worker)
    _wait_for(lambda: any(line[-1] == "start" for line in _lines(log)), "the job to start")
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(WAIT) == 0
    assert [line[-1] for line in _lines(log)] == ["start", "done"]
    (output,) = tmp_path.glob("*.stderr")
    assert "SIGTERM received: stopping after the running jobs" in output.read_text()


# -- 5 000 deliveries, duplicates included ------------------------------------------------------

DELIVERIES = 5000
DUPLICATE_EVERY = 10  # every tenth delivery is sent twice (a CortexBuild retry)
FAIL_FIRST_PERCENT = "5"  # and some handlers fail once, to exercise the retries


def _post(port: int, body: bytes, headers: dict[str, str]) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=WAIT)
    try:
        conn.request("POST", servers.ADAPTER_PATH, body, headers)
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


@pytest.mark.e2e
def test_5000_deliveries_through_gunicorn_and_two_workers_run_each_handler_once(
    queue_url: str, tmp_path: Path, processes: list[subprocess.Popen[bytes]]
) -> None:
    log = tmp_path / "handled.log"
    env = _env(queue_url, log, CORTEXHOOKS_FAIL_FIRST_PERCENT=FAIL_FIRST_PERCENT)
    spec = servers.ServerSpec("background-gunicorn", servers._gunicorn(APPS, "background_app:app"))
    port = servers.free_port()
    server = servers.start(spec, port, tmp_path, workers=4, env=env)
    try:
        servers.wait_ready(server, port)
        for _ in range(2):
            processes.append(_worker(env, "--concurrency", "2", "--backoff", "0"))
        run = uuid.uuid4().hex[:8]
        sends = []
        for n in range(DELIVERIES):
            body = make_body("invoice.paid", **{"data.id": f"inv-{run}-{n}"})
            headers = ch.sign(body, SECRET, delivery_id=f"dlv_{run}_{n}")
            sends.append((body, headers))
            if n % DUPLICATE_EVERY == 0:
                sends.append((body, headers))
        with ThreadPoolExecutor(max_workers=8) as pool:
            statuses = list(pool.map(lambda s: _post(port, *s), sends))
    finally:
        servers.stop(server)
    assert collections.Counter(statuses) == {202: DELIVERIES, 200: len(sends) - DELIVERIES}

    receiver = ch.Receiver(SECRET, store=queue_url, queue=queue_url)
    assert receiver.queue is not None
    _wait_for(lambda: receiver.queue.stats().depth == 0, "the workers to finish")  # type: ignore[union-attr]
    for proc in processes:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(WAIT) == 0
    done = collections.Counter(line[1] for line in _lines(log) if line[-1] == "done")
    assert len(done) == DELIVERIES  # zero lost
    assert set(done.values()) == {1}  # zero doubled
    retried = [line for line in _lines(log) if line[-1] == "start" and line[2] == "2"]
    assert retried  # some handlers failed once and were retried
    assert receiver.queue.dead_letters() == []
    receiver.queue.close()

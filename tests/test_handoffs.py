"""Handoff to Celery and RQ: real ``celery worker`` and ``rq worker`` processes, the real Redis.

The receiver (``integrations/handoff_app.py``) is built here to enqueue, and imported by the
engine's worker from the environment. Each test gets queue names and key prefixes of its own.
Handlers count their own runs in a file.
"""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import cortexhooks_receiver as ch
from cortexhooks_receiver.testing import make_body
from integrations import handoff_app, servers

APPS = Path(servers.__file__).resolve().parent
BIN = Path(sys.executable).parent
SECRET = servers.SECRET
WAIT = 60.0

pytestmark = pytest.mark.redis


class Run:
    """One test's engine: its receiver, its worker processes, and the handlers' records."""

    def __init__(self, engine: str, redis_url: str, tmp_path: Path) -> None:
        self.engine = engine
        self.redis_url = redis_url
        self.name = f"test-h12-{engine}-{uuid.uuid4().hex[:10]}"
        self.log = tmp_path / "handled.log"
        self.broken = tmp_path / "broken"
        self.hang = tmp_path / "hang"
        self.tmp_path = tmp_path
        self.receiver, self.app = handoff_app.build(engine, redis_url, self.name, SECRET)
        self.workers: list[subprocess.Popen[bytes]] = []

    @property
    def queue(self) -> Any:
        return self.receiver.queue

    def env(self, **extra: str) -> dict[str, str]:
        return {
            **os.environ,
            "CORTEXBUILD_WEBHOOK_SECRET": SECRET,
            "CORTEXHOOKS_ENGINE": self.engine,
            "CORTEXHOOKS_REDIS": self.redis_url,
            "CORTEXHOOKS_QUEUE_NAME": self.name,
            "CORTEXHOOKS_HANDLED_LOG": str(self.log),
            "CORTEXHOOKS_BROKEN_FLAG": str(self.broken),
            "PYTHONPATH": os.pathsep.join([str(APPS), str(APPS.parent)]),
            **extra,
        }

    def start_worker(self, **env: str) -> subprocess.Popen[bytes]:
        if self.engine == "celery":
            argv = [
                str(BIN / "celery"),
                "-A",
                "handoff_app:celery_app",
                "worker",
                "-Q",
                self.name,
                "-c",
                "2",
                "--without-heartbeat",
                "--without-gossip",
                "--without-mingle",
                "--loglevel",
                "INFO",
            ]
        else:
            argv = [
                str(BIN / "rq"),
                "worker",
                "--url",
                self.redis_url,
                "--with-scheduler",
                self.name,
            ]
        output = self.tmp_path / f"worker-{len(self.workers)}.log"
        with output.open("wb") as sink:
            proc = subprocess.Popen(
                argv,
                cwd=APPS,
                env=self.env(**env),
                stdout=sink,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.workers.append(proc)
        return proc

    def send(self, data_id: str, delivery_id: str | None = None) -> ch.Outcome:
        body = make_body("invoice.paid", **{"data.id": data_id})
        headers = ch.sign(body, SECRET, delivery_id=delivery_id or f"dlv_{data_id}")
        return self.receiver.handle(body, headers)

    def records(self) -> list[tuple[str, str, str, str]]:
        if not self.log.exists():
            return []
        return [tuple(line.split()) for line in self.log.read_text().splitlines()]  # type: ignore[misc]

    def done(self) -> collections.Counter[str]:
        return collections.Counter(r[1] for r in self.records() if r[3] == "done")

    def wait_for(self, condition: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + WAIT
        while not condition():
            if time.monotonic() > deadline:
                logs = "\n".join(p.read_text() for p in self.tmp_path.glob("worker-*.log"))
                pytest.fail(f"timed out waiting for {what}; records {self.records()}\n{logs}")
            time.sleep(0.05)  # polling the worker processes' progress, bounded by the deadline

    def close(self) -> None:
        for proc in self.workers:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(WAIT)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(WAIT)
        import redis

        client = redis.Redis.from_url(self.redis_url)
        for pattern in (f"{self.name}*", f"rq:*{self.name}*"):
            keys = list(client.scan_iter(match=pattern, count=1000))
            if keys:
                client.delete(*keys)
        client.close()
        self.queue.close()
        if self.engine == "celery":
            self.app.close()
        else:
            self.app.connection.close()


@pytest.fixture(params=["celery", "rq"])
def run(request: pytest.FixtureRequest, redis_url: str, tmp_path: Path) -> Iterator[Run]:
    made = Run(str(request.param), redis_url, tmp_path)
    try:
        yield made
    finally:
        made.close()


def test_deliveries_are_queued_then_run_once_by_the_engines_worker(run: Run) -> None:
    for n in range(5):
        assert run.send(f"inv-{n}").status == 202
    assert run.send("inv-0").duplicate  # CortexBuild's retry
    run.start_worker()
    run.wait_for(lambda: len(run.done()) == 5, "five deliveries to be handled")
    assert set(run.done().values()) == {1}
    assert [r[2] for r in run.records()] == ["1"] * 10  # one attempt each, start + done


def test_retries_then_a_dead_letter_then_a_replay_succeeds(run: Run) -> None:
    run.broken.touch()
    assert run.send("inv-broken").status == 202
    run.start_worker()
    run.wait_for(lambda: len(run.queue.dead_letters()) == 1, "the dead letter")
    (letter,) = run.queue.dead_letters()
    assert (letter.delivery_id, letter.attempts) == ("dlv_inv-broken", handoff_app.MAX_ATTEMPTS)
    assert letter.error == "RuntimeError: the accounting API is down"
    assert [r[2] for r in run.records()] == ["1", "2"]  # attempt 2 was the retry
    run.broken.unlink()
    run.queue.replay(letter.job_id)
    run.wait_for(lambda: run.done() == {"dlv_inv-broken": 1}, "the replay to succeed")
    assert run.queue.dead_letters() == []
    assert run.queue.stats().dead == 0


def test_a_permanent_error_is_a_dead_letter_at_once(run: Run) -> None:
    assert run.send("perm-42").status == 202
    run.start_worker()
    run.wait_for(lambda: len(run.queue.dead_letters()) == 1, "the dead letter")
    (letter,) = run.queue.dead_letters()
    assert (letter.attempts, letter.error) == (1, "PermanentError: no customer for perm-42")
    assert len(run.records()) == 1


def test_a_job_whose_worker_process_is_killed_mid_job_runs_again_and_finishes(run: Run) -> None:
    assert run.send("inv-killed").status == 202
    run.start_worker(CORTEXHOOKS_HANG_FILE=str(run.hang))
    run.wait_for(run.hang.exists, "the job to start")
    run.wait_for(lambda: run.hang.read_text().strip().isdigit(), "the hanging pid")
    os.kill(int(run.hang.read_text()), signal.SIGKILL)  # the pool child / the work horse
    run.wait_for(lambda: run.done() == {"dlv_inv-killed": 1}, "the job to run again")
    assert [r[3] for r in run.records()] == ["start", "start", "done"]


def test_the_cli_lists_and_replays_a_handoffs_dead_letters(
    run: Run, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from cortexhooks_receiver.cli import main

    assert run.send("perm-7").status == 202
    run.start_worker()
    run.wait_for(lambda: len(run.queue.dead_letters()) == 1, "the dead letter")
    for name, value in run.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.syspath_prepend(str(APPS))
    monkeypatch.delitem(sys.modules, "handoff_app", raising=False)
    assert main(["dead-letters", "handoff_app:receiver", "list", "--json"]) == 0
    (listed,) = __import__("json").loads(capsys.readouterr().out)
    assert (listed["deliveryId"], listed["attempts"]) == ("dlv_perm-7", 1)
    assert main(["queue", "handoff_app:receiver", "stats", "--json"]) == 0
    stats = __import__("json").loads(capsys.readouterr().out)
    assert stats["dead"] == 1
    assert main(["dead-letters", "handoff_app:receiver", "purge"]) == 0
    assert run.queue.dead_letters() == []
    sys.modules.pop("handoff_app", None)

"""A journal under 4 worker processes: every request of every process is journaled exactly once.

Workers are separate interpreters (``spawn``) that build their receiver from URLs, as gunicorn
workers would, and start together at a barrier; each sends deliveries of its own and copies of
one delivery that all of them receive at once.
"""

from __future__ import annotations

import multiprocessing
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cortexhooks_receiver.journal import open_journal
from cortexhooks_receiver.journal.redis import RedisJournal

PROCESSES = 4
OWN = 40  # deliveries only this process receives
SHARED = 10  # copies of the one delivery every process receives
SECRET = "whsec_K2Fj8sL3mN9pQ4rT7vX1yZ5bC6dE8fG"


def _work(store: str, journal: str, worker: int, start: Any, done: Any) -> None:
    import json
    import time

    import cortexhooks_receiver as ch

    receiver = ch.Receiver(SECRET, store=store, journal=journal, router=ch.Router())
    receiver.on("task.completed")(lambda event: None)
    now = time.time_ns() // 1_000_000

    def request(task: str, delivery_id: str) -> tuple[bytes, dict[str, str]]:
        body = json.dumps({"event": "task.completed", "timestamp": now, "data": {"id": task}})
        raw = body.encode()
        headers = ch.sign(raw, SECRET, event="task.completed", delivery_id=delivery_id)
        return raw, {**headers, "Content-Type": "application/json"}

    start.wait(timeout=60)
    statuses = []
    for n in range(OWN + SHARED):
        if n % 5 == 0 and n // 5 < SHARED:
            body, headers = request("shared", "dlv_shared")
        else:
            body, headers = request(f"w{worker}-{n}", f"dlv_w{worker}_{n}")
        statuses.append(receiver.handle(body, headers, client=f"worker-{worker}").status)
    receiver.store.close()
    if receiver.journal is not None:
        receiver.journal.close()
    done.put((worker, statuses))


@pytest.fixture(params=["sqlite", "redis"])
def urls(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """(store URL, journal URL) every process can open: one SQLite file, or the real Redis."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'hooks.db'}"  # the store and the journal share the file
        yield url, url
        return
    redis_url = request.getfixturevalue("redis_url")
    prefix = f"test-h13-processes-{uuid.uuid4().hex}:"
    url = f"{redis_url}?prefix={prefix}"
    yield url, url
    journal = RedisJournal(redis_url, prefix=prefix)
    keys = list(journal.client.scan_iter(match=journal.prefix + "*"))
    if keys:
        journal.client.delete(*keys)
    journal.close()


def test_four_processes_journal_every_request_once(urls: tuple[str, str]) -> None:
    store, journal_url = urls
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Barrier(PROCESSES)
    done = ctx.Queue()
    workers = [
        ctx.Process(target=_work, args=(store, journal_url, w, start, done), daemon=True)
        for w in range(PROCESSES)
    ]
    for worker in workers:
        worker.start()
    try:
        results = dict(done.get(timeout=120) for _ in workers)
    finally:
        for worker in workers:
            worker.join(timeout=30)
    assert all(worker.exitcode == 0 for worker in workers)

    journal = open_journal(journal_url)
    try:
        receipts = journal.query(limit=10_000)
    finally:
        journal.close()
    sent = PROCESSES * (OWN + SHARED)
    assert len(receipts) == sent
    assert len({r.id for r in receipts}) == sent
    assert [r.id for r in receipts] == sorted((r.id for r in receipts), reverse=True)
    per_worker = Counter(r.client for r in receipts)
    assert per_worker == {f"worker-{w}": OWN + SHARED for w in range(PROCESSES)}
    # Each receipt says what its process answered.
    for worker, statuses in results.items():
        mine = [r.status for r in reversed(receipts) if r.client == f"worker-{worker}"]
        assert sorted(mine) == sorted(statuses)
    shared = [r for r in receipts if r.delivery_id == "dlv_shared"]
    processed = [r for r in shared if r.status == 200 and not r.duplicate]
    assert len(processed) == 1  # dedup across processes, and the journal says which one ran
    assert all(r.status in (200, 409) for r in shared)

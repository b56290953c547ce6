"""The job queue contract, one list of cases run against every built-in queue: SQLite, PostgreSQL.

Time is travelled, never slept: both queues take an injected wall clock, so a lease runs out or a
retry's backoff passes when the test says so.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from cortexhooks_receiver.errors import JobNotFound, QueueError
from cortexhooks_receiver.jobs import Job, WorkQueue, open_queue
from cortexhooks_receiver.jobs.base import (
    TRANSITIONS,
    JobStateError,
    advance,
    new_job_id,
    sources,
    state_condition,
)
from cortexhooks_receiver.jobs.postgres import PostgresQueue
from cortexhooks_receiver.jobs.sqlite import SQLiteQueue
from cortexhooks_receiver.stores import ClaimState

LEASE = 30.0
RETENTION = 3600.0


class FakeClock:
    """A wall clock that only moves when told to."""

    def __init__(self, start: float = 1_762_698_600.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["sqlite", "postgres"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def queue(
    kind: str, clock: FakeClock, request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[WorkQueue]:
    """An empty queue of each kind, on the injected clock."""
    made: WorkQueue
    if kind == "sqlite":
        made = SQLiteQueue(tmp_path / "hooks.db", clock=clock)
    else:
        made = PostgresQueue(
            request.getfixturevalue("postgres_dsn"),
            schema=request.getfixturevalue("postgres_schema"),
            clock=clock,
        )
    yield made
    made.close()


def job(event: str = "invoice.paid", delivery_id: str | None = "dlv_1") -> Job:
    return Job(
        id=new_job_id(),
        event=event,
        body=b'{"event":"' + event.encode() + b'"}',
        delivery_id=delivery_id,
        webhook_id="wh_1",
        secret_index=1,
    )


# -- the transition table -----------------------------------------------------------------------


def test_every_move_of_the_table_is_allowed_and_no_other() -> None:
    states = ["queued", "reserved", "done", "dead", "purged"]
    for move, (allowed, target) in TRANSITIONS.items():
        for state in states:
            if state in allowed:
                assert advance(state, move) == target  # type: ignore[arg-type]
            else:
                with pytest.raises(JobStateError):
                    advance(state, move)  # type: ignore[arg-type]
    assert advance(None, "enqueue") == "queued"
    with pytest.raises(JobStateError):
        advance(None, "ack")
    with pytest.raises(JobStateError):
        sources("explode")  # type: ignore[arg-type]


def test_finished_jobs_never_move_again() -> None:
    for move in TRANSITIONS:
        for final in ("done", "purged"):
            with pytest.raises(JobStateError):
                advance(final, move)  # type: ignore[arg-type]


def test_the_sql_conditions_come_from_the_table() -> None:
    assert state_condition("ack") == "state IN (1)"
    assert state_condition("reserve") == "state IN (0, 1)"
    assert state_condition("replay") == "state IN (2)"


# -- enqueue, reserve, ack ----------------------------------------------------------------------


def test_a_job_is_reserved_once_then_acked_and_gone(queue: WorkQueue) -> None:
    queued = job()
    queue.enqueue(queued)
    reserved = queue.reserve(LEASE)
    assert reserved is not None
    assert (reserved.id, reserved.body, reserved.delivery_id) == (
        queued.id,
        queued.body,
        "dlv_1",
    )
    assert (reserved.webhook_id, reserved.secret_index, reserved.attempt) == ("wh_1", 1, 1)
    assert reserved.token
    assert queue.reserve(LEASE) is None  # leased: nobody else gets it
    assert queue.ack(reserved)
    assert queue.reserve(LEASE) is None
    assert queue.stats().depth == 0


def test_jobs_are_reserved_in_the_order_they_became_due(queue: WorkQueue, clock: FakeClock) -> None:
    ids = []
    for n in range(3):
        queued = job(delivery_id=f"dlv_{n}")
        queue.enqueue(queued)
        ids.append(queued.id)
        clock.now += 1
    taken = [queue.reserve(LEASE) for _ in ids]
    assert [j.id for j in taken if j is not None] == ids


def test_a_job_whose_lease_ran_out_is_taken_over_and_the_late_worker_changes_nothing(
    queue: WorkQueue, clock: FakeClock
) -> None:
    queue.enqueue(job())
    first = queue.reserve(LEASE)
    assert first is not None
    clock.now += LEASE - 1
    assert queue.reserve(LEASE) is None
    clock.now += 2  # the first worker died, or overran
    second = queue.reserve(LEASE)
    assert second is not None
    assert (second.id, second.attempt) == (first.id, 2)
    assert second.token != first.token
    assert not queue.ack(first)
    assert not queue.retry(first, 0, "late")
    assert not queue.bury(first, "late")
    assert queue.ack(second)
    assert queue.reserve(LEASE) is None


def test_a_retried_job_is_due_after_its_delay_with_its_attempt_counted(
    queue: WorkQueue, clock: FakeClock
) -> None:
    queue.enqueue(job())
    first = queue.reserve(LEASE)
    assert first is not None
    assert queue.retry(first, 10, "RuntimeError: boom")
    clock.now += 9
    assert queue.reserve(LEASE) is None
    assert queue.stats().due == 0
    clock.now += 1
    again = queue.reserve(LEASE)
    assert again is not None
    assert again.attempt == 2


# -- dead letters -------------------------------------------------------------------------------


def test_a_buried_job_is_a_dead_letter_until_replayed(queue: WorkQueue, clock: FakeClock) -> None:
    queued = job()
    queue.enqueue(queued)
    reserved = queue.reserve(LEASE)
    assert reserved is not None
    assert queue.bury(reserved, "PermanentError: unknown customer")
    assert queue.reserve(LEASE) is None
    (letter,) = queue.dead_letters()
    assert (letter.job_id, letter.event, letter.delivery_id, letter.attempts) == (
        queued.id,
        "invoice.paid",
        "dlv_1",
        1,
    )
    assert letter.error == "PermanentError: unknown customer"
    assert letter.failed_at.timestamp() == pytest.approx(clock.now)
    assert letter.failed_at.utcoffset() is not None
    assert queue.dead_letter(queued.id) == letter
    queue.replay(queued.id)
    assert queue.dead_letters() == []
    replayed = queue.reserve(LEASE)
    assert replayed is not None
    assert (replayed.id, replayed.attempt) == (queued.id, 1)


def test_replaying_or_showing_an_unknown_dead_letter_raises_job_not_found(queue: WorkQueue) -> None:
    queue.enqueue(queued := job())
    with pytest.raises(JobNotFound):
        queue.replay(queued.id)  # queued, not dead
    with pytest.raises(JobNotFound):
        queue.dead_letter("job_unknown")
    with pytest.raises(LookupError):
        queue.replay("job_unknown")


def test_purge_deletes_the_dead_letters_only(queue: WorkQueue) -> None:
    for n in range(3):
        queue.enqueue(job(delivery_id=f"dlv_{n}"))
    for _ in range(2):
        reserved = queue.reserve(LEASE)
        assert reserved is not None
        queue.bury(reserved, "boom")
    assert queue.purge() == 2
    assert queue.dead_letters() == []
    assert queue.stats().depth == 1


def test_stats_count_depth_due_leased_and_dead(queue: WorkQueue, clock: FakeClock) -> None:
    empty = queue.stats()
    assert (empty.depth, empty.due, empty.leased, empty.dead, empty.oldest_age) == (
        0,
        0,
        0,
        0,
        None,
    )
    for n in range(4):
        queue.enqueue(job(delivery_id=f"dlv_{n}"))
    clock.now += 5
    running = queue.reserve(LEASE)
    retried = queue.reserve(LEASE)
    dead = queue.reserve(LEASE)
    assert running is not None
    assert retried is not None
    assert dead is not None
    queue.retry(retried, 60, "boom")
    queue.bury(dead, "boom")
    stats = queue.stats()
    assert (stats.depth, stats.due, stats.leased, stats.dead) == (3, 1, 1, 1)
    assert stats.oldest_age == pytest.approx(5)


# -- the receiver's transaction -----------------------------------------------------------------


def test_claim_enqueue_of_a_new_delivery_enqueues_it_and_remembers_it_done(
    queue: WorkQueue,
) -> None:
    keys = ("d:dlv_1", "b:aaaa")
    assert queue.claim_enqueue(keys, LEASE, RETENTION, "t1", job()) is ClaimState.NEW
    assert queue.stats().depth == 1
    assert queue.claim(keys, LEASE, "t2") is ClaimState.DONE
    # a replay of the body under a new delivery id: a duplicate, nothing enqueued
    assert queue.claim_enqueue(("d:dlv_2", "b:aaaa"), LEASE, RETENTION, "t3", job()) is (
        ClaimState.DONE
    )
    assert queue.stats().depth == 1
    # ... and its new delivery id is remembered too
    assert queue.claim(("d:dlv_2",), LEASE, "t4") is ClaimState.DONE


def test_claim_enqueue_held_by_an_inline_claim_writes_nothing(queue: WorkQueue) -> None:
    keys = ("d:dlv_1", "b:aaaa")
    assert queue.claim(keys, LEASE, "inline") is ClaimState.NEW
    assert queue.claim_enqueue(keys, LEASE, RETENTION, "t1", job()) is ClaimState.IN_PROGRESS
    assert queue.stats().depth == 0
    queue.release(keys, "inline")
    assert queue.claim_enqueue(keys, LEASE, RETENTION, "t1", job()) is ClaimState.NEW


def test_concurrent_workers_never_reserve_the_same_job(queue: WorkQueue) -> None:
    for n in range(40):
        queue.enqueue(job(delivery_id=f"dlv_{n}"))
    taken: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(4)

    def work() -> None:
        start.wait(timeout=30)
        while (reserved := queue.reserve(LEASE)) is not None:
            with lock:
                taken.append(reserved.id)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(taken) == 40
    assert len(set(taken)) == 40


# -- URLs and failures --------------------------------------------------------------------------


def test_open_queue_reads_sqlite_and_postgresql_urls(tmp_path: Path) -> None:
    sqlite = open_queue(f"sqlite:///{tmp_path / 'hooks.db'}?busy_timeout=2")
    assert isinstance(sqlite, SQLiteQueue)
    assert sqlite.busy_timeout == 2.0
    assert sqlite.same_database(f"sqlite:///{tmp_path / 'hooks.db'}")
    assert not sqlite.same_database(f"sqlite:///{tmp_path / 'other.db'}")
    assert not sqlite.same_database("memory://")
    pg = open_queue("postgresql://postgres@db.example:5432/hooks?schema=hooks&sslmode=require")
    assert isinstance(pg, PostgresQueue)
    assert pg.schema == "hooks"
    assert pg.same_database(
        "postgresql://postgres@db.example:5432/hooks?sslmode=require&schema=hooks"
    )
    assert not pg.same_database("postgresql://postgres@db.example:5432/hooks?sslmode=require")
    assert not pg.same_database(f"sqlite:///{tmp_path / 'hooks.db'}")
    assert open_queue(pg) is pg


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("hooks.db", "must be given as a URL"),
        ("redis://localhost/0", "Unknown job queue URL scheme 'redis'"),
        ("sqlite://:memory:", "in-memory"),
        ("postgresql://localhost/db?schema=a;drop", "plain identifier"),
    ],
)
def test_a_bad_queue_url_is_a_configuration_error(url: str, message: str) -> None:
    from cortexhooks_receiver.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match=message):
        open_queue(url)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.mark.parametrize("case", ["sqlite-missing-directory", "postgres-closed-port"])
def test_an_unreachable_queue_raises_queue_error_from_every_method(
    case: str, tmp_path: Path
) -> None:
    queue: WorkQueue = (
        SQLiteQueue(tmp_path / "missing" / "hooks.db")
        if case.startswith("sqlite")
        else PostgresQueue(f"postgresql://postgres@127.0.0.1:{_closed_port()}/test")
    )
    queued = job()
    calls = [
        lambda: queue.enqueue(queued),
        lambda: queue.claim_enqueue(("d:x",), LEASE, RETENTION, "t", queued),
        lambda: queue.reserve(LEASE),
        lambda: queue.ack(queued),
        lambda: queue.retry(queued, 1, "e"),
        lambda: queue.bury(queued, "e"),
        queue.dead_letters,
        lambda: queue.dead_letter("job_x"),
        lambda: queue.replay("job_x"),
        queue.purge,
        queue.stats,
    ]
    for call in calls:
        with pytest.raises(QueueError):
            call()
    queue.close()

"""Background mode: the receiver answers 202 once a delivery is durably queued; a worker runs it.

Both drivers (``handle`` and ``handle_async``), with the dedup keys in the queue's own database
(the claim and the enqueue are one transaction) and in a separate store. Queues get an injected
clock, so retries' backoffs and leases pass without sleeping.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import cortexhooks_receiver as ch
from cortexhooks_receiver.errors import ConfigurationError, PermanentError, QueueError
from cortexhooks_receiver.jobs import Job, RetryPolicy
from cortexhooks_receiver.jobs.attempt import attempt
from cortexhooks_receiver.jobs.sqlite import SQLiteQueue
from cortexhooks_receiver.stores import SQLiteStore
from cortexhooks_receiver.testing import make_body

SECRET = "whsec_background_test_secret_0123"
QUEUED = b'{"received":true,"queued":true}'


class FakeClock:
    def __init__(self, start: float = 1_762_698_600.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def queue(tmp_path: Path, clock: FakeClock) -> Iterator[SQLiteQueue]:
    made = SQLiteQueue(tmp_path / "hooks.db", clock=clock)
    yield made
    made.close()


def _receiver(queue: Any, store: Any = None, **options: Any) -> ch.Receiver:
    return ch.Receiver(
        SECRET, store=queue if store is None else store, queue=queue, router=ch.Router(), **options
    )


def _send(
    receiver: ch.Receiver,
    *,
    delivery_id: str = "dlv_1",
    body: bytes | None = None,
    driver: str = "sync",
) -> ch.Outcome:
    body = make_body("invoice.paid") if body is None else body
    headers = ch.sign(body, SECRET, delivery_id=delivery_id, webhook_id="wh_7")
    if driver == "async":
        return asyncio.run(receiver.handle_async(body, headers))
    return receiver.handle(body, headers)


DRIVERS = ["sync", "async"]


def _body(n: int) -> bytes:
    """A body of its own (make_body's are equal within one millisecond)."""
    return make_body("invoice.paid", **{"data.id": f"inv-{n}"})


# -- the answer ---------------------------------------------------------------------------------


@pytest.mark.parametrize("driver", DRIVERS)
@pytest.mark.parametrize("shared", [True, False], ids=["one-database", "separate-store"])
def test_a_verified_delivery_is_queued_and_answered_202_then_duplicates_are_200(
    queue: SQLiteQueue, tmp_path: Path, driver: str, shared: bool
) -> None:
    store = queue if shared else SQLiteStore(tmp_path / "dedup.db")
    receiver = _receiver(queue, store)
    assert (receiver.store is receiver.queue) is shared
    receiver.on("invoice.paid")(lambda event: None)
    body = make_body("invoice.paid")
    outcome = _send(receiver, body=body, driver=driver)
    assert (outcome.status, outcome.body, outcome.ok) == (202, QUEUED, True)
    assert json.loads(outcome.body) == {"received": True, "queued": True}
    assert outcome.event is not None
    assert outcome.event.delivery_id == "dlv_1"
    assert not outcome.duplicate
    assert queue.stats().depth == 1
    # CortexBuild's retry, and a replay of the body under a fresh delivery id: duplicates
    for delivery_id in ("dlv_1", "dlv_replayed"):
        again = _send(receiver, body=body, delivery_id=delivery_id, driver=driver)
        assert (again.status, again.duplicate) == (200, True)
    assert queue.stats().depth == 1


def test_the_job_holds_the_verified_delivery_and_never_the_secret(
    queue: SQLiteQueue, tmp_path: Path
) -> None:
    receiver = ch.Receiver(
        secrets=["whsec_newer_secret_0123456", SECRET], store=queue, queue=queue, router=ch.Router()
    )
    receiver.on("invoice.paid")(lambda event: None)
    body = make_body("invoice.paid")
    assert _send(receiver, body=body).status == 202
    reserved = queue.reserve(30)
    assert reserved is not None
    assert (reserved.body, reserved.event, reserved.delivery_id, reserved.webhook_id) == (
        body,
        "invoice.paid",
        "dlv_1",
        "wh_7",
    )
    assert reserved.secret_index == 1  # the older secret signed it
    queue.close()
    data = b"".join(p.read_bytes() for p in tmp_path.glob("hooks.db*"))
    assert SECRET.encode() not in data
    assert b"whsec_newer" not in data


def test_an_event_with_no_handler_is_acknowledged_and_not_queued(queue: SQLiteQueue) -> None:
    receiver = _receiver(queue)
    outcome = _send(receiver)
    assert (outcome.status, outcome.body) == (200, b'{"received":true}')
    assert queue.stats().depth == 0


def test_a_permanent_error_inline_is_a_handler_failure(tmp_path: Path) -> None:
    receiver = ch.Receiver(SECRET, router=ch.Router())

    @receiver.on("invoice.paid")
    def handler(event: Any) -> None:
        assert event.attempt == 1
        raise PermanentError("unknown customer")

    outcome = _send(receiver)
    assert (outcome.status, outcome.error and outcome.error.code) == (500, "handler_error")


def test_inline_mode_stays_the_default(tmp_path: Path) -> None:
    receiver = ch.Receiver(SECRET, router=ch.Router())
    ran: list[str] = []
    receiver.on("invoice.paid")(lambda event: ran.append(event.event))
    assert receiver.queue is None
    outcome = _send(receiver)
    assert (outcome.status, ran) == (200, ["invoice.paid"])


# -- only a durable enqueue earns a 2xx ---------------------------------------------------------


class BrokenQueue:
    """A queue whose backing service is down (it is a Queue; it never stores anything)."""

    def __init__(self) -> None:
        self.down = True
        self.jobs: list[Job] = []

    def enqueue(self, job: Job) -> None:
        if self.down:
            raise QueueError("connection refused")
        self.jobs.append(job)

    def dead_letters(self) -> list[Any]:
        return []

    def dead_letter(self, job_id: str) -> Any:
        raise NotImplementedError

    def replay(self, job_id: str) -> None:
        raise NotImplementedError

    def purge(self) -> int:
        return 0

    def stats(self) -> Any:
        raise NotImplementedError

    def close(self) -> None:
        pass


@pytest.mark.parametrize("driver", DRIVERS)
@pytest.mark.parametrize("store", ["memory", "sqlite"])
def test_a_failed_enqueue_is_503_and_releases_the_claim(
    tmp_path: Path, driver: str, store: str, caplog: pytest.LogCaptureFixture
) -> None:
    broken = BrokenQueue()
    dedup = SQLiteStore(tmp_path / "dedup.db") if store == "sqlite" else ch.Receiver(SECRET).store
    receiver = ch.Receiver(SECRET, store=dedup, queue=broken, router=ch.Router())
    receiver.on("invoice.paid")(lambda event: None)
    body = make_body("invoice.paid")
    outcome = _send(receiver, body=body, driver=driver)
    assert outcome.status == 503
    assert json.loads(outcome.body)["error"] == "queue_unavailable"
    assert "connection refused" not in outcome.body.decode()
    assert "Job queue unavailable" in caplog.text
    if isinstance(dedup, SQLiteStore):
        assert len(dedup) == 0  # nothing recorded
    # the platform's retry, once the queue is back, is queued (the claim did not survive)
    broken.down = False
    assert _send(receiver, body=body, driver=driver).status == 202
    assert len(broken.jobs) == 1


@pytest.mark.parametrize("driver", DRIVERS)
def test_an_unreachable_queue_database_is_503_and_nothing_is_recorded(
    tmp_path: Path, driver: str
) -> None:
    url = f"sqlite:///{tmp_path / 'not-yet' / 'hooks.db'}"
    receiver = ch.Receiver(SECRET, store=url, queue=url, router=ch.Router())
    receiver.on("invoice.paid")(lambda event: None)
    assert receiver.store is receiver.queue
    body = make_body("invoice.paid")
    outcome = _send(receiver, body=body, driver=driver)
    assert (outcome.status, outcome.error and outcome.error.code) == (503, "queue_unavailable")
    (tmp_path / "not-yet").mkdir()
    assert _send(receiver, body=body, driver=driver).status == 202


@pytest.mark.postgres
def test_background_mode_on_postgresql_shares_one_transaction(
    postgres_dsn: str, postgres_schema: str
) -> None:
    url = f"{postgres_dsn}?schema={postgres_schema}"
    receiver = ch.Receiver(SECRET, store=url, queue=url, router=ch.Router())
    seen: list[tuple[str | None, int]] = []
    receiver.on("invoice.paid")(lambda event: seen.append((event.delivery_id, event.attempt)))
    assert receiver.store is receiver.queue
    body = make_body("invoice.paid")
    assert _send(receiver, body=body).status == 202
    assert _send(receiver, body=body).duplicate
    assert ch.Worker(receiver).drain() == 1
    assert seen == [("dlv_1", 1)]
    assert receiver.queue is not None
    receiver.queue.close()


# -- the worker ---------------------------------------------------------------------------------


def test_the_worker_gives_handlers_the_delivery_id_and_the_attempt(
    queue: SQLiteQueue, clock: FakeClock
) -> None:
    receiver = _receiver(queue)
    seen: list[tuple[str | None, str | None, int]] = []

    @receiver.on("invoice.paid")
    def flaky(event: Any) -> None:
        seen.append((event.delivery_id, event.webhook_id, event.attempt))
        if event.attempt < 3:
            raise RuntimeError("try again")

    @receiver.on("invoice.*")
    async def also_async(event: Any) -> None:
        await asyncio.sleep(0)
        seen.append(("async", None, event.attempt))

    _send(receiver)
    worker = ch.Worker(receiver, backoff=0)
    assert worker.drain() == 3
    assert seen == [
        ("dlv_1", "wh_7", 1),
        ("dlv_1", "wh_7", 2),
        ("dlv_1", "wh_7", 3),
        ("async", None, 3),
    ]
    assert queue.stats().depth == 0


def test_retries_back_off_then_the_job_is_a_dead_letter_and_a_replay_succeeds(
    queue: SQLiteQueue, clock: FakeClock
) -> None:
    receiver = _receiver(queue)
    fixed = {"broken": True}
    runs: list[int] = []

    @receiver.on("invoice.paid")
    def handler(event: Any) -> None:
        runs.append(event.attempt)
        if fixed["broken"]:
            raise RuntimeError("accounting API down")

    _send(receiver)
    worker = ch.Worker(receiver, max_attempts=3, backoff=10, max_backoff=15)
    assert worker.drain() == 1
    assert worker.drain() == 0  # backing off: not due yet
    clock.now += 15  # the longest the jittered backoff can be
    assert worker.drain() == 1
    clock.now += 15
    assert worker.drain() == 1
    assert runs == [1, 2, 3]
    (letter,) = queue.dead_letters()
    assert (letter.attempts, letter.error) == (3, "RuntimeError: accounting API down")
    assert letter.delivery_id == "dlv_1"
    fixed["broken"] = False
    queue.replay(letter.job_id)
    assert worker.drain() == 1
    assert runs == [1, 2, 3, 1]
    assert queue.dead_letters() == []
    assert queue.stats().depth == 0


def test_a_permanent_error_is_dead_lettered_at_once(queue: SQLiteQueue) -> None:
    receiver = _receiver(queue)

    @receiver.on("invoice.paid")
    def handler(event: Any) -> None:
        raise PermanentError("unknown customer cus_42")

    _send(receiver)
    assert ch.Worker(receiver, backoff=0).drain() == 1
    (letter,) = queue.dead_letters()
    assert (letter.attempts, letter.error) == (1, "PermanentError: unknown customer cus_42")


def test_a_timing_out_async_handler_is_cancelled_and_retried(queue: SQLiteQueue) -> None:
    receiver = _receiver(queue)
    cancelled: list[int] = []

    @receiver.on("invoice.paid")
    async def slow_first(event: Any) -> None:
        if event.attempt == 1:
            try:
                await asyncio.Event().wait()  # never set: only the timeout ends it
            except asyncio.CancelledError:
                cancelled.append(event.attempt)
                raise

    _send(receiver)
    worker = ch.Worker(receiver, backoff=0, timeout=0.2)
    assert worker.drain() == 2
    assert cancelled == [1]
    assert queue.stats().depth == 0
    assert queue.dead_letters() == []


def test_a_handlers_own_timeout_error_is_not_taken_for_the_jobs(queue: SQLiteQueue) -> None:
    receiver = _receiver(queue)

    @receiver.on("invoice.paid")
    async def handler(event: Any) -> None:
        raise TimeoutError("the accounting API timed out")

    _send(receiver)
    assert ch.Worker(receiver, max_attempts=1, timeout=5).drain() == 1
    (letter,) = queue.dead_letters()
    assert letter.error == "TimeoutError: the accounting API timed out"


def test_a_job_whose_leases_keep_running_out_is_buried_without_running_again(
    queue: SQLiteQueue, clock: FakeClock
) -> None:
    receiver = _receiver(queue)
    runs: list[int] = []
    receiver.on("invoice.paid")(lambda event: runs.append(event.attempt))
    _send(receiver)
    for _ in range(2):  # two workers die holding it
        assert queue.reserve(30) is not None
        clock.now += 31
    assert ch.Worker(receiver, max_attempts=2, timeout=30).drain() == 1
    assert runs == []
    (letter,) = queue.dead_letters()
    assert letter.attempts == 3
    assert letter.error.startswith("LeaseExpired: the job's lease ran out 2 times")


def test_a_worker_that_overran_its_lease_records_nothing(
    queue: SQLiteQueue, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    receiver = _receiver(queue)

    @receiver.on("invoice.paid")
    def overrun(event: Any) -> None:
        clock.now += 31  # a sync handler cannot be interrupted; another worker took over
        assert queue.reserve(30) is not None

    _send(receiver)
    job = queue.reserve(30)
    assert job is not None
    outcome = attempt(receiver, job, queue, RetryPolicy(), timeout=30)
    assert outcome == "lost"
    assert "after its lease had passed to another worker" in caplog.text
    assert queue.stats().leased == 1  # the new holder's lease stands


def test_job_attempts_are_logged_with_structured_fields(
    queue: SQLiteQueue, caplog: pytest.LogCaptureFixture
) -> None:
    receiver = _receiver(queue)
    receiver.on("invoice.paid")(lambda event: None)
    _send(receiver)
    caplog.set_level("INFO", logger="cortexhooks_receiver.jobs")
    ch.Worker(receiver).drain()
    (record,) = [r for r in caplog.records if r.name == "cortexhooks_receiver.jobs"]
    fields = {k: getattr(record, k) for k in ("event", "delivery_id", "attempt", "outcome")}
    assert fields == {
        "event": "invoice.paid",
        "delivery_id": "dlv_1",
        "attempt": 1,
        "outcome": "done",
    }
    assert record.job_id.startswith("job_")  # type: ignore[attr-defined]


def test_retry_delays_grow_exponentially_with_jitter_up_to_the_maximum() -> None:
    low = RetryPolicy(8, backoff=1, max_backoff=60, rng=lambda: 1.0)
    high = RetryPolicy(8, backoff=1, max_backoff=60, rng=lambda: 0.0)
    assert [high.delay(n) for n in range(1, 9)] == [1, 2, 4, 8, 16, 32, 60, 60]
    assert [low.delay(n) for n in range(1, 9)] == [0.5, 1, 2, 4, 8, 16, 30, 30]
    assert high.retry_after(8, RuntimeError()) is None
    assert high.retry_after(1, PermanentError()) is None
    assert high.retry_after(7, RuntimeError()) == 60


# -- running the worker -------------------------------------------------------------------------


def test_a_worker_needs_a_receiver_with_a_built_in_queue() -> None:
    with pytest.raises(ConfigurationError, match="inline"):
        ch.Worker(ch.Receiver(SECRET))
    receiver = ch.Receiver(SECRET, queue=BrokenQueue(), router=ch.Router())
    with pytest.raises(ConfigurationError, match="its own engine"):
        ch.Worker(receiver)


@pytest.mark.parametrize(
    "options",
    [{"concurrency": 0}, {"timeout": 0}, {"max_attempts": 0}, {"backoff": -1}],
)
def test_worker_settings_out_of_range_are_configuration_errors(
    queue: SQLiteQueue, options: dict[str, Any]
) -> None:
    with pytest.raises(ConfigurationError):
        ch.Worker(_receiver(queue), **options)


def test_start_runs_jobs_in_a_thread_until_stop(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'hooks.db'}"
    receiver = ch.Receiver(SECRET, store=url, queue=url, router=ch.Router())
    done = threading.Event()
    receiver.on("invoice.paid")(lambda event: done.set())
    worker = ch.Worker(receiver, concurrency=2, poll_interval=0.05)
    worker.start()
    with pytest.raises(RuntimeError):
        worker.start()
    try:
        assert _send(receiver).status == 202
        assert done.wait(timeout=30)
    finally:
        worker.stop(timeout=30)
    assert worker._thread is not None
    assert not worker._thread.is_alive()


def test_sigterm_lets_the_running_job_finish_then_run_returns(queue: SQLiteQueue) -> None:
    receiver = _receiver(queue)
    finished: list[str] = []

    @receiver.on("invoice.paid")
    def handler(event: Any) -> None:
        os.kill(os.getpid(), signal.SIGTERM)  # the signal arrives mid-job
        finished.append(event.delivery_id)

    for n in range(3):
        _send(receiver, delivery_id=f"dlv_{n}", body=_body(n))
    previous = signal.getsignal(signal.SIGTERM)
    ran = ch.Worker(receiver).run()
    assert (ran, finished) == (1, ["dlv_0"])
    assert queue.stats().depth == 2  # the others wait for the next worker
    assert signal.getsignal(signal.SIGTERM) is previous


def test_run_in_burst_mode_returns_once_no_job_is_due(queue: SQLiteQueue) -> None:
    receiver = _receiver(queue)
    ran: list[str] = []
    receiver.on("invoice.paid")(lambda event: ran.append(event.delivery_id))
    for n in range(5):
        _send(receiver, delivery_id=f"dlv_{n}", body=_body(n))
    assert ch.Worker(receiver, concurrency=3).run(burst=True) == 5
    assert sorted(ran) == [f"dlv_{n}" for n in range(5)]


def test_flask_and_django_settings_name_the_queue(tmp_path: Path) -> None:
    from flask import Flask

    from cortexhooks_receiver.integrations.flask import CortexHooks

    url = f"sqlite:///{tmp_path / 'hooks.db'}"
    app = Flask("background_settings")
    app.config.update(CORTEXHOOKS_SECRET=SECRET, CORTEXHOOKS_STORE=url, CORTEXHOOKS_QUEUE=url)
    receiver = CortexHooks(app).receiver
    assert receiver is not None
    assert isinstance(receiver.queue, SQLiteQueue)
    assert receiver.store is receiver.queue
    receiver.queue.close()

"""What the receiver guarantees around the store: never twice after a recorded success.

* A completion the store fails to record is retried once, then kept in this process and checked
  before the store, so a replay after the claim's lease cannot run the handlers again; it is
  written to the store as soon as the store answers again.
* A handler that runs longer than the lease keeps its claim (a heartbeat extends it), so a retry
  meanwhile answers 409 instead of running the handlers a second time, concurrently.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

import cortexhooks_receiver as ch
from cortexhooks_receiver.stores import ClaimState, MemoryStore, StoreError
from cortexhooks_receiver.stores.sqlite import SQLiteStore

SECRET = "whsec_completion_lease_0123456789ab"
START = 1_767_225_600.0


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now


class FlakyStore:
    """A real SQLite store whose complete() fails while ``failures`` is above zero."""

    def __init__(self, path: Path, clock: Clock) -> None:
        self.inner = SQLiteStore(path, clock=clock)
        self.failures = 0
        self.completes = 0

    def claim(self, keys: Sequence[str], lease: float, token: str) -> ClaimState:
        return self.inner.claim(keys, lease, token)

    def complete(self, keys: Sequence[str], retention: float, token: str) -> None:
        self.completes += 1
        if self.failures:
            self.failures -= 1
            raise StoreError("the store went away")
        self.inner.complete(keys, retention, token)

    def release(self, keys: Sequence[str], token: str) -> None:
        self.inner.release(keys, token)

    def close(self) -> None:
        self.inner.close()


def _body(n: int, clock: Clock) -> bytes:
    return b'{"event":"task.created","timestamp":%d,"data":{"id":"t-%d"}}' % (
        int(clock.now * 1000),
        n,
    )


def _send(receiver: ch.Receiver, body: bytes, clock: Clock, delivery_id: str) -> ch.Outcome:
    headers = ch.sign(body, SECRET, timestamp=int(clock.now * 1000), delivery_id=delivery_id)
    return receiver.handle(body, headers)


@pytest.fixture
def setup(tmp_path: Path) -> tuple[ch.Receiver, FlakyStore, Clock, list[str]]:
    clock = Clock()
    store = FlakyStore(tmp_path / "dedup.db", clock)
    receiver = ch.Receiver(SECRET, store=store, now=clock, router=ch.Router(), lease=60)
    runs: list[str] = []
    receiver.on("task.created")(lambda event: runs.append(event.data.id))
    return receiver, store, clock, runs


def test_a_completion_that_fails_once_is_retried_and_recorded(setup: Any) -> None:
    receiver, store, clock, _ = setup
    store.failures = 1
    body = _body(1, clock)
    assert _send(receiver, body, clock, "dlv_1").status == 200
    assert store.completes == 2
    assert store.inner.claim(["d:dlv_1"], 60, "other") is ClaimState.DONE


def test_a_completion_the_store_never_records_still_never_runs_twice(
    setup: Any, caplog: pytest.LogCaptureFixture
) -> None:
    receiver, store, clock, runs = setup
    store.failures = 2
    body = _body(1, clock)
    assert _send(receiver, body, clock, "dlv_1").status == 200  # the handlers ran: stop retrying
    assert "remembers it until the store answers again" in caplog.text
    clock.now += 120  # the claim's lease is over: the store alone would say NEW
    replay = _send(receiver, body, clock, "dlv_forged")
    assert (replay.status, replay.duplicate) == (200, True)
    assert runs == ["t-1"]


def test_what_the_store_missed_is_recorded_once_it_answers_again(setup: Any) -> None:
    receiver, store, clock, runs = setup
    store.failures = 2
    assert _send(receiver, _body(1, clock), clock, "dlv_1").status == 200
    assert _send(receiver, _body(2, clock), clock, "dlv_2").status == 200  # the store is back
    assert store.inner.claim(["d:dlv_1"], 60, "other") is ClaimState.DONE
    assert not receiver._unrecorded
    assert runs == ["t-1", "t-2"]


def test_handle_async_keeps_and_catches_up_on_missed_completions(setup: Any) -> None:
    receiver, store, clock, runs = setup
    store.failures = 2
    body = _body(1, clock)
    headers = ch.sign(body, SECRET, timestamp=int(clock.now * 1000), delivery_id="dlv_1")
    assert asyncio.run(receiver.handle_async(body, headers)).status == 200
    clock.now += 120
    again = ch.sign(body, SECRET, timestamp=int(clock.now * 1000), delivery_id="dlv_x")
    assert asyncio.run(receiver.handle_async(body, again)).duplicate
    second = _body(2, clock)
    headers = ch.sign(second, SECRET, timestamp=int(clock.now * 1000), delivery_id="dlv_2")
    assert asyncio.run(receiver.handle_async(second, headers)).status == 200
    assert store.inner.claim(["d:dlv_1"], 60, "other") is ClaimState.DONE
    assert runs == ["t-1", "t-2"]


# -- the heartbeat ------------------------------------------------------------------------------


def _store(kind: str, tmp_path: Path, clock: Clock) -> Any:
    if kind == "memory":
        return MemoryStore(clock=clock)
    return SQLiteStore(tmp_path / "dedup.db", clock=clock)


@pytest.mark.parametrize("path", ["straight", "pipeline"])
@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_a_body_signed_ahead_of_this_clock_is_remembered_until_it_is_too_old(
    kind: str, path: str, tmp_path: Path
) -> None:
    # The window lets a body's signed time be up to the tolerance (300 s) ahead of this clock,
    # and the age check accepts a body until the retention after its signed time. Remembered for
    # the retention after it was processed, such a body was forgotten while still young enough:
    # a replay (fresh timestamp header, new delivery id) in those last minutes ran it again.
    clock = Clock()
    store = _store(kind, tmp_path, clock)
    receiver = ch.Receiver(SECRET, store=store, now=clock, router=ch.Router(), retention=3600)
    if path == "pipeline":
        receiver._straight = None
    runs: list[str] = []
    receiver.on("task.created")(lambda event: runs.append(event.data.id))
    ahead = 240.0
    body = b'{"event":"task.created","timestamp":%d,"data":{"id":"t-ahead"}}' % (
        int((clock.now + ahead) * 1000)
    )
    assert _send(receiver, body, clock, "dlv_first").status == 200
    clock.now += 3600 + ahead - 1  # one second before the body is too old
    replay = _send(receiver, body, clock, "dlv_replayed")
    assert (replay.status, replay.duplicate) == (200, True)
    clock.now += 1  # now it is too old
    late = _send(receiver, body, clock, "dlv_late")
    assert (late.status, late.error and late.error.code) == (401, "event_too_old")
    assert runs == ["t-ahead"]


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_a_handler_that_outlives_its_lease_keeps_its_claim(kind: str, tmp_path: Path) -> None:
    clock = Clock()
    store = _store(kind, tmp_path, clock)
    receiver = ch.Receiver(SECRET, store=store, now=clock, router=ch.Router(), lease=60)
    started, release = threading.Event(), threading.Event()
    runs: list[str] = []

    @receiver.on("task.created")
    def slow(event: Any) -> None:
        runs.append(event.delivery_id)
        started.set()
        assert release.wait(30)

    body = _body(1, clock)
    first: list[ch.Outcome] = []
    worker = threading.Thread(target=lambda: first.append(_send(receiver, body, clock, "dlv_1")))
    worker.start()
    assert started.wait(30)
    heartbeat = receiver._heartbeat
    clock.now += 20
    assert heartbeat.beat() == 0  # it began less than a beat ago
    clock.now += 20
    assert heartbeat.beat() == 1  # extended: now + 60
    clock.now += 30  # 70 s after the claim: past the original lease
    retry = _send(receiver, body, clock, "dlv_1")
    assert (retry.status, retry.error and retry.error.code) == (409, "in_progress")
    release.set()
    worker.join(30)
    assert first[0].status == 200
    assert runs == ["dlv_1"]
    assert heartbeat.beat() == 0  # finished deliveries are no longer extended
    assert _send(receiver, body, clock, "dlv_1").duplicate


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_a_beat_that_lands_after_a_failed_handler_released_its_claim_takes_nothing_back(
    kind: str, tmp_path: Path
) -> None:
    # The heartbeat thread copies the running deliveries, then extends each: a handler can fail
    # and its claim be released in between. That late extension must not re-create the claim,
    # or the retry would be answered 409 in_progress for a whole lease.
    clock = Clock()
    store = _store(kind, tmp_path, clock)
    receiver = ch.Receiver(SECRET, store=store, now=clock, router=ch.Router(), lease=60)
    caught: list[Any] = []
    runs: list[int] = []

    @receiver.on("task.created")
    def fails_once(event: Any) -> None:
        runs.append(1)
        if len(runs) == 1:
            caught.extend(receiver._heartbeat.running.items())  # what a beat has copied
            raise RuntimeError("first attempt fails")

    body = _body(1, clock)
    assert _send(receiver, body, clock, "dlv_1").status == 500
    [(token, running)] = caught
    receiver._extend_claim(token, running)  # the copied beat lands after the release
    retry = _send(receiver, body, clock, "dlv_1")
    assert retry.status == 200, retry.error
    assert not retry.duplicate
    assert len(runs) == 2


def test_a_failed_extension_is_logged_and_the_next_beat_tries_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from cortexhooks_receiver._heartbeat import Heartbeat

    calls: list[object] = []

    def extend(token: str, delivery: object) -> None:
        calls.append(delivery)
        if len(calls) == 1:
            raise StoreError("down")

    heartbeat = Heartbeat(extend, lease=60)
    heartbeat.running["t"] = "delivery"
    assert heartbeat.beat() == 0
    assert heartbeat.beat() == 0  # the store failed: logged, not raised
    assert heartbeat.beat() == 1
    assert "Could not extend a running delivery's claim" in caplog.text
    assert heartbeat.interval == 20


def test_a_dropped_receiver_stops_its_heartbeat_and_is_freed() -> None:
    # Found by the fuzzer (fuzz/fuzz_receiver.py builds a receiver per input): the heartbeat
    # thread held the receiver, so every receiver that ever ran a handler lived, with its
    # thread, until the process ended.
    import gc
    import sys
    import weakref

    # A full collection here also finalises whatever earlier tests left in reference cycles (a
    # client socket's ResourceWarning, say), which pytest would pin on this test: collect that
    # first, out of its sight, so that the collection below is about this receiver alone.
    previous, sys.unraisablehook = sys.unraisablehook, lambda unraisable: None
    try:
        gc.collect()
    finally:
        sys.unraisablehook = previous
    clock = Clock()
    receiver = ch.Receiver(SECRET, now=clock, router=ch.Router())
    ran: list[str] = []
    receiver.on("task.created")(lambda event: ran.append(event.delivery_id))
    assert _send(receiver, _body(1, clock), clock, "dlv_1").status == 200
    assert ran == ["dlv_1"]
    thread = receiver._heartbeat.thread
    assert thread is not None
    assert thread.is_alive()
    gone = weakref.ref(receiver)
    del receiver
    gc.collect()
    assert gone() is None
    thread.join(30)  # woken at once by the heartbeat's finalizer, not after a beat interval
    assert not thread.is_alive()

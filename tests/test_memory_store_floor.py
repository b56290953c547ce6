"""The memory store's bound never reopens a body: what it forgot is refused as too old.

Once ``max_entries`` is reached the store forgets its oldest entries. A captured body whose entry
was forgotten, resent with a fresh delivery id and timestamp header, must not run again: the store
raises a floor at the newest forgotten claim and the receiver refuses, as ``event_too_old``, every
body signed before it (plus the tolerance).
"""

from __future__ import annotations

import logging

import pytest

import cortexhooks_receiver as ch
from cortexhooks_receiver.stores import MemoryStore

SECRET = "whsec_memory_floor_0123456789abcdef"
START = 1_767_225_600.0


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now


def _body(n: int, signed_at: float) -> bytes:
    return b'{"event":"task.created","timestamp":%d,"data":{"id":"t-%d"}}' % (
        int(signed_at * 1000),
        n,
    )


def _setup(max_entries: int = 8) -> tuple[ch.Receiver, MemoryStore, Clock, list[str]]:
    clock = Clock()
    store = MemoryStore(max_entries, clock=clock)
    receiver = ch.Receiver(SECRET, store=store, now=clock, router=ch.Router(), tolerance=300)
    runs: list[str] = []
    receiver.on("task.created")(lambda event: runs.append(event.data.id))
    return receiver, store, clock, runs


def _send(receiver: ch.Receiver, body: bytes, clock: Clock, delivery_id: str) -> ch.Outcome:
    headers = ch.sign(body, SECRET, timestamp=int(clock.now * 1000), delivery_id=delivery_id)
    return receiver.handle(body, headers)


def test_a_forgotten_body_replayed_under_a_fresh_id_is_refused_not_run_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    receiver, store, clock, runs = _setup()
    captured = _body(0, clock.now)
    assert _send(receiver, captured, clock, "dlv_0").status == 200
    for n in range(1, 20):  # each delivery stores two keys: the first is soon forgotten
        clock.now += 10
        assert _send(receiver, _body(n, clock.now), clock, f"dlv_{n}").status == 200
    assert store.floor_ms >= START * 1000  # the first delivery's entry is gone, in retention
    clock.now += 10
    replay = _send(receiver, captured, clock, "dlv_forged")
    assert replay.status == 401
    assert replay.error is not None
    assert replay.error.code == "event_too_old"
    assert "memory:// dedup store filled up" in replay.error.hint
    assert runs.count("t-0") == 1
    warnings = [r.getMessage() for r in caplog.records if r.name == "cortexhooks_receiver.stores"]
    assert len(warnings) == 1
    assert "max_entries=8" in warnings[0]


def test_a_body_signed_after_the_floor_and_its_tolerance_is_still_accepted() -> None:
    receiver, store, clock, runs = _setup()
    for n in range(20):
        clock.now += 10
        _send(receiver, _body(n, clock.now), clock, f"dlv_{n}")
    assert store.floor_ms > 0
    clock.now += 10
    fresh = _body(99, clock.now)
    assert _send(receiver, fresh, clock, "dlv_99").status == 200  # signed after the floor
    assert "t-99" in runs


def test_forgetting_expired_entries_raises_no_floor(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    clock = Clock()
    store = MemoryStore(4, clock=clock)
    for n in range(20):
        clock.now += 100
        store.claim((f"k{n}",), 1, "t")  # each claim's lease has run out before the next
    assert store.floor_ms == 0
    assert not [r for r in caplog.records if r.name == "cortexhooks_receiver.stores"]


def test_without_a_signed_time_the_floor_is_the_wall_clock_of_the_write() -> None:
    import time

    store = MemoryStore(2)
    for n in range(6):
        store.complete((f"k{n}",), 3600, "t")
    assert abs(store.floor_ms / 1000 - time.time()) < 60

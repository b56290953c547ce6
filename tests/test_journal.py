"""The receipt journal: what a receipt holds for each answer, the journals' contract on memory,
SQLite and the real Redis, retention, rerun, and a journal that fails never changing an answer.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
import pytest
from journal_contract import *  # noqa: F403 (the contract's tests run on this module's journals)
from journal_contract import Clock, Harness, make_receipt

import cortexhooks_receiver as ch
from cortexhooks_receiver.errors import ConfigurationError, InvalidContentLength, JournalError
from cortexhooks_receiver.journal import (
    Journal,
    MemoryJournal,
    Receipt,
    open_journal,
)
from cortexhooks_receiver.journal.base import ERROR_CHARS, describe_error
from cortexhooks_receiver.journal.redis import RedisJournal
from cortexhooks_receiver.journal.sqlite import SQLiteJournal
from cortexhooks_receiver.stores import ClaimState, StoreError

SECRET = "whsec_K2Fj8sL3mN9pQ4rT7vX1yZ5bC6dE8fG"
NOW = 1_767_225_600.0  # 2026-01-01T00:00:00Z
NOW_MS = int(NOW * 1000)


def body_of(event: str = "task.completed", timestamp: int = NOW_MS, task: str = "t-1") -> bytes:
    return msgspec.json.encode(
        {"event": event, "timestamp": timestamp, "data": {"id": task, "title": "Pour slab"}}
    )


def signed(
    body: bytes,
    *,
    secret: str = SECRET,
    delivery_id: str | None = "dlv_1",
    event: str = "task.completed",
    webhook_id: str | None = "wh_1",
) -> dict[str, str]:
    headers = ch.sign(
        body, secret, timestamp=NOW_MS, event=event, delivery_id=delivery_id, webhook_id=webhook_id
    )
    headers["Content-Type"] = "application/json"
    return headers


def receiver_with(journal: str | Journal | None = "memory://", **options: Any) -> ch.Receiver:
    options.setdefault("now", Clock())
    return ch.Receiver(SECRET, router=ch.Router(), journal=journal, **options)


FACES = ["sync", "async"]


def handle(receiver: ch.Receiver, face: str, body: bytes, headers: Any, **kw: Any) -> ch.Outcome:
    if face == "sync":
        return receiver.handle(body, headers, **kw)
    return asyncio.run(receiver.handle_async(body, headers, **kw))


def newest(receiver: ch.Receiver) -> Receipt:
    assert receiver.journal is not None
    found = receiver.journal.query(limit=1)
    assert found, "no receipt was written"
    return found[0]


# --- what a receipt holds, for every kind of answer -----------------------------------------


@pytest.mark.parametrize("face", FACES)
def test_a_processed_delivery_gets_a_receipt_with_its_facts(face: str) -> None:
    receiver = receiver_with()
    receiver.on("task.completed")(lambda event: None)
    body = body_of()
    outcome = handle(receiver, face, body, signed(body), client="203.0.113.7")
    receipt = newest(receiver)
    assert outcome.status == 200
    assert (receipt.id, receipt.status, receipt.code, receipt.event) == (
        1,
        200,
        None,
        "task.completed",
    )
    assert (receipt.delivery_id, receipt.webhook_id, receipt.client) == (
        "dlv_1",
        "wh_1",
        "203.0.113.7",
    )
    assert receipt.received_at == datetime.fromtimestamp(NOW, UTC)
    assert receipt.secret_index == 0
    assert receipt.latency_ms >= 0
    assert (receipt.duplicate, receipt.error, receipt.accepted) == (False, None, True)
    assert (receipt.body, receipt.signature, receipt.timestamp) == (None, None, None)


@pytest.mark.parametrize("face", FACES)
def test_a_duplicate_is_journaled_as_one(face: str) -> None:
    receiver = receiver_with()
    body = body_of()
    handle(receiver, face, body, signed(body))
    handle(receiver, face, body, signed(body, delivery_id="dlv_2"))
    assert receiver.journal is not None
    assert [(r.delivery_id, r.duplicate) for r in receiver.journal.query()] == [
        ("dlv_2", True),
        ("dlv_1", False),
    ]


@pytest.mark.parametrize("face", FACES)
def test_a_refused_request_is_journaled_with_its_code_and_unsigned_headers(face: str) -> None:
    receiver = receiver_with()
    body = body_of()
    outcome = handle(
        receiver, face, body, signed(body, secret="whsec_wrong"), client="198.51.100.9"
    )
    receipt = newest(receiver)
    assert outcome.status == 401
    assert (receipt.status, receipt.code, receipt.accepted) == (401, "signature_mismatch", False)
    # The event name comes from the (unsigned) header: the body was never verified.
    assert (receipt.event, receipt.delivery_id, receipt.webhook_id) == (
        "task.completed",
        "dlv_1",
        "wh_1",
    )
    assert (receipt.secret_index, receipt.client, receipt.error) == (None, "198.51.100.9", None)


@pytest.mark.parametrize("container", ["dict", "environ", "asgi"])
def test_a_refused_request_has_its_headers_read_from_every_container(container: str) -> None:
    body = body_of()
    sent = signed(body, secret="whsec_wrong")
    headers: Any
    if container == "dict":
        headers = {k.lower(): v for k, v in sent.items()}
        headers["HTTP_X_CORTEXBUILD_EVENT"] = "forged.by.cgi.name"  # not a header outside environ
        del headers["x-cortexbuild-event"]
    elif container == "environ":
        headers = {"wsgi.version": (1, 0), "REQUEST_METHOD": "POST"}
        headers["CONTENT_TYPE"] = "application/json"
        for name, value in sent.items():
            headers["HTTP_" + name.upper().replace("-", "_")] = value
    else:
        headers = [(k.lower().encode(), v.encode()) for k, v in sent.items()]
    receiver = receiver_with()
    receiver.handle(body, headers)
    receipt = newest(receiver)
    assert receipt.code == "signature_mismatch"
    expected_event = None if container == "dict" else "task.completed"
    assert (receipt.event, receipt.delivery_id, receipt.webhook_id) == (
        expected_event,
        "dlv_1",
        "wh_1",
    )


@pytest.mark.parametrize("face", FACES)
def test_an_adapter_refusal_is_journaled_through_the_same_exit(face: str) -> None:
    receiver = receiver_with(journal_bodies=True)
    if face == "sync":
        outcome = receiver.refuse(InvalidContentLength(), client="192.0.2.1")
    else:
        outcome = asyncio.run(receiver.refuse_async(InvalidContentLength(), client="192.0.2.1"))
    receipt = newest(receiver)
    assert (receipt.status, receipt.code, receipt.client) == (
        400,
        "invalid_content_length",
        "192.0.2.1",
    )
    assert receipt.body is None  # never read: nothing to keep, nothing to rerun
    assert outcome.status == 400


@pytest.mark.parametrize("face", FACES)
def test_a_handler_failure_keeps_the_error_type_and_message_never_the_traceback(
    face: str,
) -> None:
    receiver = receiver_with()

    @receiver.on("task.completed")
    def fails(event: Any) -> None:
        raise LookupError("no customer for comp-1")

    body = body_of()
    outcome = handle(receiver, face, body, signed(body))
    receipt = newest(receiver)
    assert outcome.status == 500
    assert (receipt.code, receipt.error) == ("handler_error", "LookupError: no customer for comp-1")
    assert "Traceback" not in msgspec.json.encode(receipt).decode()


class DownStore:
    """A dedup store whose service is unreachable (or, with ``fail_complete``, only completes)."""

    def __init__(self, *, fail_complete: bool = False) -> None:
        self.fail_complete = fail_complete

    def claim(self, keys: Sequence[str], lease: float, token: str) -> ClaimState:
        if not self.fail_complete:
            raise StoreError("connection refused")
        return ClaimState.NEW

    def complete(self, keys: Sequence[str], retention: float, token: str) -> None:
        raise StoreError("connection reset")

    def release(self, keys: Sequence[str], token: str) -> None:
        return None

    def close(self) -> None:
        return None


@pytest.mark.parametrize("face", FACES)
def test_a_store_failure_is_journaled_with_its_error(face: str) -> None:
    receiver = receiver_with(store=DownStore())
    body = body_of()
    assert handle(receiver, face, body, signed(body)).status == 503
    receipt = newest(receiver)
    assert (receipt.code, receipt.error) == ("store_unavailable", "StoreError: connection refused")


def test_handlers_that_ran_but_could_not_be_remembered_answer_200_with_the_error_kept() -> None:
    receiver = receiver_with(store=DownStore(fail_complete=True))
    receiver.on("task.completed")(lambda event: None)
    body = body_of()
    assert receiver.handle(body, signed(body)).status == 200
    receipt = newest(receiver)
    assert (receipt.code, receipt.error) == (None, "StoreError: connection reset")


def test_an_error_message_is_cut_to_its_limit() -> None:
    text = describe_error(ValueError("x" * 10_000))
    assert len(text) == ERROR_CHARS
    assert text.startswith("ValueError: xxx")
    assert describe_error(KeyError()) == "KeyError"


def test_unsigned_header_values_are_kept_at_most_200_characters() -> None:
    receiver = receiver_with()
    body = body_of()
    headers = signed(body, secret="whsec_wrong")
    headers["X-CortexBuild-Event"] = "e" * 5000
    receiver.handle(body, headers, client="c" * 5000)
    receipt = newest(receiver)
    assert (len(receipt.event or ""), len(receipt.client or "")) == (200, 200)


def test_bodies_and_their_signature_are_kept_only_with_journal_bodies() -> None:
    body = body_of()
    without = receiver_with()
    with_bodies = receiver_with(journal_bodies=True)
    for receiver in (without, with_bodies):
        receiver.handle(body, signed(body))
    kept = newest(with_bodies)
    assert (kept.body, kept.signature, kept.timestamp) == (
        body,
        signed(body)["X-CortexBuild-Signature"],
        str(NOW_MS),
    )
    plain = newest(without)
    assert (plain.body, plain.signature, plain.timestamp) == (None, None, None)


def test_no_secret_reaches_a_receipt() -> None:
    receiver = receiver_with(journal_bodies=True)
    body = body_of()
    for headers in (signed(body), signed(body, secret="whsec_wrong"), {}):
        receiver.handle(body, headers)
    assert receiver.journal is not None
    for receipt in receiver.journal.query():
        assert SECRET not in repr(receipt)


def test_journal_bodies_without_a_journal_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="no journal"):
        ch.Receiver(SECRET, journal_bodies=True)


def test_a_receiver_has_no_journal_unless_asked() -> None:
    assert ch.Receiver(SECRET).journal is None


# --- a journal that fails never changes the answer ------------------------------------------


class BrokenJournal(MemoryJournal):
    def record(self, receipt: Receipt) -> int:
        raise JournalError("disk full")


@pytest.mark.parametrize("face", FACES)
def test_a_failing_journal_never_changes_the_answer_and_is_logged_rate_limited(
    face: str, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock()
    plain = ch.Receiver(SECRET, router=ch.Router(), now=clock)
    broken = ch.Receiver(SECRET, router=ch.Router(), now=clock, journal=BrokenJournal())
    requests = []
    for n in range(5):
        body = body_of(task=f"t-{n}")
        requests.append((body, signed(body, delivery_id=f"dlv_{n}")))
    body = body_of()
    requests += [(body, signed(body, secret="whsec_wrong")), (b"", {})]
    with caplog.at_level(logging.DEBUG, logger="cortexhooks_receiver.journal"):
        answers = [
            (handle(plain, face, b, h).status, handle(broken, face, b, h).status)
            for b, h in requests
        ]
    assert all(expected == got for expected, got in answers)
    lines = [r for r in caplog.records if r.name == "cortexhooks_receiver.journal"]
    assert [r.levelno for r in lines] == [logging.WARNING] + [logging.DEBUG] * (len(requests) - 1)
    assert "JournalError: disk full" in lines[0].getMessage()
    assert "the answer was not changed" in lines[0].getMessage()
    assert lines[0].exc_info is None
    clock.now += 61  # a minute later the failure is worth a warning again, with the count
    with caplog.at_level(logging.DEBUG, logger="cortexhooks_receiver.journal"):
        handle(broken, face, *requests[0])
    assert caplog.records[-1].levelno == logging.WARNING
    assert f"({len(requests) - 1} more since the last warning)" in caplog.records[-1].getMessage()


def test_a_receipt_recorded_outside_a_request_never_raises(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The seam for background mode: the worker journals each job's outcome the same way.
    job = make_receipt(Clock(), status=500, code="handler_error", client="worker")
    receiver = receiver_with()
    receiver._record_quietly(job)
    assert newest(receiver).client == "worker"
    broken = receiver_with(BrokenJournal())
    with caplog.at_level(logging.WARNING, logger="cortexhooks_receiver.journal"):
        broken._record_quietly(job)
    assert "JournalError: disk full" in caplog.records[-1].getMessage()
    receiver_with(None)._record_quietly(job)  # no journal: nothing to do


def test_an_unreachable_sqlite_journal_never_changes_the_answer(tmp_path: Path) -> None:
    receiver = receiver_with(f"sqlite:///{tmp_path / 'missing-dir' / 'j.db'}")
    receiver.on("task.completed")(lambda event: None)
    body = body_of()
    assert receiver.handle(body, signed(body)).status == 200
    with pytest.raises(JournalError, match="unable to open"):
        newest(receiver)


def test_an_unreachable_redis_journal_never_changes_the_answer() -> None:
    receiver = receiver_with("redis://127.0.0.1:1/0?socket_timeout=1")
    body = body_of()
    assert receiver.handle(body, signed(body)).status == 200


# --- the journals' contract: memory, SQLite and the real Redis ------------------------------


@pytest.fixture(params=["memory", "sqlite", "redis"])
def harness(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    clock = Clock()
    if request.param == "memory":
        memory = MemoryJournal(clock=clock)
        yield Harness(memory, clock, lambda: memory)
        return
    if request.param == "sqlite":
        path = tmp_path / "journal.db"
        journal: Journal = SQLiteJournal(path, clock=clock)
        yield Harness(journal, clock, lambda: SQLiteJournal(path, clock=clock))
        journal.close()
        return
    url = request.getfixturevalue("redis_url")
    prefix = f"test-h13-journal-{uuid.uuid4().hex}:"
    redis_journal = RedisJournal(url, prefix=prefix, clock=clock)
    yield Harness(redis_journal, clock, lambda: RedisJournal(url, prefix=prefix, clock=clock))
    redis_journal.client.delete(redis_journal.stream, redis_journal.prefix + "journal:id")
    redis_journal.close()


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
def test_receipts_are_pruned_as_they_are_recorded(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    clock = Clock()
    journal: SQLiteJournal | RedisJournal
    if kind == "sqlite":
        journal = SQLiteJournal(tmp_path / "j.db", clock=clock, retention=100, prune_every=4)
    else:
        url = request.getfixturevalue("redis_url")
        prefix = f"test-h13-prune-{uuid.uuid4().hex}:"
        journal = RedisJournal(url, prefix=prefix, clock=clock, retention=100, prune_every=4)
    try:
        for _ in range(3):
            journal.record(make_receipt(clock))
        clock.now += 101
        fresh = journal.record(make_receipt(clock))  # the 4th record prunes the 3 expired ones
        assert [r.id for r in journal.query()] == [fresh]
    finally:
        if isinstance(journal, RedisJournal):
            journal.client.delete(journal.stream, journal.prefix + "journal:id")
        journal.close()


def test_the_redis_stream_is_capped(redis_url: str) -> None:
    prefix = f"test-h13-cap-{uuid.uuid4().hex}:"
    journal = RedisJournal(redis_url, prefix=prefix, max_receipts=100, prune_every=0)
    try:
        for _ in range(1000):
            journal.record(make_receipt(Clock()))
        # MAXLEN ~ trims whole stream nodes (100 entries each by default): about the cap.
        assert 100 <= journal.client.xlen(journal.stream) < 300
        assert journal.query(limit=1)[0].id == 1000
    finally:
        journal.client.delete(journal.stream, journal.prefix + "journal:id")
        journal.close()


def test_the_redis_journal_records_in_one_round_trip(redis_url: str) -> None:
    import redis

    class Counting(redis.Connection):
        sent = 0

        def send_packed_command(self, command: Any, check_health: bool = True) -> None:
            Counting.sent += 1
            super().send_packed_command(command, check_health)

    pool = redis.ConnectionPool.from_url(redis_url, connection_class=Counting)
    journal = RedisJournal(
        redis.Redis(connection_pool=pool), prefix=f"test-h13-{uuid.uuid4().hex}:"
    )
    try:
        journal.record(make_receipt(Clock()))  # loads the script once
        Counting.sent = 0
        for _ in range(10):
            journal.record(make_receipt(Clock()))
        assert Counting.sent == 10
    finally:
        journal.client.delete(journal.stream, journal.prefix + "journal:id")
        pool.disconnect()


def test_the_memory_journal_keeps_the_newest_receipts() -> None:
    journal = MemoryJournal(3)
    ids = [journal.record(make_receipt(Clock())) for _ in range(5)]
    assert [r.id for r in journal.query()] == ids[:1:-1]
    assert journal.get(ids[0]) is None
    assert journal.get(ids[-1]) is not None
    assert len(journal) == 3


def test_a_memory_journal_can_be_followed_live() -> None:
    journal = MemoryJournal()
    first = journal.record(make_receipt(Clock(), delivery_id="before"))
    assert journal.follow(first, timeout=0) == []
    got: list[list[Receipt]] = []
    waiting = threading.Thread(target=lambda: got.append(journal.follow(first, timeout=30)))
    waiting.start()
    journal.record(make_receipt(Clock(), delivery_id="after"))
    waiting.join(30)
    assert [[r.delivery_id for r in batch] for batch in got] == [["after"]]
    assert [r.delivery_id for r in journal.follow(0)] == ["before", "after"]  # oldest first


def test_receipts_of_a_receiver_are_followed_in_order() -> None:
    receiver = receiver_with()
    journal = receiver.journal
    assert isinstance(journal, MemoryJournal)
    for n in range(3):
        body = body_of(task=f"t-{n}")
        receiver.handle(body, signed(body, delivery_id=f"dlv_{n}"))
    assert [r.delivery_id for r in journal.follow(1)] == ["dlv_1", "dlv_2"]


# --- journal URLs -----------------------------------------------------------------------------


def test_journal_urls_name_each_journal(tmp_path: Path) -> None:
    memory = open_journal("memory://?max_receipts=7&retention=60")
    assert isinstance(memory, MemoryJournal)
    assert (memory.max_receipts, memory.retention) == (7, 60.0)
    sqlite = open_journal(f"sqlite:///{tmp_path}/j.db?retention=3600&prune_every=10")
    assert isinstance(sqlite, SQLiteJournal)
    assert (sqlite.path, sqlite.retention, sqlite.prune_every) == (f"{tmp_path}/j.db", 3600.0, 10)
    redis_journal = open_journal("redis://127.0.0.1:6379/3?prefix=shop:&max_receipts=50")
    assert isinstance(redis_journal, RedisJournal)
    assert (redis_journal.prefix, redis_journal.max_receipts) == ("{shop:}", 50)
    assert "prefix" not in redis_journal.client.connection_pool.connection_kwargs
    redis_journal.close()
    assert open_journal(memory) is memory


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("hooks.db", "must be given as a URL"),
        ("postgres://db/hooks", "Unknown journal URL scheme 'postgres'"),
        ("sqlite:///:memory:", "memory://"),
        ("sqlite://relative.db", "three slashes"),
        ("sqlite:///j.db?max_receipts=3", "Unknown option 'max_receipts'"),
        ("sqlite:///j.db?retention=soon", "must be a number"),
        ("memory://?retention=-1", "must not be negative"),
        ("memory://?max_receipts=0", "max_receipts must be 1 or more"),
        ("memory://somewhere", "no host or path"),
        ("redis://127.0.0.1:6379/0?prefix=", "must not be empty"),
        ("redis://127.0.0.1:6379/0?bogus_option=1", "Invalid Redis URL for the journal"),
        ("redis://127.0.0.1:6379/notadb", "The Redis URL of the journal names database"),
        ("redis://127.0.0.1:6379/3?db=4", "gives the database twice"),
    ],
)
def test_a_bad_journal_url_is_a_configuration_error(url: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        open_journal(url)


def test_a_receiver_refuses_a_bad_journal_url_at_construction() -> None:
    with pytest.raises(ConfigurationError, match="Unknown journal URL scheme"):
        ch.Receiver(SECRET, journal="nope://")


# --- rerun ------------------------------------------------------------------------------------


def test_rerun_runs_a_failed_delivery_again_and_journals_the_rerun() -> None:
    receiver = receiver_with(journal_bodies=True)
    calls: list[str | None] = []

    @receiver.on("task.completed")
    def flaky(event: Any) -> None:
        calls.append(event.delivery_id)
        if len(calls) == 1:
            raise RuntimeError("database down")

    body = body_of()
    assert receiver.handle(body, signed(body)).status == 500
    failed = newest(receiver)
    outcome = receiver.rerun(failed.id)
    assert (outcome.status, outcome.duplicate) == (200, False)
    assert calls == ["dlv_1", "dlv_1"]  # the same delivery id: the handler's idempotency key
    rerun = newest(receiver)
    assert (rerun.client, rerun.status, rerun.delivery_id) == (f"rerun:{failed.id}", 200, "dlv_1")


def test_rerun_of_a_processed_delivery_is_a_duplicate_and_runs_nothing() -> None:
    receiver = receiver_with(journal_bodies=True)
    calls: list[object] = []
    receiver.on("task.completed")(calls.append)
    body = body_of()
    receiver.handle(body, signed(body))
    outcome = receiver.rerun(newest(receiver).id)
    assert (outcome.status, outcome.duplicate, len(calls)) == (200, True, 1)


def test_rerun_verifies_the_stored_body_with_the_current_secrets(tmp_path: Path) -> None:
    # A delivery refused while the receiver had the wrong secret passes once it is fixed.
    url = f"sqlite:///{tmp_path / 'journal.db'}"
    body = body_of()
    wrong = ch.Receiver("whsec_wrong", journal=url, journal_bodies=True, now=Clock())
    assert wrong.handle(body, signed(body)).status == 401
    refused = newest(wrong)
    assert wrong.rerun(refused.id).status == 401  # still the wrong secret
    fixed = receiver_with(url, journal_bodies=True)
    calls: list[object] = []
    fixed.on("task.completed")(calls.append)
    assert fixed.rerun(refused.id).status == 200
    assert len(calls) == 1


def test_rerun_of_a_body_older_than_the_retention_is_refused() -> None:
    clock = Clock()
    receiver = receiver_with(journal_bodies=True, now=clock, retention=3600)
    body = body_of()
    receiver.handle(body, signed(body))
    clock.now += 3601  # the dedup memory has forgotten it: running it again is refused
    error = receiver.rerun(1).error
    assert error is not None
    assert error.code == "event_too_old"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"journal_bodies": False}, "journal_bodies=True"),
        ({"journal": None}, "no journal"),
    ],
)
def test_rerun_without_a_stored_body_says_why(options: dict[str, Any], message: str) -> None:
    receiver = receiver_with(**options)
    body = body_of()
    receiver.handle(body, signed(body))
    with pytest.raises(JournalError, match=message):
        receiver.rerun(1)


def test_rerun_of_an_unknown_receipt_says_so() -> None:
    with pytest.raises(JournalError, match="no receipt 42"):
        receiver_with(journal_bodies=True).rerun(42)

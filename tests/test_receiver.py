"""Receiver.handle: every row of the design's pipeline table, in order, plus the replay defence."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from options_kit import SpyStore

import cortexhooks_receiver as ch
from cortexhooks_receiver.stores import ClaimState, MemoryStore, StoreError

SECRET = "whsec_K2Fj8sL3mN9pQ4rT7vX1yZ5bC6dE8fG"
NOW = 1_767_225_600.0  # 2026-01-01T00:00:00Z, seconds
NOW_MS = int(NOW * 1000)


class Clock:
    """A settable clock for the receiver and the memory store."""

    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def payload(event: str = "task.completed", timestamp: int = NOW_MS, **data: Any) -> bytes:
    body = {
        "event": event,
        "timestamp": timestamp,
        "data": {"id": "task-123", "title": "Install electrical panels", **data},
        "companyId": "comp-1",
        "userId": "user-789",
    }
    return json.dumps(body, separators=(",", ":")).encode()


def signed(
    body: bytes,
    *,
    timestamp_ms: int = NOW_MS,
    delivery_id: str | None = "dlv_1",
    secret: str = SECRET,
) -> dict[str, str]:
    headers = ch.sign(body, secret, timestamp=timestamp_ms, delivery_id=delivery_id or "x")
    if delivery_id is None:
        del headers["X-CortexBuild-Delivery-Id"]
    return headers


def make_receiver(clock: Clock | None = None, **kwargs: Any) -> tuple[ch.Receiver, list[Any]]:
    clock = clock or Clock()
    kwargs.setdefault("store", MemoryStore(clock=clock))
    receiver = ch.Receiver(SECRET, now=clock, router=ch.Router(), **kwargs)
    seen: list[Any] = []
    receiver.on("*")(seen.append)
    return receiver, seen


def error_of(outcome: ch.Outcome) -> str:
    return str(json.loads(outcome.body)["error"])


# -- the table, row by row ----------------------------------------------------------------------


def test_success_runs_the_handler_once_and_answers_received() -> None:
    receiver, seen = make_receiver()
    body = payload()
    outcome = receiver.handle(body, signed(body))
    assert (outcome.status, json.loads(outcome.body)) == (200, {"received": True})
    assert dict(outcome.headers)["Content-Type"] == "application/json"
    assert len(seen) == 1
    event = seen[0]
    assert isinstance(event, ch.events.TaskCompleted)
    assert event.data.title == "Install electrical panels"
    assert event.delivery_id == "dlv_1"
    assert outcome.event is event


@pytest.mark.parametrize("method", ["GET", "PUT", "HEAD", "post", "POST "])
def test_other_methods_are_refused_with_405_and_allow(method: str) -> None:
    receiver, seen = make_receiver()
    body = payload()
    outcome = receiver.handle(body, signed(body), method=method)
    assert outcome.status == 405
    assert error_of(outcome) == "method_not_allowed"
    assert dict(outcome.headers)["Allow"] == "POST"
    assert seen == []


def test_body_over_the_cap_is_413() -> None:
    receiver, seen = make_receiver(max_body_bytes=100)
    body = payload()
    outcome = receiver.handle(body, signed(body))
    assert (outcome.status, error_of(outcome)) == (413, "payload_too_large")
    assert seen == []


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("Content-Type", "text/plain"),
        ("Content-Type", "application/x-www-form-urlencoded"),
        ("Content-Encoding", "gzip"),
    ],
)
def test_non_json_or_compressed_bodies_are_415(name: str, value: str) -> None:
    receiver, _seen = make_receiver()
    body = payload()
    headers = signed(body) | {name: value}
    outcome = receiver.handle(body, headers)
    assert (outcome.status, error_of(outcome)) == (415, "unsupported_media_type")


@pytest.mark.parametrize("encoding", ["identity", "Identity ", ""])
def test_identity_or_empty_content_encoding_is_accepted(encoding: str) -> None:
    receiver, seen = make_receiver()
    body = payload()
    assert receiver.handle(body, signed(body) | {"Content-Encoding": encoding}).status == 200
    assert len(seen) == 1


def test_missing_content_type_is_415() -> None:
    receiver, _ = make_receiver()
    body = payload()
    headers = signed(body)
    del headers["Content-Type"]
    assert receiver.handle(body, headers).status == 415


@pytest.mark.parametrize(
    "content_type",
    ["application/json; charset=utf-8", "Application/JSON", "application/cloudevents+json"],
)
def test_json_media_types_with_parameters_are_accepted(content_type: str) -> None:
    receiver, _ = make_receiver()
    body = payload()
    assert receiver.handle(body, signed(body) | {"Content-Type": content_type}).status == 200


@pytest.mark.parametrize(
    ("mutate", "code"),
    [
        (lambda h: h.pop("X-CortexBuild-Signature"), "missing_signature"),
        (lambda h: h.update({"X-CortexBuild-Signature": "abc"}), "malformed_signature"),
        (lambda h: h.update({"X-CortexBuild-Signature": "g" * 64}), "malformed_signature"),
        (lambda h: h.pop("X-CortexBuild-Timestamp"), "missing_timestamp"),
        (lambda h: h.update({"X-CortexBuild-Timestamp": "1.5e12"}), "invalid_timestamp"),
        (
            lambda h: h.update({"X-CortexBuild-Timestamp": str(NOW_MS - 300_001)}),
            "timestamp_out_of_tolerance",
        ),
        (lambda h: h.update({"X-CortexBuild-Signature": "0" * 64}), "signature_mismatch"),
    ],
)
def test_authentication_failures_are_401_with_their_code(mutate: Any, code: str) -> None:
    receiver, seen = make_receiver()
    body = payload()
    headers = signed(body)
    mutate(headers)
    outcome = receiver.handle(body, headers)
    assert (outcome.status, error_of(outcome)) == (401, code)
    assert seen == []


def test_timestamp_in_seconds_gets_a_hint() -> None:
    receiver, _ = make_receiver()
    body = payload()
    outcome = receiver.handle(body, signed(body, timestamp_ms=int(NOW)))
    assert outcome.error is not None
    assert outcome.error.code == "timestamp_out_of_tolerance"
    assert "seconds" in outcome.error.hint


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"[]",
        b'{"event":"task.completed"}',
        b"\xff\xfe",
        b'{"event":1,"timestamp":1,"data":{}}',
        b'{"event":"task.completed","timestamp":"x","data":{}}',
    ],
)
def test_signed_but_invalid_payloads_are_400(body: bytes) -> None:
    receiver, seen = make_receiver()
    outcome = receiver.handle(body, signed(body))
    assert (outcome.status, error_of(outcome)) == (400, "invalid_payload")
    assert seen == []


def test_body_timestamp_older_than_retention_is_event_too_old() -> None:
    receiver, _seen = make_receiver(retention=3600)
    body = payload(timestamp=NOW_MS - 3_600_000)
    outcome = receiver.handle(body, signed(body))
    assert (outcome.status, error_of(outcome)) == (401, "event_too_old")
    young = payload(timestamp=NOW_MS - 3_599_999)
    assert receiver.handle(young, signed(young)).status == 200


def test_body_timestamp_beyond_now_plus_tolerance_is_event_too_old() -> None:
    receiver, _ = make_receiver()
    body = payload(timestamp=NOW_MS + 300_001)
    assert error_of(receiver.handle(body, signed(body))) == "event_too_old"
    edge = payload(timestamp=NOW_MS + 300_000)
    assert receiver.handle(edge, signed(edge)).status == 200


@pytest.mark.parametrize("delivery_id", ["a" * 129, "dlv 1", "dlv/1", "dlvé", ""])
def test_bad_delivery_ids_are_400(delivery_id: str) -> None:
    receiver, seen = make_receiver()
    body = payload()
    headers = signed(body) | {"X-CortexBuild-Delivery-Id": delivery_id}
    outcome = receiver.handle(body, headers)
    assert (outcome.status, error_of(outcome)) == (400, "invalid_delivery_id")
    assert seen == []


def test_longest_valid_delivery_id_is_accepted() -> None:
    receiver, _ = make_receiver()
    body = payload()
    headers = signed(body, delivery_id="A-z0._:" + "x" * 121)
    assert receiver.handle(body, headers).status == 200


def test_completed_duplicate_is_200_with_duplicate_flag() -> None:
    receiver, seen = make_receiver()
    body = payload()
    assert receiver.handle(body, signed(body)).status == 200
    again = receiver.handle(body, signed(body))
    assert (again.status, json.loads(again.body)) == (200, {"received": True, "duplicate": True})
    assert again.duplicate
    assert len(seen) == 1


def test_duplicate_while_processing_is_409_with_retry_after() -> None:
    receiver, _ = make_receiver()
    body = payload()
    inner: list[ch.Outcome] = []

    @receiver.on("task.completed")
    def reenter(event: Any) -> None:
        inner.append(receiver.handle(body, signed(body)))

    assert receiver.handle(body, signed(body)).status == 200
    (nested,) = inner
    assert (nested.status, error_of(nested)) == (409, "in_progress")
    assert int(dict(nested.headers)["Retry-After"]) > 0


class BrokenStore:
    def __init__(self) -> None:
        self.calls = 0

    def claim(self, keys: Sequence[str], lease: float, token: str) -> ClaimState:
        self.calls += 1
        raise StoreError("connection refused")

    def complete(self, keys: Sequence[str], retention: float, token: str) -> None:
        raise StoreError("connection refused")

    def release(self, keys: Sequence[str], token: str) -> None:
        raise StoreError("connection refused")

    def close(self) -> None:
        pass


def test_unreachable_store_is_503_and_the_handler_does_not_run() -> None:
    receiver, seen = make_receiver(store=BrokenStore())
    body = payload()
    outcome = receiver.handle(body, signed(body))
    assert (outcome.status, error_of(outcome)) == (503, "store_unavailable")
    assert seen == []


def test_unreachable_store_is_503_in_handle_async() -> None:
    receiver, seen = make_receiver(store=BrokenStore())
    body = payload()
    outcome = asyncio.run(receiver.handle_async(body, signed(body)))
    assert outcome.status == 503
    assert seen == []


def test_handler_error_releases_the_claim_so_the_retry_runs_it() -> None:
    receiver, _ = make_receiver()
    attempts: list[int] = []

    @receiver.on("task.completed")
    def flaky(event: Any) -> None:
        attempts.append(1)
        if len(attempts) < 3:
            raise RuntimeError("database is down")

    body = payload()
    statuses = [receiver.handle(body, signed(body)).status for _ in range(4)]
    assert statuses == [500, 500, 200, 200]
    assert len(attempts) == 3  # processed exactly once successfully, never after


def test_handler_error_body_is_safe() -> None:
    receiver, _ = make_receiver()

    @receiver.on("task.completed")
    def boom(event: Any) -> None:
        raise RuntimeError("secret detail " + SECRET)

    body = payload()
    outcome = receiver.handle(body, signed(body))
    assert (outcome.status, error_of(outcome)) == (500, "handler_error")
    assert SECRET.encode() not in outcome.body
    assert b"secret detail" not in outcome.body


def test_event_without_handler_is_acknowledged() -> None:
    receiver = ch.Receiver(SECRET, now=Clock(), router=ch.Router())
    body = payload()
    assert receiver.handle(body, signed(body)).status == 200


# -- the replay defence -------------------------------------------------------------------------


def test_replayed_body_with_new_delivery_id_and_fresh_timestamp_is_a_duplicate() -> None:
    clock = Clock()
    receiver, seen = make_receiver(clock)
    body = payload()
    assert receiver.handle(body, signed(body, delivery_id="dlv_original")).status == 200
    clock.now += 3600  # an hour later, the attacker resends with fresh unsigned headers
    replay = receiver.handle(
        body, signed(body, timestamp_ms=int(clock.now * 1000), delivery_id="dlv_forged")
    )
    assert replay.duplicate
    assert len(seen) == 1


def test_replay_after_retention_is_event_too_old() -> None:
    clock = Clock()
    receiver, seen = make_receiver(clock, retention=86_400)
    body = payload()
    assert receiver.handle(body, signed(body)).status == 200
    clock.now += 86_400
    replay = receiver.handle(
        body, signed(body, timestamp_ms=int(clock.now * 1000), delivery_id="dlv_late")
    )
    assert error_of(replay) == "event_too_old"
    assert len(seen) == 1


def test_missing_delivery_id_dedups_by_body() -> None:
    receiver, seen = make_receiver()
    body = payload()
    assert receiver.handle(body, signed(body, delivery_id=None)).status == 200
    assert receiver.handle(body, signed(body, delivery_id=None)).duplicate
    assert len(seen) == 1


def test_same_delivery_id_with_other_body_is_a_duplicate() -> None:
    receiver, seen = make_receiver()
    first, second = payload(), payload(title="changed")
    assert receiver.handle(first, signed(first, delivery_id="dlv_9")).status == 200
    assert receiver.handle(second, signed(second, delivery_id="dlv_9")).duplicate
    assert len(seen) == 1


def test_refused_requests_never_touch_the_store() -> None:
    store = SpyStore()
    receiver, _ = make_receiver(store=store)
    body = payload()
    bad = [
        signed(body) | {"X-CortexBuild-Signature": "0" * 64},
        signed(body) | {"X-CortexBuild-Timestamp": "1"},
        signed(body) | {"X-CortexBuild-Delivery-Id": "bad id"},
    ]
    for headers in bad:
        assert receiver.handle(body, headers).status >= 400
    assert store.claims == 0
    assert len(store) == 0
    # and the real delivery is still processed (no dedup poisoning)
    assert receiver.handle(body, signed(body)).status == 200


def test_forged_body_cannot_poison_dedup_of_the_real_delivery() -> None:
    receiver, seen = make_receiver()
    body = payload()
    forged = payload(title="forged")
    headers = signed(body) | {
        "X-CortexBuild-Signature": ch.sign(forged, "whsec_wrong")["X-CortexBuild-Signature"]
    }
    assert receiver.handle(forged, headers).status == 401
    assert receiver.handle(body, signed(body)).status == 200
    assert len(seen) == 1


def test_rotated_secrets_both_verify() -> None:
    receiver = ch.Receiver(secrets=["whsec_new", SECRET], now=Clock(), router=ch.Router())
    body = payload()
    assert receiver.handle(body, signed(body)).status == 200
    other = payload(title="x")
    assert receiver.handle(other, signed(other, secret="whsec_new", delivery_id="d2")).status == 200


# -- async -------------------------------------------------------------------------------------


def test_handle_runs_async_handlers() -> None:
    receiver = ch.Receiver(SECRET, now=Clock(), router=ch.Router())
    ran: list[str] = []

    @receiver.on("task.completed")
    async def handler(event: Any) -> None:
        await asyncio.sleep(0)
        ran.append(event.event)

    body = payload()
    assert receiver.handle(body, signed(body)).status == 200
    assert ran == ["task.completed"]


def test_handle_async_awaits_async_and_threads_sync_handlers() -> None:
    receiver = ch.Receiver(SECRET, now=Clock(), router=ch.Router())
    threads: dict[str, int] = {}

    @receiver.on("task.completed")
    async def async_handler(event: Any) -> None:
        threads["async"] = threading.get_ident()

    @receiver.on("task.completed")
    def sync_handler(event: Any) -> None:
        threads["sync"] = threading.get_ident()

    async def main() -> ch.Outcome:
        threads["loop"] = threading.get_ident()
        body = payload()
        return await receiver.handle_async(body, signed(body))

    assert asyncio.run(main()).status == 200
    assert threads["async"] == threads["loop"]
    assert threads["sync"] != threads["loop"]


def test_handle_async_releases_on_failure_and_dedups() -> None:
    receiver = ch.Receiver(SECRET, now=Clock(), router=ch.Router())
    calls: list[int] = []

    @receiver.on("task.completed")
    async def handler(event: Any) -> None:
        calls.append(1)
        if len(calls) == 1:
            raise ValueError("first attempt fails")

    body = payload()

    async def main() -> list[int]:
        return [(await receiver.handle_async(body, signed(body))).status for _ in range(3)]

    assert asyncio.run(main()) == [500, 200, 200]
    assert len(calls) == 2


# -- safety ------------------------------------------------------------------------------------


def test_logs_never_contain_secret_signature_or_body(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="cortexhooks_receiver")
    receiver, _ = make_receiver()
    body = payload(title="MARKER-IN-BODY")
    good = signed(body)
    receiver.handle(body, good | {"X-CortexBuild-Signature": "1" * 64})
    receiver.handle(body, good)
    receiver.handle(body, good)

    @receiver.on("task.completed")
    def boom(event: Any) -> None:
        raise RuntimeError("handler failed")

    other = payload(title="MARKER-IN-BODY-2")
    receiver.handle(other, signed(other, delivery_id="d3"))
    text = caplog.text + "".join(str(r.args) for r in caplog.records)
    assert caplog.records
    for secret_thing in (SECRET, good["X-CortexBuild-Signature"], "MARKER-IN-BODY"):
        assert secret_thing not in text


def test_missing_secret_fails_at_construction(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CORTEXBUILD_WEBHOOK_SECRET", raising=False)
    with pytest.raises(ch.ConfigurationError):
        ch.Receiver()
    with pytest.raises(ch.ConfigurationError):
        ch.Receiver("   ")
    monkeypatch.setenv("CORTEXBUILD_WEBHOOK_SECRET", SECRET)
    assert ch.Receiver().handle(b"", {"Content-Type": "application/json"}).status == 401


def test_unknown_store_url_fails_at_construction() -> None:
    with pytest.raises(ch.ConfigurationError):
        ch.Receiver(SECRET, store="mongodb://x")


header_values = st.one_of(st.text(max_size=80), st.binary(max_size=80), st.integers(), st.none())
header_names = st.sampled_from(
    [
        "X-CortexBuild-Signature",
        "x-cortexbuild-timestamp",
        "Content-Type",
        "Content-Encoding",
        "X-CortexBuild-Delivery-Id",
        "HTTP_X_CORTEXBUILD_SIGNATURE",
        "CONTENT_LENGTH",
    ]
) | st.text(max_size=20)


@settings(max_examples=300, deadline=None)
@given(
    body=st.binary(max_size=300),
    headers=st.dictionaries(header_names, header_values, max_size=8),
    method=st.sampled_from(["POST", "GET", "post"]) | st.text(max_size=8),
)
def test_any_input_gives_an_outcome_never_an_exception(
    body: bytes, headers: dict[str, Any], method: str
) -> None:
    receiver, _ = make_receiver()
    outcome = receiver.handle(body, headers, method=method)
    assert outcome.status in {200, 400, 401, 405, 409, 413, 415}
    json.loads(outcome.body)


@settings(max_examples=150, deadline=None)
@given(body=st.binary(max_size=200), title=st.text(max_size=40))
def test_any_signed_body_gives_an_outcome_never_an_exception(body: bytes, title: str) -> None:
    receiver, _ = make_receiver()
    for candidate in (body, payload(title=title)):
        outcome = receiver.handle(candidate, signed(candidate))
        assert outcome.status in {200, 400, 401}


def test_verify_checks_everything_up_to_dedup_and_records_nothing() -> None:
    store = SpyStore()
    receiver, seen = make_receiver(store=store)
    body = payload()
    event = receiver.verify(body, signed(body))
    assert isinstance(event, ch.events.TaskCompleted)
    assert event.delivery_id == "dlv_1"
    assert (store.claims, seen) == (0, [])
    with pytest.raises(ch.SignatureMismatch):
        receiver.verify(body, signed(body) | {"X-CortexBuild-Signature": "0" * 64})
    with pytest.raises(ch.MethodNotAllowed):
        receiver.verify(body, signed(body), method="GET")
    old = payload(timestamp=NOW_MS - 86_400_000)
    with pytest.raises(ch.EventTooOld):
        receiver.verify(old, signed(old))

"""What mutation testing of cortexhooks_receiver.receiver found untested (docs/hardening.md).

The exact edges of every check (a weakened ``<`` would let one more request through): body size,
media types, content encoding, delivery id length and characters, the body's age against
``retention`` and ``tolerance``; the limits of the settings; ``Retry-After`` of a delivery in
progress; and dedup keys (by delivery id and by body, under every secret of a rotation).
"""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest

import cortexhooks_receiver as ch
from cortexhooks_receiver.stores import ClaimState, MemoryStore
from cortexhooks_receiver.testing.factories import make_body

SECRET = "whsec_hardening_receiver_0123456789"
OLD = "whsec_hardening_receiver_previous__"
NOW = 1_764_000_000.0
NOW_MS = int(NOW * 1000)


def _receiver(**options: Any) -> ch.Receiver:
    options.setdefault("router", ch.Router())
    if "secrets" not in options:
        options.setdefault("secret", SECRET)
    return ch.Receiver(now=lambda: NOW, **options)


def _send(
    receiver: ch.Receiver,
    body: bytes,
    *,
    secret: str = SECRET,
    delivery_id: str | None = "dlv_1",
    method: str = "POST",
    **headers: str,
) -> ch.Outcome:
    signed = ch.sign(body, secret, timestamp=NOW_MS)
    if delivery_id is None:
        del signed["X-CortexBuild-Delivery-Id"]
    else:
        signed["X-CortexBuild-Delivery-Id"] = delivery_id
    for name, value in headers.items():
        signed[name.replace("_", "-")] = value
    return receiver.handle(body, signed, method)


def _code(outcome: ch.Outcome) -> str | None:
    return None if outcome.error is None else outcome.error.code


def _body(age_ms: int = 0, **overrides: Any) -> bytes:
    return make_body("task.created", timestamp=NOW_MS - age_ms, **overrides)


# -- the edges of each check ----------------------------------------------------------------------


def test_a_body_of_exactly_max_body_bytes_is_accepted_one_more_is_refused() -> None:
    body = _body()
    receiver = _receiver(max_body_bytes=len(body))
    assert _send(receiver, body).status == 200
    longer = _body(**{"data.title": "Install electrical panels!"})
    assert len(longer) == len(body) + 1
    outcome = _send(receiver, longer, delivery_id="dlv_2")
    assert (outcome.status, _code(outcome)) == (413, "payload_too_large")


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "application/json; charset=utf-8",
        "Application/JSON",
        "  application/json  ; charset=utf-8",
        "application/cortexbuild+json",
        "application/vnd.api+json; charset=utf-8",
    ],
)
def test_json_media_types_are_accepted(content_type: str) -> None:
    outcome = _send(_receiver(), _body(), Content_Type=content_type)
    assert outcome.status == 200, outcome.body


@pytest.mark.parametrize(
    "content_type",
    [
        "text/json",
        "application/jsonx",
        "application/x-json+xml",
        "text/plain+json",
        "json",
        "",
        "application/+jsonp",
    ],
)
def test_other_media_types_are_refused(content_type: str) -> None:
    outcome = _send(_receiver(), _body(), Content_Type=content_type)
    assert (outcome.status, _code(outcome)) == (415, "unsupported_media_type")


@pytest.mark.parametrize("encoding", ["identity", "IDENTITY", " identity ", "", "  "])
def test_an_identity_content_encoding_is_accepted(encoding: str) -> None:
    assert _send(_receiver(), _body(), Content_Encoding=encoding).status == 200


@pytest.mark.parametrize("encoding", ["gzip", "br", "deflate", "identity, gzip"])
def test_a_compressed_body_is_refused_and_the_message_says_why(encoding: str) -> None:
    outcome = _send(_receiver(), _body(), Content_Encoding=encoding)
    assert (outcome.status, _code(outcome)) == (415, "unsupported_media_type")
    assert json.loads(outcome.body)["message"] == (
        "Compressed webhook bodies are not accepted (Content-Encoding must be identity)."
    )


def test_a_delivery_id_of_128_characters_is_accepted_129_is_refused() -> None:
    receiver = _receiver()
    assert _send(receiver, _body(), delivery_id="d" * 128).status == 200
    outcome = _send(receiver, _body(1), delivery_id="d" * 129)
    assert (outcome.status, _code(outcome)) == (400, "invalid_delivery_id")
    outcome = _send(receiver, _body(2), delivery_id="")
    assert (outcome.status, _code(outcome)) == (400, "invalid_delivery_id")
    for bad in ("dlv 1", "dlv/1", "dlv_\u00e9", "dlv,1"):
        outcome = _send(receiver, _body(3), delivery_id=bad)
        assert (outcome.status, _code(outcome)) == (400, "invalid_delivery_id"), bad
    assert _send(receiver, _body(4), delivery_id="Az09._:-").status == 200


def test_a_body_exactly_retention_old_is_too_old_one_ms_younger_is_not() -> None:
    receiver = _receiver(retention=3600)
    outcome = _send(receiver, _body(3_600_000), delivery_id="dlv_a")
    assert (outcome.status, _code(outcome)) == (401, "event_too_old")
    assert _send(receiver, _body(3_599_999), delivery_id="dlv_b").status == 200


def test_a_body_from_the_future_is_accepted_up_to_the_tolerance() -> None:
    receiver = _receiver(tolerance=300)
    assert _send(receiver, _body(-300_000), delivery_id="dlv_a").status == 200
    outcome = _send(receiver, _body(-300_001), delivery_id="dlv_b")
    assert (outcome.status, _code(outcome)) == (401, "event_too_old")


# -- settings -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("option", "lowest"),
    [("tolerance", 0), ("retention", 1), ("lease", 0.001), ("max_body_bytes", 1)],
)
def test_each_number_setting_accepts_its_minimum_and_refuses_below(
    option: str, lowest: float
) -> None:
    receiver = _receiver(**{option: lowest})
    assert getattr(receiver, option) == lowest
    below = lowest - (0.0005 if isinstance(lowest, float) else 1)
    with pytest.raises(ch.ConfigurationError) as info:
        _receiver(**{option: below})
    assert str(info.value) == f"{option} must be a number >= {lowest}, not {below!r}."
    for wrong in (True, "10", None):
        with pytest.raises(ch.ConfigurationError):
            _receiver(**{option: wrong})


def test_secret_options_refuse_each_other_with_their_reason() -> None:
    with pytest.raises(ch.ConfigurationError) as info:
        ch.Receiver(SECRET, secrets=[SECRET])
    assert str(info.value) == "Pass either secret= or secrets=, not both."
    for extra in ({"secret": SECRET}, {"secrets": [SECRET]}):
        with pytest.raises(ch.ConfigurationError) as info:
            ch.Receiver(secret_for=lambda webhook_id: SECRET, **extra)
        assert str(info.value) == (
            "Pass secret_for= alone: it chooses the secrets of each request by its webhook id."
        )


def test_without_a_secret_the_error_names_the_environment_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("CORTEXBUILD_WEBHOOK_SECRET", raising=False)
    with pytest.raises(ch.ConfigurationError) as info:
        ch.Receiver()
    assert str(info.value) == (
        "No webhook secret: pass secret='whsec_...' or set CORTEXBUILD_WEBHOOK_SECRET."
    )
    monkeypatch.setenv("CORTEXBUILD_WEBHOOK_SECRET", SECRET)
    assert _send(ch.Receiver(router=ch.Router(), now=lambda: NOW), _body()).status == 200


@pytest.mark.parametrize(("lease", "retry_after"), [(0.5, "1"), (3, "3"), (60, "10")])
def test_a_delivery_in_progress_says_when_to_retry(lease: float, retry_after: str) -> None:
    receiver = _receiver(lease=lease)
    started, release = threading.Event(), threading.Event()

    @receiver.on("task.created")
    def slow(event: Any) -> None:
        started.set()
        assert release.wait(30)

    body = _body()
    first: list[ch.Outcome] = []
    worker = threading.Thread(target=lambda: first.append(_send(receiver, body)))
    worker.start()
    try:
        assert started.wait(30)
        retry = _send(receiver, body)
        assert (retry.status, _code(retry)) == (409, "in_progress")
        assert ("Retry-After", retry_after) in retry.headers
    finally:
        release.set()
        worker.join(30)
    assert first[0].status == 200


# -- dedup keys -----------------------------------------------------------------------------------


def test_dedup_remembers_the_delivery_id_and_the_body_under_every_secret() -> None:
    store = MemoryStore()
    receiver = _receiver(secrets=[SECRET, OLD], store=store)
    body = _body()
    outcome = _send(receiver, body, secret=OLD, delivery_id="dlv_rot")
    assert (outcome.status, outcome.secret_index) == (200, 1)
    keys = set(store._entries)
    assert "d:dlv_rot" in keys
    assert len([key for key in keys if key.startswith("b:")]) == 2  # one digest per secret
    # Re-signed with the new secret under a new delivery id: still the same body.
    again = _send(receiver, body, secret=SECRET, delivery_id="dlv_new")
    assert (again.status, again.duplicate, again.secret_index) == (200, True, 0)
    # A new body under the old delivery id: a duplicate by its delivery id.
    other = _send(receiver, _body(5), delivery_id="dlv_rot")
    assert (other.status, other.duplicate) == (200, True)


def test_without_a_delivery_id_the_body_alone_is_remembered() -> None:
    store = MemoryStore()
    receiver = _receiver(store=store)
    assert _send(receiver, _body(), delivery_id=None).status == 200
    assert [key[:2] for key in store._entries] == ["b:"]
    again = _send(receiver, _body(), delivery_id=None)
    assert (again.status, again.duplicate) == (200, True)


def test_a_duplicate_answer_is_the_documented_one() -> None:
    receiver = _receiver()
    first = _send(receiver, _body())
    assert (first.status, first.body, first.duplicate) == (200, b'{"received":true}', False)
    again = _send(receiver, _body())
    assert (again.status, again.body) == (200, b'{"received":true,"duplicate":true}')
    assert again.headers == (("Content-Type", "application/json"),)
    assert again.event is not None
    assert again.event.delivery_id == "dlv_1"


def test_a_claim_in_progress_in_the_store_is_answered_409_not_run() -> None:
    store = MemoryStore()
    receiver = _receiver(store=store)
    ran: list[str] = []
    receiver.on("task.created")(lambda event: ran.append(event.delivery_id))
    assert store.claim(["d:dlv_busy"], 60, "another-worker") is ClaimState.NEW
    outcome = _send(receiver, _body(), delivery_id="dlv_busy")
    assert (outcome.status, _code(outcome)) == (409, "in_progress")
    assert ran == []


# -- what an operator reads in the log ------------------------------------------------------------


class _Store:
    """A memory store whose claim or complete fails while told to (a store outage)."""

    def __init__(self) -> None:
        self.inner = MemoryStore()
        self.claim_fails = False
        self.complete_fails = 0
        self.release_fails = False
        self.poisoned: set[str] = set()  # keys whose completion always fails

    def claim(self, keys: Any, lease: float, token: str) -> ClaimState:
        if self.claim_fails:
            raise ch.StoreError("the store is down")
        return self.inner.claim(keys, lease, token)

    def complete(self, keys: Any, retention: float, token: str) -> None:
        if self.poisoned.intersection(keys):
            raise ch.StoreError("the store is down for these keys")
        if self.complete_fails:
            self.complete_fails -= 1
            raise ch.StoreError("the store is down")
        self.inner.complete(keys, retention, token)

    def release(self, keys: Any, token: str) -> None:
        if self.release_fails:
            raise ch.StoreError("the store is down")
        self.inner.release(keys, token)

    def close(self) -> None:
        self.inner.close()


def _records(caplog: pytest.LogCaptureFixture) -> list[tuple[str, str, bool]]:
    found = [
        (r.levelname, r.getMessage(), r.exc_info is not None)
        for r in caplog.records
        if r.name == "cortexhooks_receiver"
    ]
    caplog.clear()
    return found


def test_each_outcome_an_operator_must_know_of_is_logged_with_its_facts(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("INFO", logger="cortexhooks_receiver")
    store = _Store()
    receiver = _receiver(store=store)
    fail = [True]

    @receiver.on("task.created")
    def handler(event: Any) -> None:
        if fail[0]:
            raise RuntimeError("boom")

    body = _body()
    assert _send(receiver, body).status == 500
    assert _records(caplog) == [
        (
            "ERROR",
            "A handler failed on task.created (delivery dlv_1); the claim is released for the "
            "retry",
            True,
        )
    ]
    fail[0] = False
    assert _send(receiver, body).status == 200
    _records(caplog)
    assert _send(receiver, body).duplicate
    assert _records(caplog) == [
        ("INFO", "Duplicate delivery dlv_1 of task.created acknowledged", False)
    ]
    store.claim_fails = True
    outcome = _send(receiver, _body(1), delivery_id="dlv_2")
    assert (outcome.status, _code(outcome)) == (503, "store_unavailable")
    assert ("ERROR", "Dedup store unavailable; refusing with 503: StoreError", False) in _records(
        caplog
    )
    store.claim_fails = False
    store.complete_fails = 2  # the completion and its one retry fail
    assert _send(receiver, _body(2), delivery_id="dlv_3").status == 200
    assert _records(caplog) == [
        (
            "WARNING",
            "Handlers of task.created (delivery dlv_3) ran, but the store could not record it as "
            "done; this process remembers it until the store answers again",
            True,
        )
    ]


def test_a_verified_delivery_without_a_handler_is_logged_once_per_event_name(
    caplog: pytest.LogCaptureFixture,
) -> None:
    receiver = _receiver()
    receiver.on("task.completed")(lambda event: None)
    assert _send(receiver, _body(), delivery_id="dlv_a").status == 200
    assert _send(receiver, _body(1), delivery_id="dlv_b").status == 200
    messages = [m for _, m, _ in _records(caplog)]
    assert len(messages) == 1
    assert messages[0].startswith("No handler for task.created:")
    done = make_body("task.completed", timestamp=NOW_MS)
    assert _send(receiver, done, delivery_id="dlv_c").status == 200
    assert _records(caplog) == []


def test_a_refusal_after_parsing_carries_the_event_and_the_secret_that_signed_it() -> None:
    store = MemoryStore()
    receiver = _receiver(secrets=[SECRET, OLD], store=store)
    store.claim(["d:dlv_busy"], 60, "another-worker")
    outcome = _send(receiver, _body(), secret=OLD, delivery_id="dlv_busy")
    assert (outcome.status, _code(outcome)) == (409, "in_progress")
    assert outcome.event is not None
    assert outcome.event.delivery_id == "dlv_busy"
    assert (outcome.secret_index, outcome.duplicate) == (1, False)
    refused = _send(receiver, b"{}", secret=OLD, delivery_id="dlv_x")
    assert (refused.status, _code(refused), refused.event) == (400, "invalid_payload", None)
    assert refused.headers == (("Content-Type", "application/json"),)


def test_each_event_name_without_a_handler_is_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    receiver = _receiver()
    receiver.on("task.completed")(lambda event: None)
    assert _send(receiver, _body(), delivery_id="dlv_a").status == 200
    paid = make_body("invoice.paid", timestamp=NOW_MS)
    assert _send(receiver, paid, delivery_id="dlv_b").status == 200
    assert _send(receiver, _body(1), delivery_id="dlv_c").status == 200
    messages = [m.split(":")[0] for _, m, _ in _records(caplog)]
    assert messages == ["No handler for task.created", "No handler for invoice.paid"]


def test_a_completion_that_fails_once_then_succeeds_leaves_nothing_pending(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = _Store()
    receiver = _receiver(store=store)
    receiver.on("task.created")(lambda event: None)
    store.complete_fails = 1
    assert _send(receiver, _body()).status == 200
    assert _records(caplog) == []
    assert not receiver._unrecorded
    assert store.inner.claim(["d:dlv_1"], 60, "x") is ClaimState.DONE


def test_completions_the_store_missed_are_caught_up_and_a_failed_catch_up_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = _Store()
    receiver = _receiver(store=store)
    receiver.on("task.created")(lambda event: None)
    store.poisoned = {"d:dlv_lost"}
    assert _send(receiver, _body(), delivery_id="dlv_lost").status == 200
    assert receiver._unrecorded
    _records(caplog)
    # The next delivery completes, then the missed one is tried again: still failing, logged.
    assert _send(receiver, _body(1), delivery_id="dlv_next").status == 200
    assert ("WARNING", "Could not record the completions the store missed", False) in _records(
        caplog
    )
    store.poisoned = set()
    assert _send(receiver, _body(2), delivery_id="dlv_later").status == 200
    assert _records(caplog) == []  # caught up, quietly
    assert not receiver._unrecorded
    assert store.inner.claim(["d:dlv_lost"], 60, "x") is ClaimState.DONE


def test_a_claim_that_cannot_be_released_after_a_failed_handler_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = _Store()
    receiver = _receiver(store=store)

    @receiver.on("task.created")
    def failing(event: Any) -> None:
        raise RuntimeError("boom")

    store.release_fails = True
    outcome = _send(receiver, _body())
    assert (outcome.status, _code(outcome)) == (500, "handler_error")
    records = _records(caplog)
    assert ("WARNING", "Could not release the claim on a failed delivery", True) in records


def test_the_memory_floor_is_the_signed_time_of_the_newest_forgotten_body() -> None:
    store = MemoryStore(2)
    receiver = _receiver(store=store, retention=3600)
    receiver.on("task.created")(lambda event: None)
    signed = [NOW_MS - 50_000, NOW_MS - 40_000, NOW_MS - 30_000]
    for n, at in enumerate(signed):
        body = make_body("task.created", timestamp=at, **{"data.id": f"task-{n}"})
        assert _send(receiver, body, delivery_id=None).status == 200
    assert store.floor_ms == signed[0]  # the forgotten body's signed time, not the clock's
    replay = make_body("task.created", timestamp=signed[0], **{"data.id": "task-0"})
    outcome = _send(receiver, replay, delivery_id=None)
    assert (outcome.status, _code(outcome)) == (401, "event_too_old")


def test_in_background_mode_a_delivery_another_worker_holds_is_answered_409(
    tmp_path: Any,
) -> None:
    url = f"sqlite:///{tmp_path / 'hooks.db'}"
    receiver = ch.Receiver(SECRET, store=url, queue=url, router=ch.Router(), now=lambda: NOW)
    receiver.on("task.created")(lambda event: None)
    try:
        assert receiver.store.claim(["d:dlv_busy"], 60, "another-worker") is ClaimState.NEW
        outcome = _send(receiver, _body(), delivery_id="dlv_busy")
        assert (outcome.status, _code(outcome)) == (409, "in_progress")
        assert ("Retry-After", "10") in outcome.headers
        assert outcome.event is not None
        assert outcome.event.delivery_id == "dlv_busy"
        queued = _send(receiver, _body(1), delivery_id="dlv_free")
        assert (queued.status, queued.body) == (202, b'{"received":true,"queued":true}')
    finally:
        receiver.store.close()

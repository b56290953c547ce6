"""One conformance matrix, run against every adapter through its framework's test client.

Each case is a list of steps (a request and the answer it must get) plus how many times the
handler must have run at the end. Every row of the design's pipeline table is here, plus the
adapter-level refusals (invalid Content-Length, 413 by Content-Length and by chunked stream),
dedup by delivery id and by body digest, and a failed handler that succeeds on the retry. Then,
for every adapter: concurrent copies of one delivery run the handler once, the peer address
reaches the receiver (``client=``) on processed and refused requests alike, and a signature header
sent twice is malformed (never "first wins").

Options run through the same matrix: with a receipt journal, every answer of every case, on every
adapter, leaves exactly one receipt that says what was answered; and the durable journals
(SQLite, the real Redis) are driven through every adapter too.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from typing import Any

import pytest
from conftest import (
    ADAPTERS,
    NOW_MS,
    Client,
    DownStore,
    Req,
    Resp,
    StaticStore,
    make_body,
    signed_headers,
    signed_req,
)

from cortexhooks_receiver.journal import Journal, MemoryJournal, open_journal
from cortexhooks_receiver.journal.redis import RedisJournal
from cortexhooks_receiver.receiver import Receiver
from cortexhooks_receiver.stores import ClaimState, MemoryStore, Store

CAP = 4096
BIG = make_body(task_id="x" * (CAP + 10))
OK = {"received": True}
DUP = {"received": True, "duplicate": True}


def _with(req: Req, **headers: str | None) -> Req:
    new = dict(req.headers)
    for name, value in headers.items():
        key = name.replace("_", "-")
        new = {k: v for k, v in new.items() if k.lower() != key.lower()}
        if value is not None:
            new[key] = value
    return replace(req, headers=new)


@dataclass(frozen=True)
class Step:
    make: Callable[[], Req]
    status: int
    expect: str | dict[str, Any]  # an error code, or the exact JSON body
    header: tuple[str, str] | None = None


@dataclass(frozen=True)
class Case:
    id: str
    steps: list[Step]
    handled: int = 0
    store: Callable[[], Store] = field(default=MemoryStore)
    malformed_http: bool = False  # a real HTTP server refuses it (400) before the adapter runs


def _overdue() -> Req:
    body = make_body("task.overdue")
    return Req(headers=signed_headers(body, event="task.overdue", delivery_id="dlv_9"), body=body)


CASES = [
    Case("success", [Step(signed_req, 200, OK)], handled=1),
    Case(
        "same_delivery_twice_is_a_duplicate",
        [Step(signed_req, 200, OK), Step(signed_req, 200, DUP)],
        handled=1,
    ),
    Case(
        "replayed_body_with_new_delivery_id_is_a_duplicate",
        [
            Step(lambda: signed_req(delivery_id="dlv_1"), 200, OK),
            Step(lambda: signed_req(delivery_id="dlv_2", timestamp=NOW_MS + 1000), 200, DUP),
        ],
        handled=1,
    ),
    Case(
        "body_without_delivery_id_is_deduplicated_by_digest",
        [
            Step(lambda: signed_req(delivery_id=None), 200, OK),
            Step(lambda: signed_req(delivery_id=None), 200, DUP),
        ],
        handled=1,
    ),
    Case(
        "get_is_405_with_allow",
        [Step(lambda: Req(method="GET"), 405, "method_not_allowed", ("allow", "POST"))],
    ),
    Case(
        "signed_put_is_405",
        [Step(lambda: replace(signed_req(), method="PUT"), 405, "method_not_allowed")],
    ),
    Case(
        "content_length_above_cap_is_413",
        [Step(lambda: signed_req(BIG), 413, "payload_too_large")],
    ),
    Case(
        "chunked_body_above_cap_is_413",
        [Step(lambda: replace(signed_req(BIG), chunked=True), 413, "payload_too_large")],
    ),
    Case(
        "chunked_body_within_cap_is_processed",
        [Step(lambda: replace(signed_req(), chunked=True), 200, OK)],
        handled=1,
    ),
    Case(
        "invalid_content_length_is_400",
        [
            Step(
                lambda: replace(signed_req(), content_length="12abc"), 400, "invalid_content_length"
            )
        ],
        malformed_http=True,
    ),
    Case(
        "text_content_type_is_415",
        [
            Step(
                lambda: _with(signed_req(), Content_Type="text/plain"),
                415,
                "unsupported_media_type",
            )
        ],
    ),
    Case(
        "gzip_content_encoding_is_415",
        [
            Step(
                lambda: _with(signed_req(), Content_Encoding="gzip"),
                415,
                "unsupported_media_type",
            )
        ],
    ),
    Case(
        "missing_signature_is_401",
        [
            Step(
                lambda: _with(signed_req(), X_CortexBuild_Signature=None),
                401,
                "missing_signature",
            )
        ],
    ),
    Case(
        "malformed_signature_is_401",
        [
            Step(
                lambda: _with(signed_req(), X_CortexBuild_Signature="sha256=abc"),
                401,
                "malformed_signature",
            )
        ],
    ),
    Case(
        "missing_timestamp_is_401",
        [
            Step(
                lambda: _with(signed_req(), X_CortexBuild_Timestamp=None),
                401,
                "missing_timestamp",
            )
        ],
    ),
    Case(
        "non_integer_timestamp_is_401",
        [
            Step(
                lambda: _with(signed_req(), X_CortexBuild_Timestamp="12.5"),
                401,
                "invalid_timestamp",
            )
        ],
    ),
    Case(
        "stale_timestamp_header_is_401",
        [
            Step(
                lambda: signed_req(timestamp=NOW_MS - 301_000),
                401,
                "timestamp_out_of_tolerance",
            )
        ],
    ),
    Case(
        "wrong_secret_is_401",
        [Step(lambda: signed_req(secret="whsec_wrong"), 401, "signature_mismatch")],
    ),
    Case(
        "signed_non_json_is_400",
        [Step(lambda: signed_req(b"not json at all"), 400, "invalid_payload")],
    ),
    Case(
        "old_signed_body_timestamp_is_401",
        [
            Step(
                lambda: signed_req(make_body(timestamp=NOW_MS - 90_000_000)),
                401,
                "event_too_old",
            )
        ],
    ),
    Case(
        "invalid_delivery_id_is_400",
        [Step(lambda: signed_req(delivery_id="no spaces allowed"), 400, "invalid_delivery_id")],
    ),
    Case(
        "delivery_in_progress_elsewhere_is_409_with_retry_after",
        [Step(signed_req, 409, "in_progress", ("retry-after", "10"))],
        store=lambda: StaticStore(ClaimState.IN_PROGRESS),
    ),
    Case(
        "store_unavailable_is_503",
        [Step(signed_req, 503, "store_unavailable")],
        store=lambda: DownStore(ClaimState.NEW),
    ),
    Case(
        "failed_handler_is_500_and_the_retry_succeeds",
        [Step(_overdue, 500, "handler_error"), Step(_overdue, 200, OK), Step(_overdue, 200, DUP)],
    ),
]


class Handlers:
    """The handlers of the matrix: one that records, one that fails on its first call."""

    def __init__(self, receiver: Receiver) -> None:
        self.calls: list[str] = []
        self.failures = 0
        self.gate: threading.Event | None = None
        receiver.on("task.completed")(self.record)
        receiver.on("task.overdue")(self.flaky)

    def record(self, event: Any) -> None:
        if self.gate is not None:
            assert self.gate.wait(10), "the concurrency test never opened the gate"
        self.calls.append(event.delivery_id)

    def flaky(self, event: Any) -> None:
        if not self.failures:
            self.failures += 1
            raise RuntimeError("first attempt fails")


def _receiver(store: Store, clock: Callable[[], float], journal: Journal | None = None) -> Receiver:
    return Receiver(
        "whsec_K2Fj8sL3mN9pQ4rT7vX1yZ5bC6dE8fG",
        store=store,
        now=clock,
        max_body_bytes=CAP,
        lease=10,
        journal=journal,
    )


def _check(resp: Resp, step: Step) -> None:
    assert resp.status == step.status, resp.body
    assert resp.headers["content-type"].startswith("application/json")
    data = resp.json()
    if isinstance(step.expect, dict):
        assert data == step.expect
    else:
        assert data["error"] == step.expect
        assert isinstance(data["message"], str)
        assert "whsec_" not in data["message"]
    if step.header is not None:
        assert resp.headers.get(step.header[0]) == step.header[1]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_adapter_answers_the_pipeline_table(
    adapter: Callable[[Receiver], Client],
    case: Case,
    clock: Callable[[], float],
) -> None:
    receiver = _receiver(case.store(), clock)
    handlers = Handlers(receiver)
    send = adapter(receiver)
    for step in case.steps:
        resp = send(step.make())
        if case.malformed_http and send.parses_http:
            assert resp.status == step.status, resp.body  # the server's own 400, not JSON
            continue
        _check(resp, step)
    assert len(handlers.calls) == case.handled


def test_concurrent_copies_of_one_delivery_run_the_handler_once(
    adapter: Callable[[Receiver], Client], clock: Callable[[], float]
) -> None:
    # The first copy blocks in its (sync) handler until the others have been answered: they can
    # only be answered while it runs if the adapter does not serialise requests or block the loop.
    receiver = _receiver(MemoryStore(), clock)
    handlers = Handlers(receiver)
    handlers.gate = threading.Event()
    copies = 4
    send = adapter(receiver)
    answered: list[Resp] = []
    with ThreadPoolExecutor(copies) as pool:
        futures = [pool.submit(send, signed_req()) for _ in range(copies)]
        for future in as_completed(futures, timeout=30):
            answered.append(future.result())
            if len(answered) == copies - 1:
                handlers.gate.set()
    statuses = sorted(r.status for r in answered)
    assert statuses == [200] + [409] * (copies - 1)
    assert handlers.calls == ["dlv_1"]
    again = send(signed_req())
    assert again.status == 200
    assert again.json() == DUP


# -- the receipt journal, through every adapter ----------------------------------------------


def _said(resp: Resp) -> tuple[int, str | None, bool]:
    """(status, error code, duplicate) as the answer says them."""
    data = resp.json()
    return resp.status, data.get("error"), bool(data.get("duplicate"))


def _journaled(journal: Journal) -> list[tuple[int, str | None, bool]]:
    return [(r.status, r.code, r.duplicate) for r in reversed(journal.query(limit=1000))]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_adapter_journals_every_answer_once(
    adapter: Callable[[Receiver], Client],
    case: Case,
    clock: Callable[[], float],
) -> None:
    journal = MemoryJournal()
    receiver = _receiver(case.store(), clock, journal)
    Handlers(receiver)
    send = adapter(receiver)
    if case.malformed_http and send.parses_http:
        for step in case.steps:
            assert send(step.make()).status == step.status  # the HTTP server's own answer
        assert _journaled(journal) == []  # the receiver never saw the request
        return
    answers = [_said(send(step.make())) for step in case.steps]
    assert _journaled(journal) == answers


@pytest.fixture(params=["sqlite", "redis"])
def durable_journal(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[Journal]:
    """A SQLite journal, or one on the real Redis under a unique prefix."""
    if request.param == "sqlite":
        journal = open_journal(f"sqlite:///{tmp_path / 'journal.db'}")
        yield journal
        journal.close()
        return
    redis_url = request.getfixturevalue("redis_url")
    redis_journal = RedisJournal(redis_url, prefix=f"test-h13-adapters-{uuid.uuid4().hex}:")
    yield redis_journal
    redis_journal.client.delete(redis_journal.stream, redis_journal.prefix + "journal:id")
    redis_journal.close()


def test_adapter_writes_receipts_to_a_durable_journal(
    adapter: Callable[[Receiver], Client],
    durable_journal: Journal,
    clock: Callable[[], float],
) -> None:
    receiver = _receiver(MemoryStore(), clock, durable_journal)
    Handlers(receiver)
    send = adapter(receiver)
    steps: list[tuple[Callable[[], Req], tuple[int, str | None, bool], str | None]] = [
        (signed_req, (200, None, False), "task.completed"),
        (signed_req, (200, None, True), "task.completed"),
        (lambda: Req(method="GET"), (405, "method_not_allowed", False), None),
        (_overdue, (500, "handler_error", False), "task.overdue"),
    ]
    if not send.parses_http:  # behind a real HTTP parser, the server answers a bad length itself
        steps.insert(3, (_bad_length, (400, "invalid_content_length", False), None))
    answers = [_said(send(make())) for make, _, _ in steps]
    assert answers == [answer for _, answer, _ in steps]
    receipts = list(reversed(durable_journal.query()))
    assert [(r.status, r.code, r.duplicate) for r in receipts] == answers
    assert [r.event for r in receipts] == [event for _, _, event in steps]
    assert receipts[0].delivery_id == "dlv_1"
    assert receipts[0].client == send.peer  # the adapter passed the peer address on
    assert receipts[-1].error == "RuntimeError: first attempt fails"


def _bad_length() -> Req:
    return replace(signed_req(), content_length="12abc")


class PeerSpy(Receiver):
    """A receiver that records the ``client`` each adapter passes, and through which entry."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.clients: list[tuple[str, str | None]] = []

    def handle(self, body: Any, headers: Any, method: str = "POST", *, client: Any = None) -> Any:
        self.clients.append(("handle", client))
        return super().handle(body, headers, method, client=client)

    async def handle_async(
        self, body: Any, headers: Any, method: str = "POST", *, client: Any = None
    ) -> Any:
        self.clients.append(("handle", client))
        return await super().handle_async(body, headers, method, client=client)

    def refuse(self, error: Any, *, client: Any = None) -> Any:
        self.clients.append(("refuse", client))
        return super().refuse(error, client=client)

    async def refuse_async(self, error: Any, *, client: Any = None) -> Any:
        self.clients.append(("refuse", client))
        return await super().refuse_async(error, client=client)


def test_adapter_passes_the_peer_address_to_the_receiver(
    adapter: Callable[[Receiver], Client], clock: Callable[[], float]
) -> None:
    # Processed deliveries and refusals the adapter decides itself (here: a Content-Length above
    # the cap, answered without reading) both carry the address the test client connects from.
    receiver = PeerSpy(
        "whsec_K2Fj8sL3mN9pQ4rT7vX1yZ5bC6dE8fG", now=clock, max_body_bytes=CAP, lease=10
    )
    send = adapter(receiver)
    assert send(signed_req()).status == 200
    assert send(Req(method="GET")).status == 405
    assert send(signed_req(BIG)).status == 413
    assert receiver.clients == [("handle", send.peer), ("handle", send.peer), ("refuse", send.peer)]


def test_a_signature_header_sent_twice_is_malformed_never_first_wins(
    adapter: Callable[[Receiver], Client], clock: Callable[[], float]
) -> None:
    # The genuine signature first, a forged one after it (or the other way round): an adapter that
    # kept one of the two would let the request through, or refuse it for the wrong reason.
    receiver = _receiver(MemoryStore(), clock)
    handlers = Handlers(receiver)
    send = adapter(receiver)
    if not send.repeats_headers:
        # Django's test client and an ALB without multi-value headers carry one value per name:
        # the request cannot even be expressed; the one that arrives is an ordinary request.
        assert send(signed_req()).status == 200
        return
    genuine = signed_req()
    signature = genuine.headers["X-CortexBuild-Signature"]
    for repeated in (("X-CortexBuild-Signature", "0" * 64), ("x-cortexbuild-signature", signature)):
        resp = send(replace(genuine, repeated=(repeated,)))
        assert resp.status == 401, resp.body
        assert resp.json()["error"] == "malformed_signature"
    assert handlers.calls == []


ASGI_ADAPTERS = [
    "asgi",
    "asgi_middleware",
    "starlette_route",
    "starlette_middleware",
    "fastapi",
    "litestar",
    "quart",
    "falcon_asgi",
]


@pytest.mark.parametrize("name", ASGI_ADAPTERS)
@pytest.mark.parametrize("chunked", [False, True], ids=["by_length", "by_stream"])
def test_an_asgi_413_says_connection_close_as_the_body_is_left_unread(
    name: str, chunked: bool, clock: Callable[[], float]
) -> None:
    # The server must close the connection; hypercorn does so without saying it, and a client
    # reusing the connection would lose its next request. Other answers keep the connection.
    with ExitStack() as cleanup:
        send = ADAPTERS[name](_receiver(MemoryStore(), clock), cleanup)
        refused = send(replace(signed_req(BIG), chunked=chunked))
        assert refused.status == 413
        assert refused.headers.get("connection") == "close"
        assert "connection" not in send(signed_req()).headers

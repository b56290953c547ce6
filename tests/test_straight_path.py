"""The straight path gives the pipeline's answer, and leaves the pipeline's state, for any request.

``Receiver.handle`` first tries its straight path: the pipeline for a genuine delivery in one
frame, in the plain configuration (one secret, the memory store, handlers inline, no rate limit,
proxies, queue, journal or telemetry). It gives up, having changed nothing, at the first check that
does not pass, and a handler that fails joins the pipeline where it fails there. These tests hold
it to that: two receivers alike in everything but the straight path get the same requests, and
must give the same answers, run the same handlers and remember the same keys.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cortexhooks_receiver as ch
from cortexhooks_receiver._headers import HeaderView
from cortexhooks_receiver.ratelimit import MemoryBuckets
from cortexhooks_receiver.receiver import Outcome
from cortexhooks_receiver.stores import MemoryStore

SECRET = "whsec_K2Fj8sL3mN9pQ4rT7vX1yZ5bC6dE8fG"
NOW_MS = 1_762_698_600_000
NOW = NOW_MS / 1000


def body_of(event: str = "task.completed", signed_at: int = NOW_MS, **extra: Any) -> bytes:
    data = {"id": "task-123", "title": "Install electrical panels", "status": "completed"}
    return json.dumps(
        {"event": event, "timestamp": signed_at, "data": data, "companyId": "comp-1", **extra},
        separators=(",", ":"),
    ).encode()


class Calls:
    """The handlers' record: what ran, in order; ``fail`` makes them raise."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.seen: list[tuple[Any, ...]] = []

    def sync(self, event: Any) -> None:
        self.seen.append((event.event, event.delivery_id, event.webhook_id))
        if self.mode == "fail":
            raise ValueError("the handler failed")

    async def coroutine(self, event: Any) -> None:
        await asyncio.sleep(0)
        self.seen.append((event.event, event.delivery_id, event.webhook_id))
        if self.mode == "fail":
            raise ValueError("the async handler failed")


TENANTS: dict[str, Any] = {
    "webhook-1": SECRET,
    "webhook-2": [SECRET, "whsec_old"],  # a rotation: several secrets take the pipeline
    "webhook-3": "whsec_another",
    "webhook-4": ["whsec_newer", SECRET],  # signed with the older of two
}

# The configurations the straight path serves (each is also tried without it). The limits are
# small and the clock stands still, so that a token taken twice shows as a different answer.
CONFIGS: dict[str, dict[str, Any]] = {
    "plain": {},
    "trusted proxies": {"trusted_proxies": ["10.0.0.0/8"]},
    "rate limit": {"rate_limit": "3/s"},
    "limits per client behind proxies": {
        "rate_limit": "20/s",
        "rate_limit_per_client": "2/s",
        "trusted_proxies": ["10.0.0.0/8"],
    },
    "secret_for": {"secret_for": TENANTS.get},
    # An on_error and an on_rejected hook (see receivers), behind a trusted proxy.
    "hooks": {"trusted_proxies": ["10.0.0.0/8"]},
}


def receivers(
    mode: str = "ok",
    registration: str = "sync",
    max_entries: int = 100_000,
    config: str = "plain",
    **options: Any,
) -> tuple[tuple[ch.Receiver, Calls], tuple[ch.Receiver, Calls]]:
    """Two receivers alike in everything but the straight path (the second has none)."""
    pair = []
    for straight in (True, False):
        calls = Calls(mode)
        chosen = {**CONFIGS[config], **options}
        if "secret_for" not in chosen:
            chosen["secret"] = SECRET
        receiver = ch.Receiver(
            now=lambda: NOW,
            router=ch.Router(),
            store=MemoryStore(max_entries, clock=lambda: 1000.0),
            **chosen,
        )
        if config == "hooks":
            receiver.on_error(lambda event, exc, seen=calls.seen: seen.append(("error", str(exc))))
            receiver.on_rejected(
                lambda error, request, seen=calls.seen: seen.append(
                    ("rejected", error.code, request.client)
                )
            )
        handler: Callable[[Any], Any] = calls.coroutine if registration == "async" else calls.sync
        if registration == "filtered":
            receiver.on("task.completed", company_ids={"comp-1"})(handler)
        elif registration == "none":
            pass
        else:
            receiver.on("task.completed", "task.created")(handler)
        if not straight:
            receiver._straight = None
        pair.append((receiver, calls))
    return pair[0], pair[1]


def same_outcome(straight: Outcome, pipeline: Outcome) -> None:
    assert straight.status == pipeline.status
    assert straight.body == pipeline.body
    assert straight.headers == pipeline.headers
    assert straight.duplicate == pipeline.duplicate
    assert straight.secret_index == pipeline.secret_index
    assert straight.event == pipeline.event
    assert type(straight.error) is type(pipeline.error)


def memory_of(receiver: ch.Receiver) -> list[tuple[str, int, float, int]]:
    # Tokens differ between the two receivers; everything else must not.
    store = receiver.store
    assert isinstance(store, MemoryStore)
    return [
        (key, state, expires, signed) for key, (state, _, expires, signed) in store._entries.items()
    ]


def environ_of(headers: dict[str, Any]) -> dict[str, Any]:
    environ: dict[str, Any] = {"wsgi.version": (1, 0), "REQUEST_METHOD": "POST"}
    for name, value in headers.items():
        key = name.upper().replace("-", "_")
        environ[key if key == "CONTENT_TYPE" else "HTTP_" + key] = value
    return environ


# --- any request: the same answer, the same handlers run, the same keys remembered -------------


BODIES = {
    "genuine": body_of(),
    "another event": body_of("task.created"),
    "no handler": body_of("invoice.paid"),
    "unknown event": body_of("no.such.event"),
    "retention": body_of(signed_at=NOW_MS - 86_400_000),  # exactly as old as the retention
    "nearly retention": body_of(signed_at=NOW_MS - 86_399_999),
    "future": body_of(signed_at=NOW_MS + 300_001),
    "nearly future": body_of(signed_at=NOW_MS + 300_000),
    "ids in the body": body_of(deliveryId="dlv_body", webhookId="w-body", attempt=7),
    # The JSON names of the fields the receiver fills in: a body can never choose them.
    "internal names": body_of(
        **{
            "__cortexhooks_delivery_id__": "dlv_body",
            "__cortexhooks_webhook_id__": "w-body",
            "__cortexhooks_attempt__": 7,
            "__cortexhooks_raw__": "cmF3",
        }
    ),
    "internal attempt": body_of(**{"__cortexhooks_attempt__": 2}),
    "invalid data": b'{"event":"task.completed","timestamp":1762698600000,"data":{}}',
    "not json": b"{not json",
    "empty": b"",
    "not utf-8": b'{"event":"task.completed\xff"}',
    # Other genuine bodies: one for each tenant of secret_for, so none is a duplicate by body.
    **{f"genuine {n}": body_of(signed_at=NOW_MS - n) for n in range(1, 10)},
}


def build(
    body: str = "genuine",
    timestamp: int = NOW_MS,
    delivery_id: str | None = "dlv_1",
    webhook_id: str | None = None,
    event_header: str | None = None,
    signature: str = "as signed",
    timestamp_text: str = "as signed",
    content_type: str | None = "application/json",
    encoding: str | None = None,
    value_type: tuple[str, str] | None = None,
    container: str = "dict",
    body_type: str = "bytes",
    method: str = "POST",
    client: str | None = None,
    forwarded: str | None = None,
) -> tuple[Any, Any, str, str | None]:
    """A request: a genuine delivery, but for what the arguments change."""
    raw = BODIES[body]
    headers: dict[str, Any] = ch.sign(
        raw, SECRET, timestamp=timestamp, delivery_id=delivery_id, webhook_id=webhook_id
    )
    if delivery_id is None:
        del headers["X-CortexBuild-Delivery-Id"]
    if event_header is not None:
        headers["X-CortexBuild-Event"] = event_header
    if forwarded is not None:
        headers["X-Forwarded-For"] = forwarded
    signed = headers["X-CortexBuild-Signature"]
    wrong = ("0" if signed[0] != "0" else "1") + signed[1:]
    changed_signature = {
        "as signed": signed,
        "upper": signed.upper(),
        "a space inside": signed[:32] + " " + signed[33:],
        "a space added": signed[:32] + " " + signed[32:],
        "a space first": " " + signed[1:],
        "wrong": wrong,
        "short": signed[:-2],
        "long": signed + "00",
        "not hex": "z" * 64,
    }
    if signature == "absent":
        del headers["X-CortexBuild-Signature"]
    else:
        headers["X-CortexBuild-Signature"] = changed_signature[signature]
    text = headers["X-CortexBuild-Timestamp"]
    headers["X-CortexBuild-Timestamp"] = {
        "as signed": text,
        "fullwidth digits": text.translate(FULLWIDTH),
        "leading zeros": "000" + text,
        "plus sign": "+" + text,
        "a space after": text + " ",
        "empty": "",
    }[timestamp_text]
    if content_type is None:
        del headers["Content-Type"]
    else:
        headers["Content-Type"] = content_type
    if encoding is not None:
        headers["Content-Encoding"] = encoding
    if value_type is not None and value_type[0] in headers:
        name, kind = value_type
        value = headers[name]
        headers[name] = {"bytes": value.encode(), "list": [value], "None": None, "int": 7}[kind]
    sent: Any = headers
    if container == "environ":
        sent = environ_of(headers)
    elif container == "view":
        sent = HeaderView({name.lower(): value for name, value in headers.items()})
    elif container == "lower dict":
        sent = {name.lower(): value for name, value in headers.items()}
    elif container == "pairs":
        sent = list(headers.items())
    elif container == "dict plus a casing":
        sent = {**headers, "x-cortexbuild-signature": "0" * 64}
    elif container == "dict plus":
        sent = {**headers, "User-Agent": "CortexBuild-Webhooks/1.0"}
    sent_body: Any = {
        "bytes": raw,
        "bytearray": bytearray(raw),
        "memoryview": memoryview(raw),
        "str": raw.decode("latin-1"),
    }[body_type]
    return sent_body, sent, method, client


FULLWIDTH = str.maketrans("0123456789", "".join(chr(0xFF10 + digit) for digit in range(10)))
CONTAINERS = ["dict", "environ", "view", "lower dict", "pairs", "dict plus a casing", "dict plus"]
HEADER_NAMES = [
    "Content-Type",
    "X-CortexBuild-Signature",
    "X-CortexBuild-Timestamp",
    "X-CortexBuild-Delivery-Id",
]

# Each way a request can differ from a genuine delivery: every one is tried on its own (so each
# check of the straight path meets its boundary), and the property test mixes them.
CHANGES: dict[str, list[Any]] = {
    "body": list(BODIES),
    "timestamp": [NOW_MS - 300_000, NOW_MS + 300_000, NOW_MS - 300_001, NOW_MS + 300_001, 10**15],
    "delivery_id": ["x" * 128, "x" * 129, "", "dlv 1", "dlv_\u00e9", "a/b", "dlv_2", None],
    "webhook_id": ["webhook-1", "webhook-2", "webhook-3", "webhook-4", "webhook-5", "", "w h"],
    "event_header": ["task.completed", "other"],
    "signature": [
        "upper",
        "a space inside",
        "a space added",
        "a space first",
        "wrong",
        "short",
        "long",
        "not hex",
        "absent",
    ],
    "timestamp_text": ["fullwidth digits", "leading zeros", "plus sign", "a space after", "empty"],
    "content_type": ["application/json; charset=utf-8", "Application/JSON", "text/plain", None],
    "encoding": ["identity", "gzip", ""],
    "value_type": [(name, kind) for name in HEADER_NAMES for kind in ("bytes", "list", "None")],
    "container": CONTAINERS,
    "body_type": ["bytearray", "memoryview", "str"],
    "method": ["post", "GET", "PUT"],
    "client": ["203.0.113.7", "10.0.0.7", "203.0.113.8"],
    "forwarded": ["203.0.113.9", "10.0.0.8, 203.0.113.9", "not an address"],
}
SINGLE_CHANGES = [(name, value) for name, values in CHANGES.items() for value in values]


Request = tuple[Any, Any, str, "str | None"]


def requests(mixed: bool, **defaults: Any) -> st.SearchStrategy[Request]:
    """Genuine deliveries with one change (or, ``mixed``, up to four), in a plain container.

    ``defaults``: what a genuine delivery is in this configuration (its webhook id for
    ``secret_for``).
    """
    if not mixed:
        single = st.sampled_from([None, *SINGLE_CHANGES])
        return st.builds(
            lambda change, container: build(
                **{"container": container, **defaults, **dict([change] if change else [])}
            ),
            single,
            st.sampled_from(["dict", "environ", "view"]),
        )
    return st.fixed_dictionaries(
        {}, optional={name: st.sampled_from(values) for name, values in CHANGES.items()}
    ).map(lambda changes: build(**{**defaults, **changes}))


def run_both(
    stream: list[Request],
    mode: str = "ok",
    registration: str = "sync",
    max_body_bytes: int = 1_048_576,
    max_entries: int = 100_000,
    config: str = "plain",
) -> None:
    (straight, straight_calls), (pipeline, pipeline_calls) = receivers(
        mode, registration, max_entries, config, max_body_bytes=max_body_bytes
    )
    assert straight._straight is not None
    assert pipeline._straight is None
    for body, headers, method, client in stream:
        try:
            answer = pipeline.handle(body, headers, method, client=client)
        except ch.errors.BodyTypeError:
            with pytest.raises(ch.errors.BodyTypeError):
                straight.handle(body, headers, method, client=client)
            continue
        same_outcome(straight.handle(body, headers, method, client=client), answer)
        assert straight_calls.seen == pipeline_calls.seen
        assert memory_of(straight) == memory_of(pipeline)


@pytest.mark.parametrize("container", ["dict", "environ", "view"])
@pytest.mark.parametrize("change", SINGLE_CHANGES, ids=repr)
def test_each_single_change_is_answered_as_the_pipeline_does(
    change: tuple[str, Any], container: str
) -> None:
    name, value = change
    changed = (
        build(**{name: value})
        if name == "container"
        else build(container=container, **{name: value})
    )
    genuine = build(container=container)
    run_both([changed])
    run_both([genuine, changed, genuine])  # after a processed delivery: dedup by id and body


@st.composite
def configured_streams(draw: st.DrawFn) -> tuple[str, list[Request]]:
    config = draw(st.sampled_from(list(CONFIGS)))
    defaults = {"webhook_id": "webhook-1"} if config == "secret_for" else {}
    stream = draw(
        st.lists(
            requests(mixed=False, **defaults) | requests(mixed=True, **defaults),
            min_size=1,
            max_size=6,
        )
    )
    return config, stream


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    configured=configured_streams(),
    mode=st.sampled_from(["ok", "ok", "fail"]),
    registration=st.sampled_from(["sync", "sync", "async", "filtered", "none"]),
    max_body_bytes=st.sampled_from([1_048_576, 64]),
)
def test_any_stream_of_requests_is_answered_as_the_pipeline_does(
    configured: tuple[str, list[Request]], mode: str, registration: str, max_body_bytes: int
) -> None:
    config, stream = configured
    run_both(stream, mode, registration, max_body_bytes, config=config)


@pytest.mark.parametrize("config", list(CONFIGS))
@pytest.mark.parametrize("container", ["dict", "environ", "view"])
def test_each_configuration_answers_a_stream_as_the_pipeline_does(
    config: str, container: str
) -> None:
    webhook = {"webhook_id": "webhook-1"} if config == "secret_for" else {}
    genuine = [
        build(container=container, delivery_id=f"dlv_{index}", client=client, **webhook)
        for index, client in enumerate(["203.0.113.7", "10.0.0.7", "203.0.113.7", None] * 2)
    ]
    forwarded = build(container=container, client="10.0.0.7", forwarded="203.0.113.9", **webhook)
    refused = build(
        container=container,
        client="10.0.0.7",
        forwarded="203.0.113.9",
        signature="wrong",
        delivery_id="dlv_refused",
        **webhook,
    )
    # Twice each: the first asks secret_for, the second finds its answer cached.
    tenants = [
        build(container=container, webhook_id=name, body=f"genuine {n}", delivery_id=f"dlv_{n}")
        for n, name in enumerate([*TENANTS, *TENANTS], 1)
    ]
    run_both([*genuine, forwarded, refused, *tenants, *genuine[:2]], config=config)
    run_both([*genuine, forwarded], mode="fail", config=config)


@pytest.mark.parametrize("room", [-1, 0])
def test_a_body_at_the_size_limit_is_answered_as_the_pipeline_does(room: int) -> None:
    (straight, _), (pipeline, _) = receivers(max_body_bytes=len(BODIES["genuine"]) + room)
    request = build()
    assert (
        straight.handle(*request[:3]).status
        == pipeline.handle(*request[:3]).status
        == (413 if room < 0 else 200)
    )


@pytest.mark.parametrize("max_entries", [2, 3, 4, 5])
def test_a_full_memory_store_evicts_as_by_the_pipeline(max_entries: int) -> None:
    stream = [
        build(body=name, delivery_id=f"dlv_{index}")
        for index, name in enumerate(["genuine", "another event", "nearly retention", "genuine"])
    ]
    run_both(stream, max_entries=max_entries)


def test_a_forked_store_warns_as_by_the_pipeline(caplog: pytest.LogCaptureFixture) -> None:
    logged = []
    for receiver, _ in receivers():
        store = receiver.store
        assert isinstance(store, MemoryStore)
        store._forked = True  # as the store's fork hook leaves it in a child process
        with caplog.at_level(logging.WARNING, logger="cortexhooks_receiver"):
            caplog.clear()
            assert receiver.handle(*build()[:3]).status == 200
        logged.append([record.getMessage() for record in caplog.records])
    assert logged[0] == logged[1]
    assert any("forked" in message for message in logged[0])


def test_bodies_the_full_memory_store_may_have_forgotten_are_refused_as_by_the_pipeline() -> None:
    # max_entries=2: each delivery's two keys evict the previous one's, raising the store's floor
    # to its signed time; a body signed at or before the floor may be one it forgot.
    stream = [
        build(body=name, delivery_id=f"dlv_{index}")
        for index, name in enumerate(["nearly retention", "genuine", "nearly retention"])
    ]
    run_both(stream, max_entries=2)
    (straight, _), _ = receivers(max_entries=2)
    answers = [straight.handle(*request[:3]) for request in stream]
    assert [answer.status for answer in answers] == [200, 200, 401]
    assert answers[2].error is not None
    assert answers[2].error.code == "event_too_old"


def test_a_delivery_nobody_handles_is_logged_as_by_the_pipeline(
    caplog: pytest.LogCaptureFixture,
) -> None:
    logged = []
    for straight in receivers(registration="none"):
        with caplog.at_level(logging.WARNING, logger="cortexhooks_receiver"):
            caplog.clear()
            assert straight[0].handle(*build()[:3]).status == 200
        logged.append([record.getMessage() for record in caplog.records])
    assert logged[0] == logged[1]
    assert "no handlers at all" in logged[0][0]


# --- the straight path is taken where it should be, and only there ----------------------------


def never(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("the pipeline ran")


@pytest.mark.parametrize("container", ["dict", "environ", "view"])
def test_a_genuine_delivery_takes_the_straight_path_in_each_plain_container(
    container: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    (receiver, calls), _ = receivers()
    body = body_of()
    headers: Any = ch.sign(body, SECRET, timestamp=NOW_MS, delivery_id="dlv_1", webhook_id="w-1")
    if container == "environ":
        headers = environ_of(headers)
    elif container == "view":
        headers = HeaderView({name.lower(): value for name, value in headers.items()})
    monkeypatch.setattr(receiver, "_drive", never)
    outcome = receiver.handle(body, headers)
    assert (outcome.status, outcome.body) == (200, b'{"received":true}')
    assert outcome.event is not None
    assert outcome.event.delivery_id == "dlv_1"
    assert outcome.event.webhook_id == "w-1"
    assert outcome.secret_index == 0
    assert calls.seen == [("task.completed", "dlv_1", "w-1")]


class SharedBuckets(MemoryBuckets):
    """Buckets as a store shared by processes would hold them (the pipeline's I/O step)."""


def plain_request() -> tuple[bytes, dict[str, str]]:
    body = body_of()
    return body, ch.sign(body, SECRET, timestamp=NOW_MS, delivery_id="dlv_1")


@pytest.mark.parametrize(
    "options",
    [
        {"secrets": [SECRET, "whsec_old"]},
        {"journal": "memory://"},
        {"rate_limit": "100/s", "rate_limit_store": SharedBuckets()},
        {"store": "sqlite"},
    ],
    ids=["two secrets", "journal", "rate limits shared with other processes", "sqlite store"],
)
def test_other_configurations_take_the_pipeline(options: dict[str, Any], tmp_path: Path) -> None:
    if options.get("store") == "sqlite":
        options = {"store": f"sqlite:///{tmp_path}/dedup.db"}
    secret = {} if "secrets" in options else {"secret": SECRET}
    receiver = ch.Receiver(now=lambda: NOW, router=ch.Router(), **secret, **options)
    receiver.on("task.completed")(lambda event: None)
    assert receiver._straight is None
    assert receiver.handle(*plain_request()).status == 200


def test_telemetry_set_later_turns_the_straight_path_off_and_on() -> None:
    receiver = ch.Receiver(SECRET, now=lambda: NOW, router=ch.Router())
    assert receiver._straight is not None
    receiver.telemetry = object()  # type: ignore[assignment]
    assert receiver._straight is None
    receiver.telemetry = None
    assert receiver._straight is not None


def test_a_duplicate_is_answered_by_the_pipeline(monkeypatch: pytest.MonkeyPatch) -> None:
    (receiver, calls), _ = receivers()
    body, headers = plain_request()
    driven: list[Any] = []
    drive = receiver._drive
    monkeypatch.setattr(receiver, "_drive", lambda *args: driven.append(args) or drive(*args))
    assert receiver.handle(body, headers).status == 200
    assert driven == []  # the first delivery: the straight path alone
    again = receiver.handle(body, headers)
    assert (again.status, again.duplicate) == (200, True)
    assert len(driven) == 1  # its keys are known: handed to the pipeline, which says duplicate
    assert len(calls.seen) == 1


# --- a failing handler: the pipeline's answer, hooks and release -------------------------------


def test_a_failing_handler_on_the_straight_path_is_released_reported_and_retried(
    caplog: pytest.LogCaptureFixture,
) -> None:
    (receiver, calls), _ = receivers("fail")
    reported: list[tuple[str, str]] = []
    receiver.on_error(lambda event, exc: reported.append((event.event, str(exc))))
    body, headers = plain_request()
    with caplog.at_level(logging.ERROR, logger="cortexhooks_receiver"):
        outcome = receiver.handle(body, headers)
    assert (outcome.status, outcome.error and outcome.error.code) == (500, "handler_error")
    assert reported == [("task.completed", "the handler failed")]
    assert "the claim is released for the retry" in caplog.text
    assert receiver._heartbeat.running == {}
    calls.mode = "ok"
    assert receiver.handle(body, headers).status == 200  # the retry runs it
    assert len(calls.seen) == 2


def test_an_exception_beyond_exception_propagates_and_leaves_nothing_running() -> None:
    receiver = ch.Receiver(SECRET, now=lambda: NOW, router=ch.Router())

    @receiver.on("task.completed")
    def interrupted(event: Any) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        receiver.handle(*plain_request())
    assert receiver._heartbeat.running == {}


def test_an_async_handler_runs_on_the_straight_path(monkeypatch: pytest.MonkeyPatch) -> None:
    (receiver, calls), _ = receivers(registration="async")
    monkeypatch.setattr(receiver, "_drive", never)
    assert receiver.handle(*plain_request()).status == 200
    assert calls.seen == [("task.completed", "dlv_1", None)]


# --- the heartbeat keeps a straight delivery's claim, and never takes a released one back ------


def test_the_heartbeat_extends_a_running_straight_delivery_and_not_a_released_one() -> None:
    clock = [1000.0]
    store = MemoryStore(clock=lambda: clock[0])
    receiver = ch.Receiver(SECRET, now=lambda: NOW, router=ch.Router(), store=store, lease=30)
    beats: list[int] = []

    @receiver.on("task.completed")
    def slow(event: Any) -> None:
        heartbeat = receiver._heartbeat
        heartbeat.beat()  # the first beat sees it running; the next extends it
        clock[0] += 20
        beats.append(heartbeat.beat())
        (entry,) = {store._entries[key][2] for key in ("d:dlv_1",)}
        assert entry == clock[0] + 30  # extended to a lease from now
        raise ValueError("fails after the beats")

    body, headers = plain_request()
    assert receiver.handle(body, headers).status == 500
    assert beats == [1]
    # The claim is released; a late beat holding the running entry does not take it back.
    receiver._extend_claim("0xtoken", ("d:dlv_1", "b:unused"))
    assert "d:dlv_1" not in store._entries


def test_memory_extend_touches_only_claims_the_token_holds() -> None:
    clock = [0.0]
    store = MemoryStore(clock=lambda: clock[0])
    assert store.claim(["a"], 10, "mine") is ch.stores.ClaimState.NEW
    assert store.claim(["b"], 10, "theirs") is ch.stores.ClaimState.NEW
    store.complete(["c"], 100, "mine")
    clock[0] = 5
    store.extend(["a", "b", "c", "d"], 10, "mine")
    assert store._entries["a"][2] == 15  # extended
    assert store._entries["b"][2] == 10  # another's claim: untouched
    assert store._entries["c"][:3] == (1, None, 100)  # done: untouched
    assert "d" not in store._entries  # never created

"""The receiver's options through every adapter: filters, failure hooks, secret_for, rate limits.

The conformance matrix's second table: each case configures a Receiver with one option, sends
its requests through each adapter's own test client and checks the answers and what the option
did (which handlers ran, what the hooks saw). Async variants (an async ``secret_for``, async
hooks) run through the sync adapters too, which run them to completion. The rate limit runs on
memory and on the real Redis.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import pytest
import redis
from conftest import SECRET, Req, Resp, make_body, signed_headers, signed_req
from test_conformance import Step
from test_conformance import _check as check_answer

import cortexhooks_receiver as ch
from cortexhooks_receiver.ratelimit.redis import RedisBuckets
from cortexhooks_receiver.receiver import Receiver

OK = {"received": True}
TENANTS = {"webhook-a": SECRET, "webhook-b": ["whsec_b_new_0000", "whsec_b_old_0000"]}


def project_req(project: str, delivery_id: str) -> Req:
    payload = json.loads(make_body(task_id=f"task-{project}"))
    payload["data"]["projectId"] = project
    body = json.dumps(payload, separators=(",", ":")).encode()
    return Req(headers=signed_headers(body, delivery_id=delivery_id), body=body)


def tenant_req(
    webhook_id: str, secret: str, delivery_id: str = "dlv_1", *, signature: str | None = None
) -> Req:
    req = signed_req(secret=secret, delivery_id=delivery_id)
    headers = {**req.headers, "X-CortexBuild-Webhook-Id": webhook_id}
    if signature is not None:
        headers["X-CortexBuild-Signature"] = signature
    return replace(req, headers=headers)


@dataclass
class Seen:
    """What the handlers and hooks of one case saw."""

    handled: list[str] = field(default_factory=list)
    errors: list[tuple[str | None, str]] = field(default_factory=list)
    rejected: list[tuple[str, str | None, str | None]] = field(default_factory=list)


@dataclass(frozen=True)
class Case:
    id: str
    options: Callable[[], dict[str, Any]]
    steps: list[Step]
    check: Callable[[Seen], None] = lambda seen: None
    setup: Callable[[Receiver, Seen], None] = lambda receiver, seen: None


def _oversized() -> Req:
    body = make_body(task_id="t" * 5000)  # over the receivers' 4096-byte cap
    return Req(headers=signed_headers(body), body=body)


def _record(seen: Seen) -> Callable[[Any], None]:
    return lambda event: seen.handled.append(event.delivery_id)


def _filtered(receiver: Receiver, seen: Seen) -> None:
    receiver.on("task.completed", project_ids={"proj-1"}, company_ids={"company-1"})(_record(seen))


def _failing(receiver: Receiver, seen: Seen) -> None:
    def fail(event: Any) -> None:
        raise RuntimeError("the ERP is down")

    receiver.on("task.completed")(fail)
    receiver.on_error(lambda event, exc: seen.errors.append((event.delivery_id, str(exc))))


def _rejections(receiver: Receiver, seen: Seen) -> None:
    receiver.on("task.completed")(_record(seen))

    def rejected(error: ch.WebhookError, request: ch.RejectedRequest) -> None:
        seen.rejected.append((error.code, request.delivery_id, request.webhook_id))

    receiver.on_rejected(rejected)


def _async_hooks(receiver: Receiver, seen: Seen) -> None:
    async def fail(event: Any) -> None:
        raise RuntimeError("async handler failed")

    async def on_error(event: Any, exc: Exception) -> None:
        seen.errors.append((event.delivery_id, str(exc)))

    async def on_rejected(error: ch.WebhookError, request: ch.RejectedRequest) -> None:
        seen.rejected.append((error.code, request.delivery_id, request.webhook_id))

    receiver.on("task.completed")(fail)
    receiver.on_error(on_error)
    receiver.on_rejected(on_rejected)


def _raising_hooks(receiver: Receiver, seen: Seen) -> None:
    receiver.on("task.completed")(_record(seen))
    receiver.on_rejected(lambda error, request: 1 / 0)
    receiver.on_error(lambda event, exc: 1 / 0)


def _tenant_handlers(receiver: Receiver, seen: Seen) -> None:
    receiver.on("task.completed")(lambda event: seen.handled.append(event.webhook_id))


async def _async_secret_for(webhook_id: str) -> str | list[str] | None:
    return TENANTS.get(webhook_id)  # type: ignore[return-value]


BAD_SIGNATURE = "0" * 64

CASES = [
    Case(
        "project_and_company_filters_run_only_matching_handlers_and_ack_the_rest",
        dict,
        [
            Step(lambda: project_req("proj-1", "dlv_1"), 200, OK),
            Step(lambda: project_req("proj-2", "dlv_2"), 200, OK),
        ],
        check=lambda seen: _equal(seen.handled, ["dlv_1"]),
        setup=_filtered,
    ),
    Case(
        "on_error_sees_a_failed_handler_and_the_answer_stays_500",
        dict,
        [Step(signed_req, 500, "handler_error")],
        check=lambda seen: _equal(seen.errors, [("dlv_1", "the ERP is down")]),
        setup=_failing,
    ),
    Case(
        "on_rejected_sees_refusals_with_safe_facts_but_not_failed_handlers",
        dict,
        [
            Step(
                lambda: tenant_req("webhook-9", SECRET, "dlv_x", signature=BAD_SIGNATURE),
                401,
                "signature_mismatch",
            ),
            Step(lambda: Req(method="GET"), 405, "method_not_allowed"),
            # Refused by the adapter before the body is read (a declared length over the cap):
            # every adapter answers it through the receiver, even behind a real HTTP parser.
            Step(_oversized, 413, "payload_too_large"),
            Step(signed_req, 200, OK),
        ],
        check=lambda seen: _equal(
            seen.rejected,
            [
                ("signature_mismatch", "dlv_x", "webhook-9"),
                ("method_not_allowed", None, None),
                ("payload_too_large", None, None),
            ],
        ),
        setup=_rejections,
    ),
    Case(
        "async_hooks_and_handlers_are_awaited_or_run_to_completion",
        dict,
        [
            Step(signed_req, 500, "handler_error"),
            Step(lambda: Req(method="GET"), 405, "method_not_allowed"),
        ],
        check=lambda seen: (
            _equal(seen.errors, [("dlv_1", "async handler failed")]),
            _equal(seen.rejected, [("method_not_allowed", None, None)]),
        ),
        setup=_async_hooks,
    ),
    Case(
        "hooks_that_raise_never_change_the_answers",
        dict,
        [
            Step(lambda: Req(method="GET"), 405, "method_not_allowed"),
            Step(signed_req, 200, OK),
        ],
        check=lambda seen: _equal(seen.handled, ["dlv_1"]),
        setup=_raising_hooks,
    ),
    Case(
        "secret_for_verifies_each_webhook_with_its_own_secrets",
        lambda: {"secret_for": TENANTS.get},
        [
            Step(lambda: tenant_req("webhook-a", SECRET), 200, OK),
            Step(lambda: tenant_req("webhook-b", "whsec_b_old_0000", "dlv_2"), 200, OK),
            Step(lambda: tenant_req("webhook-b", SECRET, "dlv_3"), 401, "signature_mismatch"),
            Step(lambda: tenant_req("webhook-z", SECRET, "dlv_4"), 401, "unknown_webhook"),
            Step(signed_req, 401, "unknown_webhook"),  # no webhook id header at all
        ],
        check=lambda seen: _equal(seen.handled, ["webhook-a", "webhook-b"]),
        setup=_tenant_handlers,
    ),
    Case(
        "an_async_secret_for_works_through_every_adapter",
        lambda: {"secret_for": _async_secret_for},
        [
            Step(lambda: tenant_req("webhook-b", "whsec_b_new_0000"), 200, OK),
            Step(lambda: tenant_req("webhook-z", SECRET, "dlv_4"), 401, "unknown_webhook"),
        ],
        check=lambda seen: _equal(seen.handled, ["webhook-b"]),
        setup=_tenant_handlers,
    ),
    Case(
        "the_rate_limit_answers_429_with_retry_after_before_verifying",
        lambda: {"rate_limit": "2/h"},
        [
            Step(signed_req, 200, OK),
            Step(lambda: Req(method="GET"), 405, "method_not_allowed"),
            Step(
                lambda: signed_req(delivery_id="dlv_2"),
                429,
                "rate_limited",
                ("retry-after", "1800"),
            ),
            Step(lambda: Req(method="GET"), 429, "rate_limited"),
        ],
        check=lambda seen: _equal(seen.handled, ["dlv_1"]),
        setup=lambda receiver, seen: receiver.on("task.completed")(_record(seen)),
    ),
]


def _equal(actual: object, expected: object) -> None:
    assert actual == expected


def _receiver(clock: Callable[[], float], **options: Any) -> Receiver:
    if "secret_for" not in options:
        options["secret"] = SECRET
    return Receiver(router=ch.Router(), now=clock, max_body_bytes=4096, lease=10, **options)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_every_adapter_honours_the_receivers_options(
    adapter: Callable[[Receiver], Callable[[Req], Resp]],
    case: Case,
    clock: Callable[[], float],
) -> None:
    receiver = _receiver(clock, **case.options())
    seen = Seen()
    case.setup(receiver, seen)
    send = adapter(receiver)
    for step in case.steps:
        check_answer(send(step.make()), step)
    case.check(seen)


@pytest.fixture
def redis_buckets(redis_url: str) -> Iterator[RedisBuckets]:
    """Rate limit buckets on the real Redis, behind a sync client (async adapters use a thread)."""
    client = redis.Redis.from_url(redis_url)
    buckets = RedisBuckets(client, prefix=f"h13-options-{uuid.uuid4().hex}:")
    yield buckets
    keys = list(client.scan_iter(match=buckets.prefix + "*"))
    if keys:
        client.delete(*keys)
    client.close()


def test_every_adapter_shares_the_redis_rate_limit(
    adapter: Callable[[Receiver], Callable[[Req], Resp]],
    clock: Callable[[], float],
    redis_buckets: RedisBuckets,
) -> None:
    # Two receivers (two hosts) on one Redis: the limit is the endpoint's, not each host's.
    hosts = [
        adapter(_receiver(clock, rate_limit="3/h", rate_limit_store=redis_buckets))
        for _ in range(2)
    ]
    statuses = [hosts[n % 2](signed_req(delivery_id=f"dlv_{n}")).status for n in range(5)]
    assert statuses == [200, 200, 200, 429, 429]


def test_the_body_of_a_rate_limited_request_is_never_verified_through_any_adapter(
    adapter: Callable[[Receiver], Callable[[Req], Resp]], clock: Callable[[], float]
) -> None:
    receiver = _receiver(clock, rate_limit="1/h")
    send = adapter(receiver)
    assert send(signed_req()).status == 200
    forged = signed_req(secret="whsec_wrong", delivery_id="dlv_2")
    assert send(forged).status == 429  # not 401: the limit comes before the signature

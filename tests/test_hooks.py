"""Failure hooks: on_error for failed handlers, on_rejected for refused requests.

A hook sees the facts it needs and nothing secret; a hook that raises is logged (rate-limited) and
never changes the answer; async hooks are awaited by handle_async and run to completion by handle.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from options_kit import NOW_MS, Clock

import cortexhooks_receiver as ch
from cortexhooks_receiver.errors import BodyAlreadyConsumed
from cortexhooks_receiver.stores import ClaimState, StoreError
from cortexhooks_receiver.testing.factories import make_body

SECRET = "whsec_hooks_test_secret"


def new_receiver(clock: Clock | None = None, **kwargs: Any) -> ch.Receiver:
    return ch.Receiver(SECRET, router=ch.Router(), now=clock or Clock(), **kwargs)


def request(
    name: str = "task.completed", delivery_id: str = "dlv_1", secret: str = SECRET
) -> tuple[bytes, dict[str, str]]:
    body = make_body(name, timestamp=NOW_MS)
    headers = ch.sign(body, secret, timestamp=NOW_MS, delivery_id=delivery_id, event=name)
    headers["X-CortexBuild-Webhook-Id"] = "webhook-7"
    return body, headers


def failing(event: Any) -> None:
    raise RuntimeError("the ERP is down")


def test_on_error_gets_the_event_and_the_exception_of_a_failed_handler() -> None:
    receiver = new_receiver()
    receiver.on("task.completed")(failing)
    seen: list[tuple[str, str | None, str]] = []
    receiver.on_error(lambda event, exc: seen.append((event.event, event.delivery_id, str(exc))))
    outcome = receiver.handle(*request())
    assert outcome.status == 500
    assert seen == [("task.completed", "dlv_1", "the ERP is down")]


def test_a_failed_handler_is_not_a_rejection() -> None:
    receiver = new_receiver()
    receiver.on("task.completed")(failing)
    rejected: list[str] = []
    receiver.on_rejected(lambda error, req: rejected.append(error.code))
    receiver.handle(*request())
    assert rejected == []


def test_on_error_is_not_called_when_the_handlers_succeed() -> None:
    receiver = new_receiver()
    receiver.on("task.completed")(lambda e: None)
    seen: list[Any] = []
    receiver.on_error(lambda event, exc: seen.append(exc))
    assert receiver.handle(*request()).status == 200
    assert seen == []


@pytest.mark.parametrize(
    ("mutate", "code"),
    [
        (lambda b, h: (b, {**h, "X-CortexBuild-Signature": "0" * 64}), "signature_mismatch"),
        (lambda b, h: (b, {**h, "Content-Type": "text/plain"}), "unsupported_media_type"),
        (lambda b, h: (b"{}", h), "signature_mismatch"),
    ],
)
def test_on_rejected_gets_the_error_and_safe_facts_only(mutate: Any, code: str) -> None:
    receiver = new_receiver()
    seen: list[tuple[ch.WebhookError, ch.RejectedRequest]] = []
    receiver.on_rejected(lambda error, req: seen.append((error, req)))
    body, headers = mutate(*request())
    outcome = receiver.handle(body, headers, client="203.0.113.7")
    [(error, facts)] = seen
    assert error is outcome.error
    assert error.code == code
    assert facts == ch.RejectedRequest(
        client="203.0.113.7",
        method="POST",
        event="task.completed",
        delivery_id="dlv_1",
        webhook_id="webhook-7",
    )
    assert SECRET not in repr(facts)


def test_on_rejected_sees_refusals_decided_after_verification() -> None:
    class Busy:
        def claim(self, keys: Any, lease: float, token: str) -> ClaimState:
            return ClaimState.IN_PROGRESS

        def complete(self, keys: Any, retention: float, token: str) -> None: ...

        def release(self, keys: Any, token: str) -> None: ...

        def close(self) -> None: ...

    class Down(Busy):
        def claim(self, keys: Any, lease: float, token: str) -> ClaimState:
            raise StoreError("refused")

    codes: list[str] = []
    for store in (Busy(), Down()):
        receiver = new_receiver(store=store)
        receiver.on_rejected(lambda error, req: codes.append(error.code))
        receiver.handle(*request())
    assert codes == ["in_progress", "store_unavailable"]


def test_adapter_refusals_reach_on_rejected_through_the_same_exit() -> None:
    receiver = new_receiver()
    seen: list[tuple[str, ch.RejectedRequest]] = []
    receiver.on_rejected(lambda error, req: seen.append((error.code, req)))
    receiver.refuse(BodyAlreadyConsumed(), client="10.0.0.1")
    assert seen == [("body_already_consumed", ch.RejectedRequest(client="10.0.0.1", method="POST"))]


def test_header_facts_are_cut_to_a_bounded_length() -> None:
    receiver = new_receiver()
    seen: list[ch.RejectedRequest] = []
    receiver.on_rejected(lambda error, req: seen.append(req))
    body, headers = request()
    headers["X-CortexBuild-Event"] = "x" * 10_000
    receiver.handle(body, {**headers, "X-CortexBuild-Signature": "bad"})
    assert seen[0].event == "x" * 200


def test_a_hook_that_raises_is_logged_and_never_changes_the_answer(
    caplog: pytest.LogCaptureFixture,
) -> None:
    receiver = new_receiver()
    receiver.on("task.completed")(lambda e: None)
    after: list[str] = []

    def broken(error: Any, req: Any) -> None:
        raise ValueError("the pager is down")

    receiver.on_rejected(broken)
    receiver.on_rejected(lambda error, req: after.append(error.code))
    body, headers = request()
    with caplog.at_level(logging.DEBUG, logger="cortexhooks_receiver"):
        refused = receiver.handle(body, {**headers, "X-CortexBuild-Signature": "0" * 64})
        again = receiver.handle(body, {**headers, "X-CortexBuild-Signature": "1" * 64})
        ok = receiver.handle(body, headers)
    assert (refused.status, again.status, ok.status) == (401, 401, 200)
    assert after == ["signature_mismatch", "signature_mismatch"]
    reports = [r for r in caplog.records if " hook " in r.message]
    assert [r.levelno for r in reports] == [logging.WARNING, logging.DEBUG]
    assert "The on_rejected hook " in reports[0].message
    assert "broken raised" in reports[0].message
    assert "ValueError: the pager is down" in reports[0].message
    assert reports[0].exc_info is None  # no frames: they may hold the request


def test_a_raising_on_error_hook_keeps_the_500_and_releases_the_claim() -> None:
    receiver = new_receiver()
    attempts: list[int] = []

    def flaky(event: Any) -> None:
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError("first attempt")

    receiver.on("task.completed")(flaky)
    receiver.on_error(lambda event, exc: 1 / 0)
    assert receiver.handle(*request()).status == 500
    assert receiver.handle(*request()).status == 200  # the claim was released for the retry
    assert len(attempts) == 2


def test_the_hook_failure_log_speaks_again_after_its_interval(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock()
    receiver = new_receiver(clock)
    receiver.on_rejected(lambda error, req: 1 / 0)
    with caplog.at_level(logging.WARNING, logger="cortexhooks_receiver"):
        receiver.handle(b"", {}, "GET")
        receiver.handle(b"", {}, "GET")
        clock.now += 61
        receiver.handle(b"", {}, "GET")
    warnings = [r.message for r in caplog.records if " hook " in r.message]
    assert len(warnings) == 2
    assert "(1 more since the last warning)" in warnings[1]


def test_each_hook_has_its_own_failure_log(caplog: pytest.LogCaptureFixture) -> None:
    receiver = new_receiver()

    def first(error: Any, req: Any) -> None:
        raise ValueError("one")

    def second(error: Any, req: Any) -> None:
        raise ValueError("two")

    receiver.on_rejected(first)
    receiver.on_rejected(second)
    with caplog.at_level(logging.WARNING, logger="cortexhooks_receiver"):
        receiver.handle(b"", {}, "GET")
    assert len([r for r in caplog.records if " hook " in r.message]) == 2


def test_async_hooks_are_awaited_by_handle_async() -> None:
    receiver = new_receiver()
    receiver.on("task.completed")(failing)
    seen: list[str] = []

    async def on_error(event: Any, exc: Exception) -> None:
        await asyncio.sleep(0)
        seen.append(f"error:{type(exc).__name__}")

    async def on_rejected(error: ch.WebhookError, req: ch.RejectedRequest) -> None:
        await asyncio.sleep(0)
        seen.append(f"rejected:{error.code}")

    receiver.on_error(on_error)
    receiver.on_rejected(on_rejected)

    async def main() -> None:
        body, headers = request()
        assert (await receiver.handle_async(body, headers)).status == 500
        assert (await receiver.handle_async(body, headers, "GET")).status == 405
        assert (await receiver.refuse_async(BodyAlreadyConsumed())).status == 500

    asyncio.run(main())
    assert seen == [
        "error:RuntimeError",
        "rejected:method_not_allowed",
        "rejected:body_already_consumed",
    ]


def test_async_hooks_run_to_completion_in_sync_handle() -> None:
    receiver = new_receiver()
    seen: list[str] = []

    async def on_rejected(error: ch.WebhookError, req: ch.RejectedRequest) -> None:
        await asyncio.sleep(0)
        seen.append(error.code)

    receiver.on_rejected(on_rejected)
    receiver.handle(b"", {}, "GET")
    assert seen == ["method_not_allowed"]


def test_a_raising_async_hook_is_contained_in_handle_async() -> None:
    receiver = new_receiver()

    async def broken(error: Any, req: Any) -> None:
        raise ValueError("down")

    receiver.on_rejected(broken)
    assert asyncio.run(receiver.handle_async(b"", {}, "GET")).status == 405


def test_report_handler_error_is_how_a_worker_reaches_the_on_error_hooks() -> None:
    receiver = new_receiver()
    seen: list[tuple[str, str]] = []

    async def async_hook(event: Any, exc: Exception) -> None:
        seen.append(("async", str(exc)))

    receiver.on_error(lambda event, exc: seen.append(("sync", str(exc))))
    receiver.on_error(async_hook)
    event = ch.events.decode_event(make_body("task.completed"))
    receiver.report_handler_error(event, RuntimeError("attempt 1"))
    asyncio.run(receiver.report_handler_error_async(event, RuntimeError("attempt 2")))
    assert seen == [
        ("sync", "attempt 1"),
        ("async", "attempt 1"),
        ("sync", "attempt 2"),
        ("async", "attempt 2"),
    ]


def test_hooks_must_be_callable() -> None:
    receiver = new_receiver()
    with pytest.raises(ch.ConfigurationError):
        receiver.on_error("not a function")  # type: ignore[type-var]
    with pytest.raises(ch.ConfigurationError):
        receiver.on_rejected(None)  # type: ignore[type-var]


def test_hooks_can_be_registered_as_decorators() -> None:
    receiver = new_receiver()

    @receiver.on_rejected
    def rejected(error: ch.WebhookError, req: ch.RejectedRequest) -> None: ...

    assert callable(rejected)

"""The reference sender: exact bodies and headers, the retry schedule in virtual time, auto-disable,
the URL policy on every attempt, and the real-HTTP, WSGI and ASGI transports.

No test sleeps: time is a VirtualClock. The only network use is a server on 127.0.0.1 that the test
starts itself.
"""

from __future__ import annotations

import http.server
import json
import re
import socket
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pytest
from freezegun import freeze_time

from cortexhooks_receiver import sender as sender_package
from cortexhooks_receiver import signature
from cortexhooks_receiver.sender import (
    RETRY_SCHEDULE,
    USER_AGENT,
    ASGIAppTransport,
    Endpoint,
    HTTPTransport,
    MemoryHealth,
    Sender,
    URLPolicy,
    VirtualClock,
    WSGIAppTransport,
    build_payload,
    js_dumps,
)
from cortexhooks_receiver.signature import SecretKeys, compute_signature, verify_signature

SECRET = "whsec_K2Fj8sL3mN9pQ4rT7vX1yZ5bC6dE8fG"
START = 1_762_700_000.0


class Recorder:
    """A WSGI receiver that verifies each request and answers from a script of statuses."""

    def __init__(
        self,
        statuses: Iterable[int] = (200,),
        *,
        clock: VirtualClock | None = None,
        delay: float = 0.0,
    ) -> None:
        self.statuses = list(statuses)
        self.clock = clock
        self.delay = delay
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.verified: list[bool] = []

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length)
        headers = {
            k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")
        }
        headers["content-type"] = environ.get("CONTENT_TYPE", "")
        self.requests.append((headers, body))
        try:
            verify_signature(
                body, headers, SecretKeys(SECRET), now=self.clock.time() if self.clock else None
            )
            self.verified.append(True)
        except Exception:
            self.verified.append(False)
        if self.clock is not None and self.delay:
            self.clock.advance(self.delay)
        index = min(len(self.requests) - 1, len(self.statuses) - 1)
        status = self.statuses[index]
        extra = [("Location", "https://elsewhere.example.com/")] if 300 <= status < 400 else []
        start_response(f"{status} X", [("Content-Type", "application/json"), *extra])
        return [b'{"received":true}']


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(START)


def make_sender(app: Recorder, clock: VirtualClock, **kwargs: Any) -> Sender:
    return Sender(transport=WSGIAppTransport(app), clock=clock.time, sleep=clock.sleep, **kwargs)


ENDPOINT = Endpoint(url="http://127.0.0.1:3000/webhooks/cortexbuild", secret=SECRET, id="webhook-1")


def payload(event: str = "task.completed", **data: Any) -> dict[str, Any]:
    return build_payload(
        event, {"id": "task-123", "amount": 100.0, **data}, timestamp=1699545600000
    )


def test_body_is_json_stringify_bytes_and_headers_match_the_guide(clock: VirtualClock) -> None:
    app = Recorder(clock=clock)
    delivery = make_sender(app, clock).deliver(ENDPOINT, payload(title="Câble"))
    headers, body = app.requests[0]
    assert body == js_dumps(payload(title="Câble"))
    assert body == (
        b'{"event":"task.completed","timestamp":1699545600000,"data":{"id":"task-123",'
        b'"amount":100,"title":"C\xc3\xa2ble"},"companyId":"comp-1","userId":"user-1"}'
    )
    assert headers["content-type"] == "application/json"
    assert headers["x-cortexbuild-event"] == "task.completed"
    assert headers["x-cortexbuild-signature"] == compute_signature(body, SECRET)
    assert headers["x-cortexbuild-timestamp"] == str(int(START * 1000))
    assert headers["x-cortexbuild-webhook-id"] == "webhook-1"
    assert headers["x-cortexbuild-delivery-id"] == delivery.delivery_id
    assert headers["user-agent"] == USER_AGENT
    assert USER_AGENT.startswith("CortexBuild-Webhooks/1.0 (cortexhooks_receiver ")
    assert app.verified == [True]
    assert delivery.succeeded
    assert delivery.body == body


def test_the_sender_and_sign_draw_delivery_ids_from_one_generator() -> None:
    assert sender_package.new_delivery_id is signature.new_delivery_id
    delivery = Sender().new_delivery(ENDPOINT, b"{}")
    signed = signature.sign(b"{}", SECRET)["X-CortexBuild-Delivery-Id"]
    for delivery_id in (delivery.delivery_id, signed):
        assert re.fullmatch(r"dlv_[0-9a-f]{32}", delivery_id)
    assert delivery.delivery_id != signed


def test_failing_receiver_gets_five_attempts_on_the_guide_schedule(clock: VirtualClock) -> None:
    app = Recorder([500], clock=clock)
    delivery = make_sender(app, clock).deliver(ENDPOINT, payload())
    assert delivery.state == "failed"
    assert [a.number for a in delivery.attempts] == [1, 2, 3, 4, 5]
    assert clock.sleeps == [60.0, 300.0, 900.0, 3600.0]
    offsets = [a.timestamp - int(START * 1000) for a in delivery.attempts]
    assert offsets == [0, 60_000, 360_000, 1_260_000, 4_860_000]
    assert [a.status for a in delivery.attempts] == [500] * 5
    assert all(a.outcome == "http_error" and a.error == "HTTP 500" for a in delivery.attempts)
    delivery_ids = {h["x-cortexbuild-delivery-id"] for h, _ in app.requests}
    timestamps = [h["x-cortexbuild-timestamp"] for h, _ in app.requests]
    assert delivery_ids == {delivery.delivery_id}
    assert len(set(timestamps)) == 5
    assert app.verified == [True] * 5  # each attempt is signed afresh and verifies at its time
    assert RETRY_SCHEDULE == (0.0, 60.0, 300.0, 900.0, 3600.0)


def test_delivery_stops_at_the_first_2xx(clock: VirtualClock) -> None:
    app = Recorder([503, 500, 204])
    delivery = make_sender(app, clock).deliver(ENDPOINT, payload())
    assert delivery.state == "succeeded"
    assert [a.status for a in delivery.attempts] == [503, 500, 204]
    assert clock.sleeps == [60.0, 300.0]


def test_redirects_are_failures_and_never_followed(clock: VirtualClock) -> None:
    app = Recorder([302, 200])
    delivery = make_sender(app, clock).deliver(ENDPOINT, payload())
    assert [a.outcome for a in delivery.attempts] == ["redirect", "success"]
    assert len(app.requests) == 2  # the Location was not requested
    assert "redirect" in (delivery.attempts[0].error or "")


def test_answer_slower_than_ten_seconds_is_a_timeout(clock: VirtualClock) -> None:
    slow = Recorder([200], clock=clock, delay=10.5)
    delivery = make_sender(slow, clock, schedule=(0,)).deliver(ENDPOINT, payload())
    assert delivery.attempts[0].outcome == "timeout"
    assert delivery.attempts[0].latency_ms == pytest.approx(10_500)
    assert delivery.state == "failed"
    quick = Recorder([200], clock=clock, delay=9.5)
    assert make_sender(quick, clock).deliver(ENDPOINT, payload()).succeeded


def test_a_crashing_app_is_a_connection_error(clock: VirtualClock) -> None:
    def broken(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        raise RuntimeError("boom")

    sender = Sender(transport=WSGIAppTransport(broken), clock=clock.time, sleep=clock.sleep)
    delivery = sender.deliver(ENDPOINT, payload())
    assert [a.outcome for a in delivery.attempts] == ["connection_error"] * 5
    assert all(a.status is None for a in delivery.attempts)


def test_ten_consecutive_failed_attempts_disable_the_webhook(clock: VirtualClock) -> None:
    app = Recorder([500])
    health = MemoryHealth()
    sender = make_sender(app, clock, health=health)
    first = sender.deliver(ENDPOINT, payload())
    assert first.state == "failed"
    assert health.failures("webhook-1") == 5
    second = sender.deliver(ENDPOINT, payload())
    assert second.state == "disabled"
    assert len(second.attempts) == 5
    assert not health.is_active("webhook-1")
    third = sender.deliver(ENDPOINT, payload())
    assert third.state == "disabled"
    assert third.attempts == []
    assert len(app.requests) == 10
    other = Endpoint(url=ENDPOINT.url, secret=SECRET, id="webhook-2")
    assert sender.deliver(other, payload()).state == "failed"  # counts are per webhook


def test_a_success_resets_the_failure_count(clock: VirtualClock) -> None:
    app = Recorder([500, 500, 500, 500, 200, 500])
    health = MemoryHealth()
    sender = make_sender(app, clock, health=health)
    assert sender.deliver(ENDPOINT, payload()).succeeded
    assert health.failures("webhook-1") == 0
    assert sender.deliver(ENDPOINT, payload()).state == "failed"
    assert health.failures("webhook-1") == 5
    assert health.is_active("webhook-1")
    health.enable("webhook-1")
    assert health.failures("webhook-1") == 0


def test_the_url_policy_is_checked_before_every_attempt(clock: VirtualClock) -> None:
    answers = iter([["93.184.216.34"], ["10.0.0.5"], ["93.184.216.34"]])
    policy = URLPolicy(allow_loopback=True, resolver=lambda host, port: next(answers))
    app = Recorder([500, 200])
    endpoint = Endpoint(url="https://hooks.example.com/x", secret=SECRET, id="webhook-1")
    delivery = make_sender(app, clock, policy=policy).deliver(endpoint, payload())
    assert [a.outcome for a in delivery.attempts] == ["http_error", "refused_url", "success"]
    assert len(app.requests) == 2  # the refused attempt sent nothing
    assert "private" in (delivery.attempts[1].error or "")


def test_refused_urls_never_reach_the_transport(clock: VirtualClock) -> None:
    app = Recorder()
    endpoint = Endpoint(url="http://169.254.169.254/latest", secret=SECRET)
    delivery = make_sender(app, clock, schedule=(0,)).deliver(endpoint, payload())
    assert delivery.attempts[0].outcome == "refused_url"
    assert app.requests == []


def test_every_attempt_is_in_the_delivery_log(clock: VirtualClock) -> None:
    app = Recorder([500, 201])
    sender = make_sender(app, clock)
    delivery = sender.deliver(ENDPOINT, payload())
    assert sender.log.get(delivery.delivery_id) is delivery
    assert [(a.number, a.status, a.outcome) for a in sender.log.attempts] == [
        (1, 500, "http_error"),
        (2, 201, "success"),
    ]
    assert sender.log.attempts[1].response_body == b'{"received":true}'
    assert len(sender.log) == 1


def test_replay_keeps_body_and_delivery_id_with_a_fresh_timestamp(clock: VirtualClock) -> None:
    app = Recorder([200])
    sender = make_sender(app, clock)
    delivery = sender.deliver(ENDPOINT, payload())
    clock.advance(30)
    attempt = sender.replay(ENDPOINT, delivery)
    (h1, b1), (h2, b2) = app.requests
    assert b1 == b2
    assert h1["x-cortexbuild-delivery-id"] == h2["x-cortexbuild-delivery-id"]
    assert int(h2["x-cortexbuild-timestamp"]) - int(h1["x-cortexbuild-timestamp"]) == 30_000
    assert attempt.number == 2


def test_raw_bytes_payload_is_sent_unchanged(clock: VirtualClock) -> None:
    app = Recorder()
    raw = b'{"event":"x.y","timestamp":1,"data":{}}'
    make_sender(app, clock).deliver(ENDPOINT, raw, event="x.y")
    assert app.requests[0][1] == raw
    assert app.requests[0][0]["x-cortexbuild-event"] == "x.y"


def test_default_clock_is_read_at_call_time_so_freezegun_works() -> None:
    app = Recorder()
    sender = Sender(transport=WSGIAppTransport(app), schedule=(0,))
    with freeze_time("2025-11-09T14:30:00Z"):
        sender.deliver(ENDPOINT, payload())
    assert app.requests[0][0]["x-cortexbuild-timestamp"] == "1762698600000"


def test_asgi_apps_can_be_the_receiver(clock: VirtualClock) -> None:
    seen: list[bytes] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        seen.append(body)
        status = 500 if len(seen) == 1 else 200
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    sender = Sender(transport=ASGIAppTransport(app), clock=clock.time, sleep=clock.sleep)
    delivery = sender.deliver(ENDPOINT, payload())
    assert [a.status for a in delivery.attempts] == [500, 200]
    assert seen[0] == delivery.body


# --- real HTTP on a loopback server this test starts ------------------------------------------


class _Handler(http.server.BaseHTTPRequestHandler):
    seen: list[tuple[dict[str, str], bytes]] = []
    status = 200

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        type(self).seen.append(({k.lower(): v for k, v in self.headers.items()}, body))
        self.send_response(type(self).status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: Any) -> None:
        return


@pytest.fixture
def loopback_server() -> Iterator[tuple[int, type[_Handler]]]:
    handler = type("Handler", (_Handler,), {"seen": [], "status": 200})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield server.server_address[1], handler
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_real_http_connects_to_the_vetted_address_with_the_url_host(
    loopback_server: tuple[int, type[_Handler]],
) -> None:
    port, handler = loopback_server
    resolved: list[str] = []

    def resolve(host: str, p: int) -> list[str]:
        resolved.append(host)
        return ["127.0.0.1"]

    endpoint = Endpoint(url=f"http://localhost:{port}/hook", secret=SECRET)
    local = URLPolicy(allow_loopback=True, resolver=resolve)
    with Sender(policy=local, schedule=(0,), transport=HTTPTransport()) as s:
        delivery = s.deliver(endpoint, payload())
    assert delivery.succeeded
    headers, body = handler.seen[0]
    assert headers["host"] == f"localhost:{port}"
    assert body == delivery.body
    assert headers["x-cortexbuild-signature"] == compute_signature(body, SECRET)
    assert resolved == ["localhost"]
    assert delivery.attempts[0].latency_ms > 0


def test_real_http_non_2xx_and_refused_connections_are_failures(
    loopback_server: tuple[int, type[_Handler]], clock: VirtualClock
) -> None:
    port, handler = loopback_server
    handler.status = 410
    local = URLPolicy(allow_loopback=True)
    sender = Sender(schedule=(0,), policy=local, clock=clock.time, sleep=clock.sleep)
    endpoint = Endpoint(url=f"http://127.0.0.1:{port}/hook", secret=SECRET)
    assert sender.deliver(endpoint, payload()).attempts[0].status == 410
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    closed = Endpoint(url=f"http://127.0.0.1:{closed_port}/hook", secret=SECRET)
    attempt = sender.deliver(closed, payload()).attempts[0]
    assert attempt.outcome == "connection_error"
    assert attempt.status is None
    sender.close()


def test_sender_rejects_a_nonsense_configuration() -> None:
    with pytest.raises(ValueError, match="schedule"):
        Sender(schedule=())
    with pytest.raises(ValueError, match="timeout"):
        Sender(timeout=0)


def test_endpoint_repr_hides_the_secret() -> None:
    assert SECRET not in repr(ENDPOINT)
    assert json.dumps(repr(ENDPOINT))


def test_real_http_tries_the_next_vetted_address_when_one_refuses(
    loopback_server: tuple[int, type[_Handler]],
) -> None:
    port, handler = loopback_server  # bound to 127.0.0.1 only: 127.0.0.2 refuses
    policy = URLPolicy(allow_loopback=True, resolver=lambda host, p: ["127.0.0.2", "127.0.0.1"])
    endpoint = Endpoint(url=f"http://localhost:{port}/hook", secret=SECRET)
    with Sender(policy=policy, schedule=(0,)) as sender:
        assert sender.deliver(endpoint, payload()).succeeded
    assert len(handler.seen) == 1

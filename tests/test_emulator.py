"""The local CortexBuild emulator: management API, bearer auth, clear 4xx errors, SQLite state,
scheduled deliveries in virtual time, auto-disable, test sends, replays and the real server.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import httpx
import pytest

from cortexhooks_receiver._server import serve_in_thread
from cortexhooks_receiver.emulator import Emulator, subscribed
from cortexhooks_receiver.events import CATALOG
from cortexhooks_receiver.events.samples import sample_data
from cortexhooks_receiver.routing import Router, matches
from cortexhooks_receiver.sender import URLPolicy, VirtualClock, WSGIAppTransport
from cortexhooks_receiver.signature import SecretKeys, verify_signature

TOKEN = "emulator-test-token"
INVALID = "invalid_request"
INVALID_EVENTS = "invalid_events"
HOOK_URL = "http://127.0.0.1:9/webhooks/cortexbuild"  # never dialled: the transport is in-process


class Receiver:
    """WSGI receiver answering from a script of statuses; records verified requests."""

    def __init__(self, statuses: Iterable[int] = (200,), clock: VirtualClock | None = None) -> None:
        self.statuses = list(statuses)
        self.clock = clock
        self.secret: str | None = None
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.verified: list[bool] = []

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        headers = {
            k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")
        }
        self.requests.append((headers, body))
        if self.secret is not None:
            try:
                now = self.clock.time() if self.clock else None
                verify_signature(body, headers, SecretKeys(self.secret), now=now)
                self.verified.append(True)
            except Exception:
                self.verified.append(False)
        status = self.statuses[min(len(self.requests), len(self.statuses)) - 1]
        start_response(f"{status} X", [("Content-Type", "application/json")])
        return [b'{"received":true}']


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(1_795_000_000.0)


def offline_resolver(host: str, port: int) -> list[str]:
    """No DNS in tests: every name is unknown."""
    raise OSError(f"{host} not resolvable in tests")


def make(receiver: Receiver, clock: VirtualClock, db: Any = ":memory:", **kw: Any) -> Emulator:
    return Emulator(
        db,
        token=TOKEN,
        transport=WSGIAppTransport(receiver),
        policy=URLPolicy(allow_loopback=True, resolver=offline_resolver),
        clock=clock.time,
        sleep=clock.sleep,
        **kw,
    )


def api(emulator: Emulator, token: str | None = TOKEN) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(
        transport=httpx.WSGITransport(app=emulator.app),
        base_url="http://emulator.local",
        headers=headers,
    )


def register(client: httpx.Client, events: list[str] | None = None) -> dict[str, Any]:
    response = client.post(
        "/api/webhooks",
        json={"url": HOOK_URL, "events": events or ["*"], "description": "test"},
    )
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()
    return data


def test_registration_returns_guide_shaped_id_and_secret(clock: VirtualClock) -> None:
    emulator = make(Receiver(), clock)
    with api(emulator) as client:
        data = register(client, ["invoice.paid", "task.*"])
        assert data["success"] is True
        assert data["message"] == "Webhook registered successfully"
        assert re.fullmatch(r"webhook-\d{13}-[a-z0-9]{6}", data["webhookId"])
        assert re.fullmatch(r"whsec_[A-Za-z0-9]{32}", data["secret"])
        listed = client.get("/api/webhooks").json()["webhooks"]
        assert [w["id"] for w in listed] == [data["webhookId"]]
        assert listed[0]["events"] == ["invoice.paid", "task.*"]
        assert "secret" not in client.get("/api/webhooks").text
        one = client.get(f"/api/webhooks/{data['webhookId']}").json()["webhook"]
        assert one["url"] == HOOK_URL
        assert one["active"] is True


def test_two_registrations_get_different_secrets(clock: VirtualClock) -> None:
    emulator = make(Receiver(), clock)
    with api(emulator) as client:
        assert register(client)["secret"] != register(client)["secret"]


@pytest.mark.parametrize("token", [None, "wrong-token"])
def test_api_refuses_requests_without_the_bearer_token(
    clock: VirtualClock, token: str | None
) -> None:
    emulator = make(Receiver(), clock)
    with api(emulator, token) as client:
        for method, path in [("GET", "/api/webhooks"), ("POST", "/api/events")]:
            response = client.request(method, path, json={})
            assert response.status_code == 401
            assert response.json()["error"] == "unauthorized"
            assert response.headers["www-authenticate"].startswith("Bearer")
            assert TOKEN not in response.text


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "code"),
    [
        ("POST", "/api/webhooks", {"content": b"{not json"}, 400, "invalid_json"),
        ("POST", "/api/webhooks", {"json": [1, 2]}, 400, "invalid_json"),
        ("POST", "/api/webhooks", {"json": {"events": ["*"]}}, 400, "invalid_url"),
        (
            "POST",
            "/api/webhooks",
            {"json": {"url": "http://hooks.example.com/x", "events": ["*"]}},
            400,
            "invalid_url",
        ),
        (
            "POST",
            "/api/webhooks",
            {"json": {"url": "https://169.254.169.254/", "events": ["*"]}},
            400,
            "invalid_url",
        ),
        ("POST", "/api/webhooks", {"json": {"url": HOOK_URL, "events": []}}, 400, "invalid_events"),
        (
            "POST",
            "/api/webhooks",
            {"json": {"url": HOOK_URL, "events": "*"}},
            400,
            "invalid_events",
        ),
        (
            "POST",
            "/api/webhooks",
            {"json": {"url": HOOK_URL, "events": ["invoice.payed"]}},
            400,
            "unknown_event",
        ),
        (
            "POST",
            "/api/webhooks",
            {"json": {"url": HOOK_URL, "events": ["*"], "description": 5}},
            400,
            "invalid_request",
        ),
        (
            "POST",
            "/api/webhooks",
            {"content": b"url=x", "headers": {"Content-Type": "text/plain"}},
            415,
            "unsupported_media_type",
        ),
        ("POST", "/api/webhooks", {"content": b"x" * 1_048_577}, 413, "payload_too_large"),
        ("PATCH", "/api/webhooks", {}, 405, "method_not_allowed"),
        ("GET", "/api/webhooks/webhook-1-abcdef", {}, 404, "not_found"),
        ("PUT", "/api/webhooks/webhook-1-abcdef", {"json": {}}, 404, "not_found"),
        ("DELETE", "/api/webhooks/webhook-1-abcdef", {}, 404, "not_found"),
        ("POST", "/api/webhooks/webhook-1-abcdef/test", {}, 404, "not_found"),
        ("GET", "/api/nothing", {}, 404, "not_found"),
        ("POST", "/api/events", {"json": {"event": "nope.nope"}}, 400, "unknown_event"),
        (
            "POST",
            "/api/events",
            {"json": {"event": "task.created", "data": []}},
            400,
            "invalid_request",
        ),
    ],
)
def test_bad_requests_get_clear_json_4xx_errors(
    clock: VirtualClock, method: str, path: str, kwargs: dict[str, Any], status: int, code: str
) -> None:
    emulator = make(Receiver(), clock)
    with api(emulator) as client:
        response = client.request(method, path, **kwargs)
    assert response.status_code == status
    body = response.json()
    assert body["error"] == code
    assert body["success"] is False
    assert body["message"]
    if status == 405:
        assert response.headers["allow"] == "GET, POST"


def test_update_validates_fields_and_reactivation_resets_failures(clock: VirtualClock) -> None:
    emulator = make(Receiver([500]), clock)
    with api(emulator) as client:
        hook = register(client)["webhookId"]
        bad = client.put(f"/api/webhooks/{hook}", json={"colour": "red"})
        assert (bad.status_code, bad.json()["error"]) == (400, "invalid_request")
        bad = client.put(f"/api/webhooks/{hook}", json={"active": "yes"})
        assert bad.status_code == 400
        client.post("/api/events", json={"event": "task.created"})
        emulator.drain()
        assert client.get(f"/api/webhooks/{hook}").json()["webhook"]["consecutiveFailures"] == 5
        updated = client.put(
            f"/api/webhooks/{hook}", json={"events": ["project.*"], "active": True}
        ).json()["webhook"]
        assert updated["events"] == ["project.*"]
        assert updated["consecutiveFailures"] == 0


def test_emitted_event_is_delivered_signed_with_sample_data(clock: VirtualClock) -> None:
    receiver = Receiver(clock=clock)
    emulator = make(receiver, clock)
    with api(emulator) as client:
        data = register(client, ["invoice.*"])
        receiver.secret = data["secret"]
        emitted = client.post("/api/events", json={"event": "invoice.paid"})
        assert emitted.status_code == 202
        queued = emitted.json()["deliveries"]
        assert [d["webhookId"] for d in queued] == [data["webhookId"]]
        skipped = client.post("/api/events", json={"event": "task.created"}).json()
        assert skipped["deliveries"] == []
        assert emulator.drain() == 1
        headers, body = receiver.requests[0]
        assert receiver.verified == [True]
        assert headers["x-cortexbuild-event"] == "invoice.paid"
        assert headers["x-cortexbuild-webhook-id"] == data["webhookId"]
        assert headers["x-cortexbuild-delivery-id"] == queued[0]["deliveryId"]
        payload = httpx.Response(200, content=body).json()
        assert payload["event"] == "invoice.paid"
        assert payload["timestamp"] == int(clock.time() * 1000)
        assert payload["data"]["id"]
        log = client.get(f"/api/webhooks/{data['webhookId']}/deliveries").json()["deliveries"]
        assert log[0]["state"] == "succeeded"
        assert [(a["number"], a["status"], a["outcome"]) for a in log[0]["attempts"]] == [
            (1, 200, "success")
        ]


def test_failing_receiver_is_retried_on_the_schedule_then_disabled(clock: VirtualClock) -> None:
    receiver = Receiver([500])
    emulator = make(receiver, clock)
    start = clock.time()
    with api(emulator) as client:
        hook = register(client)["webhookId"]
        client.post("/api/events", json={"event": "task.overdue"})
        assert emulator.drain() == 5
        assert clock.sleeps == [60.0, 300.0, 900.0, 3600.0]
        log = client.get(f"/api/webhooks/{hook}/deliveries").json()["deliveries"]
        stamps = [a["timestamp"] - int(start * 1000) for a in log[0]["attempts"]]
        assert stamps == [0, 60_000, 360_000, 1_260_000, 4_860_000]
        assert log[0]["state"] == "failed"
        client.post("/api/events", json={"event": "task.overdue"})
        assert emulator.drain() == 5
        webhook = client.get(f"/api/webhooks/{hook}").json()["webhook"]
        assert webhook["active"] is False
        assert webhook["consecutiveFailures"] == 10
        log = client.get(f"/api/webhooks/{hook}/deliveries").json()["deliveries"]
        assert log[1]["state"] == "disabled"
        third = client.post("/api/events", json={"event": "task.overdue"}).json()
        assert third["deliveries"] == []
        assert len(receiver.requests) == 10


def test_time_scale_divides_the_waits(clock: VirtualClock) -> None:
    emulator = make(Receiver([500]), clock, time_scale=60)
    with api(emulator) as client:
        register(client)
        client.post("/api/events", json={"event": "user.joined"})
    emulator.drain()
    assert clock.sleeps == [1.0, 5.0, 15.0, 60.0]


def test_test_endpoint_sends_one_attempt_that_does_not_count(clock: VirtualClock) -> None:
    receiver = Receiver([503, 200])
    emulator = make(receiver, clock)
    with api(emulator) as client:
        hook = register(client)["webhookId"]
        result = client.post(f"/api/webhooks/{hook}/test").json()
        assert result["success"] is False
        assert result["status"] == 503
        assert client.get(f"/api/webhooks/{hook}").json()["webhook"]["consecutiveFailures"] == 0
        assert client.post(f"/api/webhooks/{hook}/test").json()["success"] is True
        assert receiver.requests[0][0]["x-cortexbuild-event"] == "webhook.test"


def test_state_and_pending_deliveries_survive_a_restart(
    clock: VirtualClock, tmp_path: Path
) -> None:
    db = tmp_path / "emulator.db"
    receiver = Receiver()
    first = make(receiver, clock, db)
    with api(first) as client:
        hook = register(client)["webhookId"]
        client.post("/api/events", json={"event": "document.approved"})
    first.close()
    assert receiver.requests == []
    second = make(receiver, clock, db)
    assert second.drain() == 1
    assert len(receiver.requests) == 1
    with api(second) as client:
        assert [w["id"] for w in client.get("/api/webhooks").json()["webhooks"]] == [hook]
    second.close()


def test_replay_resends_the_same_body_and_delivery_id(clock: VirtualClock) -> None:
    receiver = Receiver()
    emulator = make(receiver, clock)
    with api(emulator) as client:
        hook = register(client)["webhookId"]
        client.post("/api/events", json={"event": "agent.executed"})
        emulator.drain()
        delivery_id = client.get(f"/api/webhooks/{hook}/deliveries").json()["deliveries"][0][
            "deliveryId"
        ]
        clock.advance(120)
        attempt = emulator.replay(delivery_id)
        assert attempt.ok
        (h1, b1), (h2, b2) = receiver.requests
        assert b1 == b2
        assert h1["x-cortexbuild-delivery-id"] == h2["x-cortexbuild-delivery-id"] == delivery_id
        assert h1["x-cortexbuild-timestamp"] != h2["x-cortexbuild-timestamp"]
        log = client.get(f"/api/webhooks/{hook}/deliveries").json()["deliveries"][0]
        assert [(a["number"], a["replay"]) for a in log["attempts"]] == [(1, False), (2, True)]


def test_deleting_a_webhook_cancels_its_pending_deliveries(clock: VirtualClock) -> None:
    receiver = Receiver()
    emulator = make(receiver, clock)
    with api(emulator) as client:
        hook = register(client)["webhookId"]
        client.post("/api/events", json={"event": "project.created"})
        assert client.delete(f"/api/webhooks/{hook}").json()["success"] is True
    assert emulator.drain() == 0
    assert receiver.requests == []


def test_subscriptions_are_matched_by_the_routers_own_matcher() -> None:
    assert subscribed is matches
    for name in CATALOG.names():
        family = name.split(".", 1)[0] + ".*"
        for patterns in (["*"], [family], [name], ["user.*", "task.created"]):
            router = Router()
            router.add(lambda event: None, *patterns)
            assert subscribed(patterns, name) == bool(router.resolve(name)), (patterns, name)


def test_catalog_is_served_and_subscriptions_match_names_families_and_star() -> None:
    assert subscribed(["*"], "task.created")
    assert subscribed(["task.*"], "task.created")
    assert subscribed(["task.created"], "task.created")
    assert not subscribed(["invoice.*"], "task.created")
    emulator = Emulator(
        token=TOKEN, policy=URLPolicy(allow_loopback=True, resolver=offline_resolver)
    )
    with api(emulator) as client:
        events = client.get("/api/events").json()["events"]
    assert len(events) == len(CATALOG) == 31
    assert events[0].keys() == {"name", "family", "description", "sample"}
    for event in events:  # the dashboard's emit form starts from each event's sample data
        assert event["sample"] == sample_data(event["name"])


# --- the real server and the background worker -------------------------------------------


def test_real_server_delivers_in_the_background_with_accelerated_retries() -> None:
    receiver = Receiver([500, 200])
    with serve_in_thread(receiver) as hook_server:
        emulator = Emulator(
            token=TOKEN,
            time_scale=6000,
            policy=URLPolicy(allow_loopback=True, resolver=offline_resolver),
        )  # 1 min of schedule = 10 ms
        emulator.start()
        try:
            with (
                serve_in_thread(emulator.app) as api_server,
                httpx.Client(
                    base_url=api_server.url, headers={"Authorization": f"Bearer {TOKEN}"}
                ) as client,
            ):
                hook = client.post(
                    "/api/webhooks",
                    json={"url": f"{hook_server.url}/webhooks/cortexbuild", "events": ["*"]},
                ).json()
                receiver.secret = hook["secret"]
                client.post("/api/events", json={"event": "safety.violation"})
                deadline = time.monotonic() + 10
                state = "pending"
                while time.monotonic() < deadline and state == "pending":
                    log = client.get(f"/api/webhooks/{hook['webhookId']}/deliveries").json()
                    state = log["deliveries"][0]["state"]
                    time.sleep(0.02)
        finally:
            emulator.close()
    assert state == "succeeded"
    assert [a["status"] for a in log["deliveries"][0]["attempts"]] == [500, 200]
    assert receiver.verified == [True, True]

"""The management API client: typed results against the emulator, clear ManagementAPIError."""

from __future__ import annotations

import socket

import httpx
import pytest

from cortexhooks_receiver.client import (
    CreatedWebhook,
    EmitResult,
    ManagementAPIError,
    ManagementClient,
    Webhook,
)
from cortexhooks_receiver.emulator import Emulator
from cortexhooks_receiver.sender import URLPolicy, VirtualClock, WSGIAppTransport

TOKEN = "client-test-token"


def offline_resolver(host: str, port: int) -> list[str]:
    """No DNS in tests: localhost is loopback, every other name is unknown."""
    if host == "localhost":
        return ["127.0.0.1"]
    raise OSError(f"{host} not resolvable in tests")


def ok_receiver(environ: dict[str, object], start_response: object) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "application/json")])  # type: ignore[operator]
    return [b"{}"]


@pytest.fixture
def emulator() -> Emulator:
    clock = VirtualClock()
    return Emulator(
        token=TOKEN,
        transport=WSGIAppTransport(ok_receiver),
        policy=URLPolicy(allow_loopback=True, resolver=offline_resolver),
        clock=clock.time,
        sleep=clock.sleep,
    )


@pytest.fixture
def client(emulator: Emulator) -> ManagementClient:
    return ManagementClient(
        "http://emulator.local", TOKEN, transport=httpx.WSGITransport(app=emulator.app)
    )


def test_full_lifecycle_returns_typed_results(client: ManagementClient, emulator: Emulator) -> None:
    registration = client.register(
        "http://localhost:3000/webhooks/cortexbuild", ["task.completed"], "main"
    )
    assert isinstance(registration, CreatedWebhook)
    assert registration.secret.startswith("whsec_")
    assert registration.secret not in repr(registration)
    (listed,) = client.list()
    assert isinstance(listed, Webhook)
    assert (listed.id, listed.events, listed.description) == (
        registration.webhook_id,
        ["task.completed"],
        "main",
    )
    updated = client.update(registration.webhook_id, events=["task.*"], description="all tasks")
    assert updated.events == ["task.*"]
    assert updated.description == "all tasks"
    result = client.test(registration.webhook_id)
    assert result.success
    assert result.status == 200
    emitted = client.emit("task.created", {"id": "task-1", "title": "Pour slab"})
    assert isinstance(emitted, EmitResult)
    assert [d.webhook_id for d in emitted.deliveries] == [registration.webhook_id]
    emulator.drain()
    records = client.deliveries(registration.webhook_id)
    assert [r.event for r in records] == ["webhook.test", "task.created"]
    assert records[1].attempts[0].status == 200
    client.delete(registration.webhook_id)
    assert client.list() == []


def test_api_errors_carry_status_code_and_message(client: ManagementClient) -> None:
    with pytest.raises(ManagementAPIError) as info:
        client.register("http://hooks.example.com/x", ["task.created"])
    assert info.value.status == 400
    assert info.value.code == "invalid_url"
    assert "https" in info.value.message
    with pytest.raises(ManagementAPIError) as info:
        client.update("webhook-0-nope00", active=True)
    assert (info.value.status, info.value.code) == (404, "not_found")
    with pytest.raises(ManagementAPIError) as info:
        client.emit("invoice.payed")
    assert info.value.code == "unknown_event"


def test_a_wrong_token_is_a_401_error(emulator: Emulator) -> None:
    client = ManagementClient(
        "http://emulator.local", "not-the-token", transport=httpx.WSGITransport(app=emulator.app)
    )
    with pytest.raises(ManagementAPIError) as info:
        client.list()
    assert info.value.status == 401
    assert "not-the-token" not in str(info.value)
    assert "not-the-token" not in repr(client)


def test_no_answer_is_an_error_without_a_status() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = ManagementClient(f"http://127.0.0.1:{port}", TOKEN, timeout=2)
    with client, pytest.raises(ManagementAPIError) as info:
        client.list()
    assert info.value.status is None
    assert "no answer" in str(info.value)


def test_non_json_error_and_unexpected_answers_are_reported() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            return httpx.Response(502, text="<html>bad gateway</html>")
        return httpx.Response(201, json={"unexpected": True})

    client = ManagementClient("http://api.local", TOKEN, transport=httpx.MockTransport(handler))
    with pytest.raises(ManagementAPIError) as info:
        client.list()
    assert info.value.status == 502
    assert "no JSON error body" in info.value.message
    with pytest.raises(ManagementAPIError, match="unexpected answer"):
        client.register("https://hooks.example.com/x", ["*"])


def test_bearer_token_is_sent() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["authorization"])
        return httpx.Response(200, json={"success": True, "webhooks": []})

    ManagementClient("http://api.local/", TOKEN, transport=httpx.MockTransport(handler)).list()
    assert seen == [f"Bearer {TOKEN}"]


def test_empty_base_url_or_token_is_refused() -> None:
    with pytest.raises(ValueError, match="required"):
        ManagementClient("http://api.local", "")

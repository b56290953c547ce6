"""FastAPI specifics: the verified_event dependency (verify + parse only), async handlers."""

from __future__ import annotations

from typing import Any

from conftest import NOW, SECRET, make_body, signed_headers
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient

from cortexhooks_receiver import Receiver
from cortexhooks_receiver.integrations.fastapi import verified_event, webhook_router


def _receiver() -> Receiver:
    return Receiver(SECRET, now=lambda: NOW, max_body_bytes=4096)


def _app_with_own_route(receiver: Receiver, seen: list[Any]) -> TestClient:
    app = FastAPI()
    verified = Depends(verified_event(receiver))

    @app.post("/custom")
    async def custom(event: Any = verified) -> dict[str, str]:
        seen.append(event)
        return {"event": event.event}

    return TestClient(app)


def test_verified_event_returns_the_typed_event_to_a_custom_route() -> None:
    seen: list[Any] = []
    client = _app_with_own_route(_receiver(), seen)
    body = make_body()
    response = client.post("/custom", content=body, headers=signed_headers(body))
    assert response.status_code == 200
    assert response.json() == {"event": "task.completed"}
    assert type(seen[0]).__name__ == "TaskCompleted"
    assert seen[0].delivery_id == "dlv_1"


def test_verified_event_refuses_with_the_pipeline_status_and_code() -> None:
    seen: list[Any] = []
    client = _app_with_own_route(_receiver(), seen)
    body = make_body()
    response = client.post("/custom", content=body, headers=signed_headers(body, secret="whsec_x"))
    assert response.status_code == 401
    assert response.json()["detail"]["error"] == "signature_mismatch"
    assert seen == []


def test_verified_event_does_not_deduplicate_and_runs_no_handlers() -> None:
    receiver = _receiver()
    ran: list[Any] = []
    receiver.on("task.completed")(ran.append)
    seen: list[Any] = []
    client = _app_with_own_route(receiver, seen)
    body = make_body()
    for _ in range(2):
        assert client.post("/custom", content=body, headers=signed_headers(body)).status_code == 200
    assert len(seen) == 2
    assert ran == []


def test_async_handlers_are_awaited_by_the_router() -> None:
    receiver = _receiver()
    seen: list[str] = []

    @receiver.on("task.completed")
    async def handler(event: Any) -> None:
        seen.append(event.event)

    app = FastAPI()
    app.include_router(webhook_router(receiver))
    body = make_body()
    response = TestClient(app).post(
        "/webhooks/cortexbuild", content=body, headers=signed_headers(body)
    )
    assert response.status_code == 200
    assert seen == ["task.completed"]


def test_webhook_route_is_left_out_of_the_openapi_schema() -> None:
    app = FastAPI()
    app.include_router(webhook_router(_receiver()))
    assert "/webhooks/cortexbuild" not in app.openapi()["paths"]

"""Falcon specifics: one resource for both kinds of app, driven by Falcon's own simulator."""

from __future__ import annotations

from typing import Any

import falcon
import falcon.asgi
import falcon.testing
import pytest
from conftest import SECRET, make_body, signed_headers

from cortexhooks_receiver import Receiver
from cortexhooks_receiver.integrations.falcon import WebhookResource
from cortexhooks_receiver.signature import now_ms

PATH = "/webhooks/cortexbuild"


def _client(kind: str, receiver: Receiver) -> falcon.testing.TestClient:
    app: Any = falcon.asgi.App() if kind == "asgi" else falcon.App()
    app.add_route(PATH, WebhookResource(receiver))
    return falcon.testing.TestClient(app)


@pytest.fixture(params=["wsgi", "asgi"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_one_resource_serves_falcon_wsgi_and_asgi_apps(kind: str) -> None:
    receiver = Receiver(SECRET)
    seen: list[str] = []
    receiver.on("task.completed")(lambda event: seen.append(event.delivery_id))
    client = _client(kind, receiver)
    body = make_body(timestamp=now_ms())
    headers = signed_headers(body, timestamp=now_ms(), delivery_id=f"dlv_{kind}")
    result = client.simulate_post(PATH, body=body, headers=headers, asgi_chunk_size=64)
    assert result.status_code == 200, result.text
    assert result.json == {"received": True}
    assert seen == [f"dlv_{kind}"]


@pytest.mark.parametrize("method", ["GET", "OPTIONS", "DELETE", "PATCH"])
def test_every_method_falcon_routes_gets_the_cores_json_405(kind: str, method: str) -> None:
    result = _client(kind, Receiver(SECRET)).simulate_request(method, PATH)
    assert result.status_code == 405
    assert result.headers["allow"] == "POST"
    assert result.json["error"] == "method_not_allowed"


def test_the_resource_leaves_the_websocket_responder_to_the_app() -> None:
    # Falcon maps on_websocket for the ASGI handshake: an HTTP responder there would break it.
    resource = WebhookResource(Receiver(SECRET))
    assert not hasattr(resource, "on_websocket")
    assert all(hasattr(resource, "on_" + m.lower()) for m in ("GET", "POST", "PROPFIND"))

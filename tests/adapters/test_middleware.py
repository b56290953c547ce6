"""The WSGI and ASGI middleware: the webhook path is the receiver's, everything else is the app's.

The webhook path itself is in the conformance matrix (``wsgi_middleware``, ``asgi_middleware``,
``starlette_middleware``); here: what reaches the wrapped app, and that it arrives untouched.
"""

from __future__ import annotations

import asyncio
from typing import Any

from conftest import SECRET, make_body, signed_headers
from werkzeug.test import Client

from cortexhooks_receiver import Receiver
from cortexhooks_receiver.integrations import asgi, starlette, wsgi
from cortexhooks_receiver.signature import now_ms


class RecordingWSGIApp:
    """Answers 201 with the body it read, and remembers each environ it was given."""

    def __init__(self) -> None:
        self.environs: list[dict[str, Any]] = []

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        self.environs.append(dict(environ))
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length)
        start_response("201 Created", [("Content-Type", "text/plain"), ("X-App", "yes")])
        return [b"app read: " + body]


def test_wsgi_middleware_passes_other_paths_to_the_app_with_the_body_unread() -> None:
    app = RecordingWSGIApp()
    client = Client(wsgi.WebhookMiddleware(app, Receiver(SECRET)))
    response = client.post("/orders?x=1", data=b"order payload", headers={"X-Custom": "kept"})
    assert response.status_code == 201
    assert response.headers["X-App"] == "yes"
    assert response.get_data() == b"app read: order payload"
    (environ,) = app.environs
    assert environ["PATH_INFO"] == "/orders"
    assert environ["QUERY_STRING"] == "x=1"
    assert environ["HTTP_X_CUSTOM"] == "kept"


def test_wsgi_middleware_answers_the_webhook_path_without_calling_the_app() -> None:
    app = RecordingWSGIApp()
    client = Client(wsgi.WebhookMiddleware(app, Receiver(SECRET), path="/hooks"))
    body = make_body(timestamp=now_ms())
    response = client.post("/hooks", data=body, headers=signed_headers(body, timestamp=now_ms()))
    assert response.status_code == 200
    assert response.get_json() == {"received": True}
    assert client.get("/hooks").status_code == 405
    assert app.environs == []
    # The default path is only the receiver's when it is the path given.
    assert client.post("/webhooks/cortexbuild").status_code == 201


class RecordingASGIApp:
    """Records every scope type and message it sees; answers HTTP with 201, accepts websockets."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, Any]] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        self.seen.append((scope["type"], scope.get("path")))
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                self.seen.append(("lifespan-message", message["type"]))
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        elif scope["type"] == "websocket":
            assert (await receive())["type"] == "websocket.connect"
            await send({"type": "websocket.accept"})
            message = await receive()
            await send({"type": "websocket.send", "text": "echo " + message["text"]})
            await send({"type": "websocket.close", "code": 1000})
        else:
            message = await receive()
            self.seen.append(("body", message.get("body", b"")))
            await send({"type": "http.response.start", "status": 201, "headers": []})
            await send({"type": "http.response.body", "body": b"app"})


def _channel(messages: list[dict[str, Any]]) -> tuple[Any, Any, list[dict[str, Any]]]:
    inbox = list(messages)
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return inbox.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    return receive, send, sent


def test_asgi_middleware_passes_lifespan_to_the_app() -> None:
    app = RecordingASGIApp()
    middleware = asgi.WebhookMiddleware(app, Receiver(SECRET))
    receive, send, sent = _channel([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])
    asyncio.run(middleware({"type": "lifespan", "asgi": {"version": "3.0"}}, receive, send))
    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert ("lifespan-message", "lifespan.startup") in app.seen


def test_asgi_middleware_passes_websockets_to_the_app_even_at_the_webhook_path() -> None:
    app = RecordingASGIApp()
    middleware = asgi.WebhookMiddleware(app, Receiver(SECRET))
    receive, send, sent = _channel(
        [{"type": "websocket.connect"}, {"type": "websocket.receive", "text": "hi"}]
    )
    scope = {"type": "websocket", "path": "/webhooks/cortexbuild", "headers": []}
    asyncio.run(middleware(scope, receive, send))
    assert [m["type"] for m in sent] == ["websocket.accept", "websocket.send", "websocket.close"]
    assert sent[1]["text"] == "echo hi"


def test_asgi_middleware_passes_other_paths_with_their_body_to_the_app() -> None:
    app = RecordingASGIApp()
    middleware = asgi.WebhookMiddleware(app, Receiver(SECRET))
    receive, send, sent = _channel([{"type": "http.request", "body": b"order", "more_body": False}])
    scope = {"type": "http", "method": "POST", "path": "/orders", "headers": []}
    asyncio.run(middleware(scope, receive, send))
    assert sent[0]["status"] == 201
    assert app.seen == [("http", "/orders"), ("body", b"order")]


def test_asgi_middleware_answers_the_webhook_path_without_calling_the_app() -> None:
    app = RecordingASGIApp()
    middleware = asgi.WebhookMiddleware(app, Receiver(SECRET), path="/hooks")
    receive, send, sent = _channel([{"type": "http.request", "body": b"", "more_body": False}])
    scope = {"type": "http", "method": "GET", "path": "/hooks", "headers": []}
    asyncio.run(middleware(scope, receive, send))
    assert sent[0]["status"] == 405
    assert app.seen == []


def test_the_starlette_middleware_is_the_asgi_one_under_its_old_name() -> None:
    assert starlette.CortexHooksMiddleware is asgi.WebhookMiddleware
    assert starlette.WebhookMiddleware is asgi.WebhookMiddleware

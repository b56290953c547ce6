"""Plain ASGI apps: the webhooks at /webhooks/cortexbuild, the bare guide endpoint at /bare.

``asgi_app:app`` routes to a ``WebhookApp``; ``asgi_app:middleware_app`` is the bare endpoint's
own app wrapped in ``WebhookMiddleware`` (everything but the webhook path reaches it).
"""

from __future__ import annotations

from typing import Any

from _shared import bare_verify, make_receiver

from cortexhooks_receiver.integrations.asgi import WebhookApp, WebhookMiddleware

receiver = make_receiver(asynchronous=True)
webhooks = WebhookApp(receiver)


async def _answer(send: Any, status: int, body: bytes) -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def bare_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        await webhooks(scope, receive, send)  # acknowledges startup and shutdown
        return
    if scope["path"] != "/bare":
        await _answer(send, 404, b"{}")
        return
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    signature = dict(scope["headers"]).get(b"x-cortexbuild-signature")
    status, body = bare_verify(b"".join(chunks), signature.decode() if signature else None)
    await _answer(send, status, body)


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "http" and scope["path"] == "/bare":
        await bare_app(scope, receive, send)
        return
    await webhooks(scope, receive, send)


middleware_app = WebhookMiddleware(bare_app, receiver)

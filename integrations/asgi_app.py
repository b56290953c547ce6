"""Plain ASGI app: WebhookApp at /webhooks/cortexbuild, the bare guide endpoint at /bare."""

from __future__ import annotations

from typing import Any

from _shared import bare_verify, make_receiver

from cortexhooks_receiver.integrations.asgi import WebhookApp

webhooks = WebhookApp(make_receiver(asynchronous=True))


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "http" and scope["path"] == "/bare":
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        signature = dict(scope["headers"]).get(b"x-cortexbuild-signature")
        status, body = bare_verify(b"".join(chunks), signature.decode() if signature else None)
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
        return
    await webhooks(scope, receive, send)

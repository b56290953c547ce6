"""Receive CortexBuild webhooks in any ASGI framework or server (Quart, Litestar mounts, ...).

Serve it:      CORTEXBUILD_WEBHOOK_SECRET=whsec_... uvicorn examples.asgi_app:app
Self-check:    python examples/asgi_app.py   (signed deliveries through httpx's ASGITransport)
"""

from __future__ import annotations

import asyncio
import os

import cortexhooks_receiver as ch
from cortexhooks_receiver.integrations.asgi import WebhookApp

os.environ.setdefault("CORTEXBUILD_WEBHOOK_SECRET", "whsec_example_only_0123456789")

receiver = ch.Receiver(store="memory://")
created: list[str] = []


@receiver.on("project.created")
async def project_created(event: ch.events.ProjectCreated) -> None:
    created.append(event.data.id)


app = WebhookApp(receiver, path="/webhooks/cortexbuild")  # an ASGI callable


async def self_check() -> None:
    import httpx

    from cortexhooks_receiver.testing.factories import make_body

    body = make_body("project.created")
    headers = ch.sign(body, os.environ["CORTEXBUILD_WEBHOOK_SECRET"])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://example") as client:
        response = await client.post("/webhooks/cortexbuild", content=body, headers=headers)
        assert response.status_code == 200, response.text
        duplicate = await client.post("/webhooks/cortexbuild", content=body, headers=headers)
        assert duplicate.json() == {"received": True, "duplicate": True}
    assert len(created) == 1
    print("asgi example: OK")


if __name__ == "__main__":
    asyncio.run(self_check())

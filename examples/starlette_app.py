"""Receive CortexBuild webhooks in Starlette (a Route), or in front of any ASGI app (middleware).

Serve it:      CORTEXBUILD_WEBHOOK_SECRET=whsec_... uvicorn examples.starlette_app:app
Self-check:    python examples/starlette_app.py   (signed deliveries through Starlette's TestClient)
"""

from __future__ import annotations

import os

from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

import cortexhooks_receiver as ch
from cortexhooks_receiver.integrations.starlette import CortexHooksMiddleware, webhook_route

os.environ.setdefault("CORTEXBUILD_WEBHOOK_SECRET", "whsec_example_only_0123456789")

receiver = ch.Receiver(store="memory://")
seen: list[str] = []


@receiver.on("incident.reported", "safety.violation")
def safety(event: ch.Event) -> None:  # a sync handler: run in a worker thread
    seen.append(event.event)


async def home(request: object) -> PlainTextResponse:
    return PlainTextResponse("hello")


# 1. As a route of a Starlette app:
app = Starlette(routes=[Route("/", home), webhook_route(receiver)])

# 2. Or as pure ASGI middleware in front of any ASGI app (other paths pass through):
wrapped = CortexHooksMiddleware(Starlette(routes=[Route("/", home)]), receiver)


def self_check() -> None:
    from starlette.testclient import TestClient

    from cortexhooks_receiver.testing.factories import make_body

    secret = os.environ["CORTEXBUILD_WEBHOOK_SECRET"]
    for asgi_app, name in ((app, "incident.reported"), (wrapped, "safety.violation")):
        client = TestClient(asgi_app)
        body = make_body(name)
        response = client.post("/webhooks/cortexbuild", content=body, headers=ch.sign(body, secret))
        assert response.status_code == 200, response.text
        assert client.get("/").text == "hello"
    assert seen == ["incident.reported", "safety.violation"]
    print("starlette example: OK")


if __name__ == "__main__":
    self_check()

"""Receive CortexBuild webhooks in a Litestar application (an ASGI route handler).

Serve it:      CORTEXBUILD_WEBHOOK_SECRET=whsec_... uvicorn examples.litestar_app:app
Self-check:    python examples/litestar_app.py   (signed deliveries through Litestar's TestClient)
"""

from __future__ import annotations

import os

from litestar import Litestar
from litestar.config.csrf import CSRFConfig

import cortexhooks_receiver as ch
from cortexhooks_receiver.integrations.litestar import webhook_route

os.environ.setdefault("CORTEXBUILD_WEBHOOK_SECRET", "whsec_example_only_0123456789")

receiver = ch.Receiver(store="memory://")
joined: list[str] = []


@receiver.on("user.joined")
def user_joined(event: ch.Event) -> None:  # a sync handler: run in a worker thread
    joined.append(event.event)


# CSRF protection for the app's forms; the webhook route is exempt (signatures, not cookies).
app = Litestar(
    route_handlers=[webhook_route(receiver)],
    csrf_config=CSRFConfig(secret="change-me-csrf-secret"),
)


def self_check() -> None:
    from litestar.testing import TestClient

    from cortexhooks_receiver.testing.factories import make_body

    body = make_body("user.joined")
    headers = ch.sign(body, os.environ["CORTEXBUILD_WEBHOOK_SECRET"])
    with TestClient(app) as client:
        response = client.post("/webhooks/cortexbuild", content=body, headers=headers)
        assert response.status_code == 200, response.text
        assert client.get("/webhooks/cortexbuild").json()["error"] == "method_not_allowed"
    assert joined == ["user.joined"]
    print("litestar example: OK")


if __name__ == "__main__":
    self_check()

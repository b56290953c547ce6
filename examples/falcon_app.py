"""Receive CortexBuild webhooks in Falcon: one resource for the WSGI and the ASGI app.

Serve it:      CORTEXBUILD_WEBHOOK_SECRET=whsec_... gunicorn examples.falcon_app:app
               CORTEXBUILD_WEBHOOK_SECRET=whsec_... uvicorn examples.falcon_app:asgi_app
Self-check:    python examples/falcon_app.py   (signed deliveries through Falcon's TestClient)
"""

from __future__ import annotations

import os

import falcon
import falcon.asgi

import cortexhooks_receiver as ch
from cortexhooks_receiver.integrations.falcon import WebhookResource

os.environ.setdefault("CORTEXBUILD_WEBHOOK_SECRET", "whsec_example_only_0123456789")

receiver = ch.Receiver(store="memory://")
created: list[str] = []


@receiver.on("expense.created")
def expense_created(event: ch.Event) -> None:
    created.append(event.event)


resource = WebhookResource(receiver)
app = falcon.App()
app.add_route("/webhooks/cortexbuild", resource)
asgi_app = falcon.asgi.App()
asgi_app.add_route("/webhooks/cortexbuild", resource)


def self_check() -> None:
    from falcon.testing import TestClient

    from cortexhooks_receiver.testing.factories import make_body

    secret = os.environ["CORTEXBUILD_WEBHOOK_SECRET"]
    for number, served in enumerate((app, asgi_app)):
        body = make_body("expense.created", data={"id": f"exp-{number}"})  # two deliveries
        result = TestClient(served).simulate_post(
            "/webhooks/cortexbuild", body=body, headers=ch.sign(body, secret)
        )
        assert result.status_code == 200, result.text
    assert created == ["expense.created", "expense.created"]
    print("falcon example: OK")


if __name__ == "__main__":
    self_check()

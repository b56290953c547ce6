"""Receive CortexBuild webhooks in any WSGI framework or server (Bottle, Pyramid, Falcon...).

Serve it:      CORTEXBUILD_WEBHOOK_SECRET=whsec_... gunicorn examples.wsgi_app:app
Self-check:    python examples/wsgi_app.py   (signed deliveries through Werkzeug's test client)
"""

from __future__ import annotations

import os

import cortexhooks_receiver as ch
from cortexhooks_receiver.integrations.wsgi import WebhookApp

os.environ.setdefault("CORTEXBUILD_WEBHOOK_SECRET", "whsec_example_only_0123456789")

receiver = ch.Receiver(store="memory://")
uploaded: list[str] = []


@receiver.on("document.uploaded")
def document_uploaded(event: ch.events.DocumentUploaded) -> None:
    uploaded.append(event.data.id)


app = WebhookApp(receiver, path="/webhooks/cortexbuild")  # a WSGI callable


def self_check() -> None:
    from werkzeug.test import Client

    from cortexhooks_receiver.testing.factories import make_body

    client = Client(app)
    body = make_body("document.uploaded")
    headers = ch.sign(body, os.environ["CORTEXBUILD_WEBHOOK_SECRET"])
    response = client.post("/webhooks/cortexbuild", data=body, headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert client.get("/webhooks/cortexbuild").status_code == 405
    assert len(uploaded) == 1
    print("wsgi example: OK")


if __name__ == "__main__":
    self_check()

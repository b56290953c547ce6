"""Receive CortexBuild webhooks in Flask.

Serve it:      CORTEXBUILD_WEBHOOK_SECRET=whsec_... gunicorn examples.flask_app:app
Self-check:    python examples/flask_app.py   (one signed delivery through Flask's test client)
"""

from __future__ import annotations

import os

from flask import Flask

import cortexhooks_receiver as ch
from cortexhooks_receiver.integrations.flask import CortexHooks

os.environ.setdefault("CORTEXBUILD_WEBHOOK_SECRET", "whsec_example_only_0123456789")

app = Flask(__name__)
app.config["CORTEXHOOKS_SECRET"] = os.environ["CORTEXBUILD_WEBHOOK_SECRET"]
app.config["CORTEXHOOKS_STORE"] = "memory://"  # "sqlite:///webhooks.db" with several workers
hooks = CortexHooks(app)  # serves POST /webhooks/cortexbuild

paid: list[str] = []


@hooks.on("invoice.paid")
def invoice_paid(event: ch.events.InvoicePaid) -> None:
    paid.append(event.data.id)


def self_check() -> None:
    from cortexhooks_receiver.testing.factories import make_body

    body = make_body("invoice.paid")
    headers = ch.sign(body, os.environ["CORTEXBUILD_WEBHOOK_SECRET"], event="invoice.paid")
    client = app.test_client()
    response = client.post("/webhooks/cortexbuild", data=body, headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json() == {"received": True}
    again = client.post("/webhooks/cortexbuild", data=body, headers=headers)
    assert again.get_json() == {"received": True, "duplicate": True}
    assert len(paid) == 1
    print("flask example: OK")


if __name__ == "__main__":
    self_check()

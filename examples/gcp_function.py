"""Receive CortexBuild webhooks in a Google Cloud Function (the Functions Framework).

Serve it:      CORTEXBUILD_WEBHOOK_SECRET=whsec_... functions-framework \\
                   --source examples/gcp_function.py --target handler --port 8080
Self-check:    python examples/gcp_function.py   (the Functions Framework's own Flask app)
"""

from __future__ import annotations

import os

import cortexhooks_receiver as ch
from cortexhooks_receiver.integrations.gcp import cloud_function

os.environ.setdefault("CORTEXBUILD_WEBHOOK_SECRET", "whsec_example_only_0123456789")

# One dedup store for every instance in production: store="redis://...".
receiver = ch.Receiver(store="memory://")
resolved: list[str] = []


@receiver.on("incident.resolved")
def incident_resolved(event: ch.Event) -> None:
    resolved.append(event.event)


handler = cloud_function(receiver)


def self_check() -> None:
    from functions_framework import create_app

    from cortexhooks_receiver.testing.factories import make_body

    client = create_app(target="handler", source=__file__).test_client()
    body = make_body("incident.resolved")
    headers = ch.sign(body, os.environ["CORTEXBUILD_WEBHOOK_SECRET"])
    response = client.post("/", data=body, headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert client.get("/").get_json()["error"] == "method_not_allowed"
    print("gcp example: OK")


if __name__ == "__main__":
    self_check()

"""Receive CortexBuild webhooks in FastAPI.

Serve it:      CORTEXBUILD_WEBHOOK_SECRET=whsec_... uvicorn examples.fastapi_app:app
Self-check:    python examples/fastapi_app.py   (one signed delivery through FastAPI's TestClient)
"""

from __future__ import annotations

import os

from fastapi import Depends, FastAPI

import cortexhooks_receiver as ch
from cortexhooks_receiver.integrations.fastapi import verified_event, webhook_router

os.environ.setdefault("CORTEXBUILD_WEBHOOK_SECRET", "whsec_example_only_0123456789")

receiver = ch.Receiver(store="memory://")  # secret from CORTEXBUILD_WEBHOOK_SECRET
app = FastAPI()
app.include_router(webhook_router(receiver))  # POST /webhooks/cortexbuild: verify, dedup, dispatch

completed: list[str] = []


@receiver.on("task.completed")
async def task_completed(event: ch.events.TaskCompleted) -> None:  # awaited on the event loop
    completed.append(event.data.id)


# Your own route: verified_event verifies and parses only (no dedup, no handlers).
verified = Depends(verified_event(receiver))


@app.post("/hooks/audit")
async def audit(event: ch.Event = verified) -> dict[str, str]:
    return {"event": event.event}


def self_check() -> None:
    from fastapi.testclient import TestClient

    from cortexhooks_receiver.testing.factories import make_body

    client = TestClient(app)
    body = make_body("task.completed")
    headers = ch.sign(body, os.environ["CORTEXBUILD_WEBHOOK_SECRET"], event="task.completed")
    response = client.post("/webhooks/cortexbuild", content=body, headers=headers)
    assert response.status_code == 200, response.text
    assert len(completed) == 1
    assert client.post("/hooks/audit", content=body, headers=headers).json() == {
        "event": "task.completed"
    }
    forged = dict(headers, **{"X-CortexBuild-Signature": "0" * 64})
    assert client.post("/webhooks/cortexbuild", content=body, headers=forged).status_code == 401
    print("fastapi example: OK")


if __name__ == "__main__":
    self_check()

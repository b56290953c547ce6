"""Receive CortexBuild webhooks in an aiohttp application.

Serve it:      CORTEXBUILD_WEBHOOK_SECRET=whsec_... python examples/aiohttp_app.py
Self-check:    python examples/aiohttp_app.py --self-test   (aiohttp's test client, a real server)
"""

from __future__ import annotations

import asyncio
import os
import sys

from aiohttp import web

import cortexhooks_receiver as ch
from cortexhooks_receiver.integrations.aiohttp import setup

os.environ.setdefault("CORTEXBUILD_WEBHOOK_SECRET", "whsec_example_only_0123456789")

receiver = ch.Receiver(store="memory://")
overdue: list[str] = []


@receiver.on("task.overdue")
async def task_overdue(event: ch.events.TaskOverdue) -> None:  # awaited on aiohttp's loop
    overdue.append(event.data.id)


def create_app() -> web.Application:
    app = web.Application()
    setup(app, receiver)  # every method at /webhooks/cortexbuild
    return app


async def self_check() -> None:
    from aiohttp.test_utils import TestClient, TestServer

    from cortexhooks_receiver.testing.factories import make_body

    body = make_body("task.overdue")
    headers = ch.sign(body, os.environ["CORTEXBUILD_WEBHOOK_SECRET"])
    async with TestClient(TestServer(create_app())) as client:
        response = await client.post("/webhooks/cortexbuild", data=body, headers=headers)
        assert response.status == 200, await response.text()
        duplicate = await client.post("/webhooks/cortexbuild", data=body, headers=headers)
        assert await duplicate.json() == {"received": True, "duplicate": True}
    assert len(overdue) == 1
    print("aiohttp example: OK")


if __name__ == "__main__":
    if "--self-test" in sys.argv:
        asyncio.run(self_check())
    else:
        web.run_app(create_app(), host="127.0.0.1", port=8000)

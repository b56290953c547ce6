"""Receive CortexBuild webhooks in Quart with the CortexHooks extension (an application factory).

Serve it:      CORTEXBUILD_WEBHOOK_SECRET=whsec_... hypercorn "examples.quart_app:create_app()"
Self-check:    python examples/quart_app.py   (signed deliveries through Quart's test client)
"""

from __future__ import annotations

import asyncio
import os

from quart import Quart

import cortexhooks_receiver as ch
from cortexhooks_receiver.integrations.quart import CortexHooks

os.environ.setdefault("CORTEXBUILD_WEBHOOK_SECRET", "whsec_example_only_0123456789")

hooks = CortexHooks()  # configured per app by init_app
changes: list[str] = []


@hooks.on("project.status_changed")
async def status_changed(event: ch.Event) -> None:
    changes.append(event.event)


def create_app() -> Quart:
    app = Quart(__name__)
    app.config.update(CORTEXHOOKS_STORE="memory://", CORTEXHOOKS_MAX_BODY_BYTES=256_000)
    hooks.init_app(app)
    return app


async def self_check() -> None:
    from cortexhooks_receiver.testing.factories import make_body

    app = create_app()
    client = app.test_client()
    body = make_body("project.status_changed")
    headers = ch.sign(body, os.environ["CORTEXBUILD_WEBHOOK_SECRET"])
    response = await client.post("/webhooks/cortexbuild", data=body, headers=headers)
    assert response.status_code == 200, await response.get_data()
    forged = await client.post("/webhooks/cortexbuild", data=body, headers=ch.sign(body, "whsec_x"))
    assert (await forged.get_json())["error"] == "signature_mismatch"
    assert changes == ["project.status_changed"]
    print("quart example: OK")


if __name__ == "__main__":
    asyncio.run(self_check())

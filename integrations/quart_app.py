"""Quart app: CortexHooks at /webhooks/cortexbuild, the bare guide endpoint at /bare."""

from __future__ import annotations

from _shared import bare_verify, make_receiver
from quart import Quart, Response, request

from cortexhooks_receiver.integrations.quart import CortexHooks

app = Quart(__name__)
hooks = CortexHooks(app, make_receiver(asynchronous=True))


@app.post("/bare")
async def bare() -> Response:
    status, body = bare_verify(
        await request.get_data(), request.headers.get("X-CortexBuild-Signature")
    )
    return Response(body, status, content_type="application/json")

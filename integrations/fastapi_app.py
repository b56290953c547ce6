"""FastAPI app: webhook_router at /webhooks/cortexbuild, the bare guide endpoint at /bare."""

from __future__ import annotations

from _shared import bare_verify, make_receiver
from fastapi import FastAPI, Request, Response

from cortexhooks_receiver.integrations.fastapi import webhook_router

app = FastAPI()
app.include_router(webhook_router(make_receiver(asynchronous=True)))


@app.post("/bare")
async def bare(request: Request) -> Response:
    status, body = bare_verify(await request.body(), request.headers.get("x-cortexbuild-signature"))
    return Response(body, status, media_type="application/json")

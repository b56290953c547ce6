"""Litestar app: webhook_route at /webhooks/cortexbuild, the bare guide endpoint at /bare."""

from __future__ import annotations

from _shared import bare_verify, make_receiver
from litestar import Litestar, Request, Response, post

from cortexhooks_receiver.integrations.litestar import webhook_route


@post("/bare", status_code=200)
async def bare(request: Request) -> Response[bytes]:
    status, body = bare_verify(await request.body(), request.headers.get("x-cortexbuild-signature"))
    return Response(body, status_code=status, media_type="application/json")


app = Litestar(route_handlers=[webhook_route(make_receiver(asynchronous=True)), bare])

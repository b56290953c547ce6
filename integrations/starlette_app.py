"""Starlette app: webhook_route at /webhooks/cortexbuild, the bare guide endpoint at /bare.

``starlette_app:middleware_app`` serves the same webhooks through ``CortexHooksMiddleware``.
"""

from __future__ import annotations

from _shared import bare_verify, make_receiver
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from cortexhooks_receiver.integrations.starlette import CortexHooksMiddleware, webhook_route

receiver = make_receiver(asynchronous=True)


async def bare(request: Request) -> Response:
    status, body = bare_verify(await request.body(), request.headers.get("x-cortexbuild-signature"))
    return Response(body, status, media_type="application/json")


app = Starlette(routes=[webhook_route(receiver), Route("/bare", bare, methods=["POST"])])
middleware_app = CortexHooksMiddleware(
    Starlette(routes=[Route("/bare", bare, methods=["POST"])]), receiver
)

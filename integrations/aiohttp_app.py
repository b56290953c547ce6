"""aiohttp app: setup() at /webhooks/cortexbuild, the bare guide endpoint at /bare.

Served by aiohttp's own server: ``python -m aiohttp.web -H 127.0.0.1 -P 8000 aiohttp_app:create``.
"""

from __future__ import annotations

from _shared import bare_verify, make_receiver
from aiohttp import web

from cortexhooks_receiver.integrations.aiohttp import setup


async def bare(request: web.Request) -> web.Response:
    status, body = bare_verify(await request.read(), request.headers.get("X-CortexBuild-Signature"))
    return web.Response(body=body, status=status, content_type="application/json")


def create(argv: list[str] | None = None) -> web.Application:
    """The app factory ``python -m aiohttp.web`` calls."""
    app = web.Application()
    setup(app, make_receiver(asynchronous=True))
    app.router.add_post("/bare", bare)
    return app

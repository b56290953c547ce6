"""Falcon apps: WebhookResource at /webhooks/cortexbuild, the bare guide endpoint at /bare.

``falcon_app:app`` is the WSGI app (gunicorn), ``falcon_app:asgi_app`` the ASGI one (uvicorn):
the same resource class in both.
"""

from __future__ import annotations

from typing import Any

import falcon
import falcon.asgi
from _shared import bare_verify, make_receiver

from cortexhooks_receiver.integrations.falcon import WebhookResource


class Bare:
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = req.bounded_stream.read()
        resp.status, resp.data = bare_verify(body, req.get_header("X-CortexBuild-Signature"))
        resp.content_type = falcon.MEDIA_JSON


class AsyncBare:
    async def on_post(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        body = await req.stream.read()
        resp.status, resp.data = bare_verify(body, req.get_header("X-CortexBuild-Signature"))
        resp.content_type = falcon.MEDIA_JSON


def _routes(app: Any, resource: WebhookResource, bare: object) -> Any:
    app.add_route("/webhooks/cortexbuild", resource)
    app.add_route("/bare", bare)
    return app


app = _routes(falcon.App(), WebhookResource(make_receiver()), Bare())
asgi_app = _routes(
    falcon.asgi.App(), WebhookResource(make_receiver(asynchronous=True)), AsyncBare()
)

"""Plain WSGI apps: the webhooks at /webhooks/cortexbuild, the bare guide endpoint at /bare.

``wsgi_app:app`` routes to a ``WebhookApp``; ``wsgi_app:middleware_app`` is the bare endpoint's
own app wrapped in ``WebhookMiddleware`` (everything but the webhook path reaches it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from _shared import bare_verify, make_receiver

from cortexhooks_receiver.integrations.wsgi import WebhookApp, WebhookMiddleware

receiver = make_receiver()
webhooks = WebhookApp(receiver)


def bare_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    if environ.get("PATH_INFO") != "/bare":
        start_response("404 Not Found", [("Content-Length", "0")])
        return [b""]
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length)
    status, answer = bare_verify(body, environ.get("HTTP_X_CORTEXBUILD_SIGNATURE"))
    start_response(
        f"{status} {'OK' if status == 200 else 'Unauthorized'}",
        [("Content-Type", "application/json"), ("Content-Length", str(len(answer)))],
    )
    return [answer]


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    if environ.get("PATH_INFO") == "/bare":
        return bare_app(environ, start_response)
    return webhooks(environ, start_response)


middleware_app = WebhookMiddleware(bare_app, receiver)

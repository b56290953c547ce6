"""Plain WSGI app: WebhookApp at /webhooks/cortexbuild, the bare guide endpoint at /bare."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from _shared import bare_verify, make_receiver

from cortexhooks_receiver.integrations.wsgi import WebhookApp

webhooks = WebhookApp(make_receiver())


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    if environ.get("PATH_INFO") == "/bare":
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length)
        status, answer = bare_verify(body, environ.get("HTTP_X_CORTEXBUILD_SIGNATURE"))
        start_response(
            f"{status} {'OK' if status == 200 else 'Unauthorized'}",
            [("Content-Type", "application/json"), ("Content-Length", str(len(answer)))],
        )
        return [answer]
    return webhooks(environ, start_response)

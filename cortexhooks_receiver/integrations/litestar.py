"""Litestar integration: ``webhook_route(receiver)``, an ASGI route handler for the webhook path.

::

    from litestar import Litestar
    from cortexhooks_receiver.integrations.litestar import webhook_route

    app = Litestar(route_handlers=[webhook_route(receiver)])

The form chosen is Litestar's own ``@asgi`` route handler (not an ``@post`` handler): it goes in
``route_handlers`` like any other (guards, ``name``, ``opt`` and the app's middleware apply), and
it gets the raw ``receive`` channel, so the body is read by the ASGI adapter itself, never more
than ``max_body_bytes + 1`` bytes, with no ``Request`` built and no body buffered by the
framework (an ``@post`` handler's ``request.body()`` reads up to Litestar's own 10 MB limit).
It accepts every method (the core answers non-POST with its JSON 405), is left out of the OpenAPI
schema, and is exempt from Litestar's CSRF middleware (``opt={"exclude_from_csrf": True}``): the
sender authenticates by signature, not by cookie. Async handlers are awaited, sync handlers run in
a worker thread; the peer address (``scope["client"]``) is passed to the receiver.

Importing this module does not import Litestar: ``webhook_route`` imports it when called.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cortexhooks_receiver._types import Receive, Scope, Send
from cortexhooks_receiver.receiver import DEFAULT_PATH, Receiver

from ._common import require
from .asgi import DEFAULT_READ_TIMEOUT, WebhookApp

if TYPE_CHECKING:
    from litestar.handlers import ASGIRouteHandler

__all__ = ["webhook_route"]


def webhook_route(
    receiver: Receiver,
    path: str = DEFAULT_PATH,
    *,
    name: str = "cortexhooks_webhook",
    read_timeout: float = DEFAULT_READ_TIMEOUT,
) -> ASGIRouteHandler:
    """Return a Litestar ASGI route handler serving webhooks at ``path``.

    ``read_timeout`` is how long to wait for the request body before answering 500
    ``body_already_consumed`` (never a hang).

    Raises:
        ImportError: Litestar is not installed (``pip install 'cortexhooks-receiver[litestar]'``).
        Nothing at request time: every failure is a JSON answer.
    """
    require("litestar", "litestar")
    from litestar import asgi

    app = WebhookApp(receiver, read_timeout=read_timeout)

    # Litestar reads the handler's signature (scope, receive, send -> None) to validate it.
    async def webhook(scope: Scope, receive: Receive, send: Send) -> None:
        await app(scope, receive, send)

    return asgi(path, name=name, copy_scope=False, opt={"exclude_from_csrf": True})(webhook)

"""Starlette integration: a ``Route`` for the webhook path, and a pure ASGI middleware.

::

    from starlette.applications import Starlette
    from cortexhooks_receiver.integrations.starlette import webhook_route

    app = Starlette(routes=[webhook_route(receiver)])

or, in front of any ASGI app (Starlette, FastAPI, Quart, Django's ASGI handler...)::

    app = CortexHooksMiddleware(app, receiver)

Both read the raw body from the ASGI channel (never more than ``max_body_bytes + 1`` bytes),
await :meth:`Receiver.handle_async` (async handlers awaited, sync handlers in a worker thread) and
send the :class:`~cortexhooks_receiver.receiver.Outcome` back.

Importing this module does not import Starlette: ``webhook_route`` imports it when called, and
the middleware, pure ASGI, never needs it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cortexhooks_receiver._types import ASGIApp, Receive, Scope, Send
from cortexhooks_receiver.receiver import DEFAULT_PATH, Receiver

from ._common import require
from .asgi import DEFAULT_READ_TIMEOUT, WebhookApp, send_outcome, webhook_outcome

if TYPE_CHECKING:
    from starlette.routing import Route

__all__ = ["CortexHooksMiddleware", "webhook_route"]


def webhook_route(
    receiver: Receiver, path: str = DEFAULT_PATH, *, name: str = "cortexhooks_webhook"
) -> Route:
    """Return a Starlette :class:`~starlette.routing.Route` serving webhooks at ``path``.

    The route accepts every method so that the core answers non-POST requests with its JSON 405.

    Raises:
        ImportError: Starlette is not installed (``pip install 'cortexhooks-receiver[starlette]'``).
        Nothing at request time: every failure is a JSON answer.
    """
    require("starlette.routing", "starlette")
    from starlette.routing import Route

    return Route(path, WebhookApp(receiver), name=name, include_in_schema=False)


class CortexHooksMiddleware:
    """Pure ASGI middleware answering webhook requests at ``path`` in front of any ASGI app.

    Requests to other paths (and non-HTTP scopes) pass through to ``app`` untouched. It is not a
    ``BaseHTTPMiddleware``: no request object, no body buffering, no task per request.

    Args:
        app: the wrapped ASGI application.
        receiver: the configured :class:`~cortexhooks_receiver.Receiver`.
        path: the exact request path to serve (default ``/webhooks/cortexbuild``).
        read_timeout: seconds to wait for the request body (never a hang).
    """

    __slots__ = ("app", "path", "read_timeout", "receiver")

    def __init__(
        self,
        app: ASGIApp,
        receiver: Receiver,
        *,
        path: str = DEFAULT_PATH,
        read_timeout: float = DEFAULT_READ_TIMEOUT,
    ) -> None:
        self.app = app
        self.receiver = receiver
        self.path = path
        self.read_timeout = read_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve the webhook path, or pass the scope on to the wrapped app."""
        if scope["type"] != "http" or scope["path"] != self.path:
            await self.app(scope, receive, send)
            return
        outcome = await webhook_outcome(self.receiver, scope, receive, self.read_timeout)
        await send_outcome(send, outcome)

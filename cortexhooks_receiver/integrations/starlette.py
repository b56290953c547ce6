"""Starlette integration: a ``Route`` for the webhook path, and a pure ASGI middleware.

::

    from starlette.applications import Starlette
    from cortexhooks_receiver.integrations.starlette import webhook_route

    app = Starlette(routes=[webhook_route(receiver)])

or, in front of any ASGI app, the pure ASGI middleware of
:mod:`~cortexhooks_receiver.integrations.asgi` (``CortexHooksMiddleware`` here is its alias)::

    app = Starlette(routes=[...], middleware=[Middleware(WebhookMiddleware, receiver=receiver)])

Both read the raw body from the ASGI channel (never more than ``max_body_bytes + 1`` bytes),
await :meth:`Receiver.handle_async` (async handlers awaited, sync handlers in a worker thread) and
send the :class:`~cortexhooks_receiver.receiver.Outcome` back.

Importing this module does not import Starlette: ``webhook_route`` imports it when called, and
the middleware, pure ASGI, never needs it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cortexhooks_receiver.receiver import DEFAULT_PATH, Receiver

from ._common import require
from .asgi import WebhookApp, WebhookMiddleware

if TYPE_CHECKING:
    from starlette.routing import Route

__all__ = ["CortexHooksMiddleware", "WebhookMiddleware", "webhook_route"]


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


CortexHooksMiddleware = WebhookMiddleware
"""The name this middleware had before it moved to :mod:`~cortexhooks_receiver.integrations.asgi`
(it works for any ASGI app); kept as an alias."""

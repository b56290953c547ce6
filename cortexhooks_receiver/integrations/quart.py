"""Quart integration: the ``CortexHooks`` extension, Flask's made async (a Blueprint view).

::

    from quart import Quart
    from cortexhooks_receiver.integrations.quart import CortexHooks

    app = Quart(__name__)
    app.config["CORTEXHOOKS_SECRET"] = "whsec_..."
    hooks = CortexHooks(app)

    @hooks.on("invoice.paid")
    async def paid(event): ...

It works as the Flask extension does (``init_app`` for application factories, the same
``CORTEXHOOKS_*`` config keys, ``app.extensions["cortexhooks"]``); its view is async and awaits
:meth:`Receiver.handle_async`: async handlers are awaited, sync handlers run in a worker thread.

The view reads the raw body itself: ``Content-Length`` above the cap is answered 413 without
reading; a declared body is awaited with ``request.get_data(cache=True)`` (so
``await request.get_json()`` stays usable elsewhere); a chunked body is consumed chunk by chunk
from ``request.body`` and reading stops after ``max_body_bytes + 1`` bytes. Quart's own
``MAX_CONTENT_LENGTH`` (when lower) and ``BODY_TIMEOUT`` still apply: they are answered 413
``payload_too_large`` and 500 ``body_already_consumed`` in JSON, never Quart's HTML error pages.
The peer address (``scope["client"]``) is passed to the receiver.

Importing this module does not import Quart: it is imported when a ``CortexHooks`` is created.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, cast

from cortexhooks_receiver.errors import BodyAlreadyConsumed, PayloadTooLarge
from cortexhooks_receiver.receiver import Outcome, Receiver

from ._common import (
    asgi_client,
    closes_connection,
    read_chunks_capped,
    serve_async,
    short_body,
)
from ._extension import EXTENSION_KEY, AppExtension
from .asgi import asgi_headers

if TYPE_CHECKING:
    from quart import Request, Response

    from cortexhooks_receiver._types import Scope

__all__ = ["EXTENSION_KEY", "CortexHooks"]


class CortexHooks(AppExtension):
    """The Quart extension: Flask's :class:`~cortexhooks_receiver.integrations.flask.CortexHooks`
    for Quart apps (the same arguments, config keys and ``init_app``), with an async view.

    Raises:
        ImportError: Quart is not installed (``pip install 'cortexhooks-receiver[quart]'``).
        ConfigurationError: (from :meth:`init_app`) no secret configured, or a bad setting.
    """

    framework = "quart"

    def _view(self, receiver: Receiver) -> Callable[[], Awaitable[Response]]:
        from quart import Response, request

        async def webhook() -> Response:
            outcome = await _outcome(receiver, request)
            response = Response(outcome.body, outcome.status, dict(outcome.headers))
            if closes_connection(outcome):
                response.headers["Connection"] = "close"
            return response

        return webhook


async def _outcome(receiver: Receiver, request: Request) -> Outcome:
    from werkzeug.exceptions import RequestEntityTooLarge, RequestTimeout

    cap = receiver.max_body_bytes

    async def read(length: int | None) -> bytes:
        try:
            if length is None:
                return await read_chunks_capped(request.body, cap, None)
            body = await request.get_data(cache=True, as_text=False, parse_form_data=False)
        except RequestEntityTooLarge:  # the app's MAX_CONTENT_LENGTH is lower than the cap
            raise PayloadTooLarge from None
        except RequestTimeout:  # the app's BODY_TIMEOUT
            raise BodyAlreadyConsumed("The request body did not arrive in time.") from None
        if len(body) < length:
            raise short_body(len(body))
        return body

    scope = cast("Scope", request.scope)  # a TypedDict of hypercorn's, a plain dict at run time
    headers = asgi_headers(scope)
    content_length = headers.get("content-length")
    return await serve_async(
        receiver, request.method, headers, content_length, read, asgi_client(scope)
    )

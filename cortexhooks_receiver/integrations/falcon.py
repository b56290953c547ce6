"""Falcon integration: ``WebhookResource(receiver)``, one resource for WSGI and ASGI apps.

::

    import falcon            # or: import falcon.asgi; app = falcon.asgi.App()
    from cortexhooks_receiver.integrations.falcon import WebhookResource

    app = falcon.App()
    app.add_route("/webhooks/cortexbuild", WebhookResource(receiver))

The same resource serves both kinds of app: under ``falcon.App`` (WSGI) it answers with
:meth:`Receiver.handle`, under ``falcon.asgi.App`` it awaits :meth:`Receiver.handle_async` (async
handlers awaited, sync handlers in a worker thread). It has a responder for every method Falcon
routes, so the core answers non-POST with its JSON 405.

The raw body is read by the resource itself, never more than ``max_body_bytes + 1`` bytes: under
WSGI from the environ's ``wsgi.input`` as the WSGI adapter reads it (``req.bounded_stream`` would
read nothing of a chunked body: it is bounded by a ``Content-Length`` of 0), under ASGI from
``req.stream``. Falcon's ``req.media`` is never touched. The peer address (``REMOTE_ADDR``, or the
ASGI scope's ``client``) is passed to the receiver; Falcon's ``req.remote_addr`` is not used, as
it answers ``127.0.0.1`` when the address is unknown.

Importing this module does not import Falcon: it is imported when a resource is created.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any

from cortexhooks_receiver.receiver import Outcome, Receiver

from ._common import asgi_client, closes_connection, read_capped_async, require, serve_async
from .wsgi import wsgi_outcome

if TYPE_CHECKING:
    import falcon.asgi

__all__ = ["WebhookResource"]


class WebhookResource:
    """A Falcon resource answering every method with the receiver's :class:`Outcome`.

    Add it with ``app.add_route(path, WebhookResource(receiver))`` to a ``falcon.App`` or a
    ``falcon.asgi.App``.

    Raises:
        ImportError: Falcon is not installed (``pip install 'cortexhooks-receiver[falcon]'``).
        Nothing at request time: every failure is a JSON answer.
    """

    def __init__(self, receiver: Receiver) -> None:
        falcon = require("falcon", "falcon")
        from falcon.asgi import Request as ASGIRequest

        self.receiver = receiver
        responder = _Responder(receiver, ASGIRequest)
        for method in falcon.constants.COMBINED_METHODS:
            if method != "WEBSOCKET":  # the ASGI handshake responder, not an HTTP method
                setattr(self, "on_" + method.lower(), responder)


class _Responder:
    # One callable object for both kinds of app. Falcon requires a coroutine function under ASGI
    # and refuses one under WSGI, but checks only Python functions: an object passes both
    # checks, is called with (req, resp), and its result is awaited under ASGI only.

    __slots__ = ("asgi_request", "receiver")

    def __init__(self, receiver: Receiver, asgi_request: type[Any]) -> None:
        self.receiver = receiver
        self.asgi_request = asgi_request

    def __call__(self, req: Any, resp: Any, **params: Any) -> Awaitable[None] | None:
        if isinstance(req, self.asgi_request):
            return self._respond_async(req, resp)
        _write(resp, wsgi_outcome(self.receiver, req.env))
        return None

    async def _respond_async(self, req: falcon.asgi.Request, resp: Any) -> None:
        receiver = self.receiver
        cap = receiver.max_body_bytes

        async def read(length: int | None) -> bytes:
            # req.stream only after the precheck: it parses Content-Length, raising on a bad one.
            return await read_capped_async(req.stream.read, cap, length)

        # Falcon's own view of the headers: it has read the scope's (a repeated header's values
        # joined with ","), and the ASGI spec lets a server hand them out only once.
        headers = req.headers
        content_length = headers.get("content-length")
        client = asgi_client(req.scope)
        outcome = await serve_async(receiver, req.method, headers, content_length, read, client)
        _write(resp, outcome)
        if closes_connection(outcome):  # an ASGI answer may say so; a WSGI one may not
            resp.set_header("Connection", "close")


def _write(resp: Any, outcome: Outcome) -> None:
    resp.status = outcome.status
    resp.data = outcome.body
    for name, value in outcome.headers:
        resp.set_header(name, value)

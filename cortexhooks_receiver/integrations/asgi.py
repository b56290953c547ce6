"""ASGI: an application that receives CortexBuild webhooks, and a middleware for any ASGI app.

Serve the application on its own under uvicorn or hypercorn, or mount it in a framework that
mounts ASGI apps::

    from cortexhooks_receiver.integrations.asgi import WebhookApp
    app = WebhookApp(receiver)

Every HTTP request it receives is a webhook request unless ``path`` is given (then other paths
get a 404 JSON answer). Lifespan events are acknowledged, so the app can be served directly.

Or put the middleware in front of the ASGI app you already have (Starlette, FastAPI, Quart,
Litestar, Django's ASGI handler...): the webhook path is answered by the receiver, every other
scope (other paths, ``lifespan``, ``websocket``) goes to your app untouched::

    from cortexhooks_receiver.integrations.asgi import WebhookMiddleware
    app = WebhookMiddleware(app, receiver, path="/webhooks/cortexbuild")

Both read the raw body from the ``receive`` channel (never more than ``max_body_bytes + 1``
bytes) and await :meth:`Receiver.handle_async` with the peer address (``scope["client"]``):
async handlers are awaited, sync handlers run in a worker thread.
"""

from __future__ import annotations

import asyncio
from typing import Final

from cortexhooks_receiver._headers import HeaderView
from cortexhooks_receiver._http import NOT_FOUND_BODY
from cortexhooks_receiver._types import ASGIApp, Receive, Scope, Send
from cortexhooks_receiver.errors import BodyAlreadyConsumed, IncompleteBody
from cortexhooks_receiver.receiver import DEFAULT_PATH, Outcome, Receiver

from ._common import asgi_client, closes_connection, serve_async, short_body

__all__ = [
    "DEFAULT_READ_TIMEOUT",
    "WebhookApp",
    "WebhookMiddleware",
    "asgi_headers",
    "read_body",
    "send_outcome",
    "webhook_outcome",
]

DEFAULT_READ_TIMEOUT: Final = 30.0
"""Seconds to wait for the body: a drained ``receive`` channel must never hang the request."""

_encoded: dict[tuple[tuple[tuple[str, str], ...], int], list[tuple[bytes, bytes]]] = {}


def asgi_headers(scope: Scope) -> HeaderView:
    """Return the request headers of ``scope`` as a dict of lower-case names to values.

    A name sent several times keeps every value, joined with ``", "`` (the signature format check
    then refuses it). Never raises.
    """
    result = HeaderView()
    for raw_name, raw_value in scope.get("headers", ()):
        name = raw_name.decode("latin-1").lower()
        value = raw_value.decode("latin-1")
        previous = result.get(name)
        result[name] = value if previous is None else previous + ", " + value
    return result


async def read_body(
    receive: Receive, cap: int, length: int | None, timeout: float = DEFAULT_READ_TIMEOUT
) -> bytes:
    """Read an ASGI request body: at most ``cap + 1`` bytes, then stop reading.

    Raises:
        IncompleteBody: the client disconnected, or the body ended part way through the declared
            ``length``.
        BodyAlreadyConsumed: the body did not arrive within ``timeout`` seconds (a middleware
            drained the channel, or the client stalled), or nothing of a declared ``length``
            came.
    """
    parts: list[bytes] = []
    got = 0
    try:
        async with asyncio.timeout(timeout):
            while True:
                message = await receive()
                if message["type"] != "http.request":  # http.disconnect: the client went away
                    raise IncompleteBody(
                        "The client disconnected before the whole request body arrived."
                    )
                chunk: bytes = message.get("body", b"")
                if chunk:
                    if not parts and not message.get("more_body", False):
                        if len(chunk) > cap:
                            return chunk[: cap + 1]
                        if length is not None and len(chunk) < length:
                            raise IncompleteBody
                        return chunk
                    parts.append(chunk)
                    got += len(chunk)
                    if got > cap:
                        break
                if not message.get("more_body", False):
                    break
    except TimeoutError:
        raise BodyAlreadyConsumed(
            "The request body did not arrive in time (drained by a middleware, or a stalled "
            "client)."
        ) from None
    body = b"".join(parts)
    if length is not None and len(body) < min(length, cap + 1):
        raise short_body(len(body))
    return body[: cap + 1]


async def send_outcome(send: Send, outcome: Outcome) -> None:
    """Send ``outcome`` (status, headers with ``Content-Length``, body) on an ASGI channel.

    A 413 also says ``Connection: close`` (see :func:`._common.closes_connection`).
    """
    key = (outcome.headers, len(outcome.body))
    headers = _encoded.get(key)
    if headers is None:
        headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in outcome.headers]
        headers.append((b"content-length", str(len(outcome.body)).encode()))
        if len(_encoded) < 256:
            _encoded[key] = headers
    if closes_connection(outcome):
        headers = [*headers, (b"connection", b"close")]
    await send({"type": "http.response.start", "status": outcome.status, "headers": headers})
    await send({"type": "http.response.body", "body": outcome.body})


async def webhook_outcome(
    receiver: Receiver, scope: Scope, receive: Receive, timeout: float = DEFAULT_READ_TIMEOUT
) -> Outcome:
    """Read the webhook request of ``scope``/``receive`` and return the receiver's answer.

    Never raises for any request.
    """
    headers = asgi_headers(scope)

    async def read(length: int | None) -> bytes:
        return await read_body(receive, receiver.max_body_bytes, length, timeout)

    client = asgi_client(scope)
    return await serve_async(
        receiver, scope["method"], headers, headers.get("content-length"), read, client
    )


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


class WebhookApp:
    """An ASGI application that answers every HTTP request with the receiver's :class:`Outcome`.

    Args:
        receiver: the configured :class:`~cortexhooks_receiver.Receiver`.
        path: when given, only this path is served; other paths get 404.
        read_timeout: seconds to wait for the request body before answering 500
            ``body_already_consumed`` (never a hang).

    Raises:
        Nothing at request time: every failure is a JSON answer.
    """

    __slots__ = ("path", "read_timeout", "receiver")

    def __init__(
        self,
        receiver: Receiver,
        *,
        path: str | None = None,
        read_timeout: float = DEFAULT_READ_TIMEOUT,
    ) -> None:
        self.receiver = receiver
        self.path = path
        self.read_timeout = read_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI connection scope (``http``; ``lifespan`` is acknowledged)."""
        kind = scope["type"]
        if kind == "lifespan":
            await _lifespan(receive, send)
            return
        if kind != "http":
            return
        if self.path is not None and scope.get("path") != self.path:
            await send(
                {
                    "type": "http.response.start",
                    "status": 404,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(NOT_FOUND_BODY)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": NOT_FOUND_BODY})
            return
        outcome = await webhook_outcome(self.receiver, scope, receive, self.read_timeout)
        await send_outcome(send, outcome)


class WebhookMiddleware:
    """Pure ASGI middleware: the receiver answers ``path``, every other scope goes to ``app``.

    HTTP requests to other paths, ``lifespan`` and ``websocket`` scopes reach ``app`` exactly as
    they came (the same ``receive`` and ``send``). It is not a ``BaseHTTPMiddleware``: no request
    object, no body buffering, no task per request.

    Args:
        app: the wrapped ASGI application.
        receiver: the configured :class:`~cortexhooks_receiver.Receiver`.
        path: the exact request path to serve (default ``/webhooks/cortexbuild``).
        read_timeout: seconds to wait for the request body before answering 500
            ``body_already_consumed`` (never a hang).

    Raises:
        Nothing at request time for the webhook path: every failure is a JSON answer.
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

"""aiohttp integration: ``setup(app, receiver)`` adds the webhook route to an aiohttp app.

::

    from aiohttp import web
    from cortexhooks_receiver.integrations.aiohttp import setup

    app = web.Application()
    setup(app, receiver)            # POST /webhooks/cortexbuild
    web.run_app(app)

The route accepts every method (the core answers non-POST with its JSON 405). Its handler reads
the raw body from ``request.content`` in chunks, never more than ``max_body_bytes + 1`` bytes
(aiohttp's own ``request.read()`` has no such cap: it reads up to ``client_max_size`` and answers
an HTML 413 beyond), awaits :meth:`Receiver.handle_async` with the peer address
(``request.remote``) and answers the :class:`~cortexhooks_receiver.receiver.Outcome`. Async
handlers are awaited on the loop; sync handlers run in a worker thread.

Importing this module does not import aiohttp: ``setup`` imports it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from cortexhooks_receiver.receiver import DEFAULT_PATH, Outcome, Receiver

from ._common import lowercase_headers, read_capped_async, require, serve_async

if TYPE_CHECKING:
    from aiohttp import web

__all__ = ["setup", "webhook_handler"]


def setup(
    app: web.Application,
    receiver: Receiver,
    path: str = DEFAULT_PATH,
    *,
    name: str = "cortexhooks_webhook",
) -> web.AbstractRoute:
    """Add a route serving webhooks at ``path`` (every method) to ``app``; return the route.

    Raises:
        ImportError: aiohttp is not installed (``pip install 'cortexhooks-receiver[aiohttp]'``).
        Nothing at request time: every failure is a JSON answer.
    """
    return app.router.add_route("*", path, webhook_handler(receiver), name=name)


def webhook_handler(receiver: Receiver) -> Callable[[web.Request], Awaitable[web.Response]]:
    """Return the aiohttp request handler that :func:`setup` routes (for your own routing).

    Raises:
        ImportError: aiohttp is not installed (``pip install 'cortexhooks-receiver[aiohttp]'``).
    """
    require("aiohttp.web", "aiohttp")
    from aiohttp import web

    async def webhook(request: web.Request) -> web.Response:
        outcome = await _outcome(receiver, request)
        return web.Response(body=outcome.body, status=outcome.status, headers=outcome.headers)

    return webhook


async def _outcome(receiver: Receiver, request: web.Request) -> Outcome:
    cap = receiver.max_body_bytes
    headers = lowercase_headers(request.headers)

    async def read(length: int | None) -> bytes:
        encoding = headers.get("content-encoding", "identity").strip().lower()
        if encoding != "identity":
            # aiohttp would decompress it while we read (and fail on a bad stream); the core
            # refuses any Content-Encoding with 415, whatever the body.
            return b""
        return await read_capped_async(request.content.read, cap, length)

    content_length = headers.get("content-length")
    return await serve_async(
        receiver, request.method, headers, content_length, read, request.remote
    )

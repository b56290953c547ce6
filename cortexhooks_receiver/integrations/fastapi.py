"""FastAPI integration: an ``APIRouter`` for the webhook path, and a ``verified_event`` dependency.

::

    from fastapi import FastAPI
    from cortexhooks_receiver.integrations.fastapi import webhook_router

    app = FastAPI()
    app.include_router(webhook_router(receiver))

The webhook route never declares a pydantic body parameter (FastAPI would parse the JSON and
answer 422 before the signature is checked, and the raw bytes would be gone): it reads the raw
body from the ASGI channel and awaits :meth:`Receiver.handle_async`. Async handlers are awaited,
sync handlers run in a worker thread, never blocking the event loop.

``verified_event(receiver)`` is for users who write their own route. It **verifies and parses
only**: every check of the pipeline up to deduplication (method, size, media type, signature,
timestamp, payload, body age, delivery id) and returns the typed event. It does not deduplicate
and does not run the receiver's handlers: the route's own code is the handler, and exactly-once
processing is then the route's job (use ``webhook_router`` to get dedup for free).

Importing this module does not import FastAPI: it is imported when ``webhook_router`` or
``verified_event`` is called.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from cortexhooks_receiver.errors import BodyAlreadyConsumed, IncompleteBody, WebhookError
from cortexhooks_receiver.events import AnyEvent
from cortexhooks_receiver.receiver import DEFAULT_PATH, Receiver

from ._common import precheck, read_chunks_capped, require
from .asgi import WebhookApp

if TYPE_CHECKING:
    from fastapi import APIRouter, HTTPException, Request

__all__ = ["verified_event", "webhook_router"]


def webhook_router(
    receiver: Receiver, path: str = DEFAULT_PATH, *, name: str = "cortexhooks_webhook"
) -> APIRouter:
    """Return an :class:`~fastapi.APIRouter` with one webhook route at ``path``.

    The route accepts every method (the core answers non-POST with a JSON 405) and is left out of
    the OpenAPI schema.

    Raises:
        ImportError: FastAPI is not installed (``pip install 'cortexhooks-receiver[fastapi]'``).
        Nothing at request time: every failure is a JSON answer.
    """
    require("fastapi", "fastapi")
    from fastapi import APIRouter

    router = APIRouter()
    router.add_route(path, WebhookApp(receiver), name=name, include_in_schema=False)  # type: ignore[arg-type]
    return router


def verified_event(receiver: Receiver) -> Callable[[Request], Awaitable[AnyEvent]]:
    """Return a FastAPI dependency that verifies the request and returns its typed event.

    Use it as ``event: AnyEvent = Depends(verified_event(receiver))``. It runs every check up to
    dedup (see the module docs) and neither deduplicates nor runs handlers.

    Raises:
        ImportError: FastAPI is not installed (``pip install 'cortexhooks-receiver[fastapi]'``).
        HTTPException: (from the dependency, at request time) with the refusal's status,
            ``detail={"error": code, "message": ...}`` and the refusal's headers (e.g. ``Allow``
            on 405).
    """
    require("fastapi", "fastapi")
    from fastapi import Request

    cap = receiver.max_body_bytes

    async def dependency(request: Request) -> AnyEvent:
        method = request.method
        refused, length = precheck(method, request.headers.get("content-length"), receiver)
        if refused is not None:
            raise _http_error(refused)
        body = b""
        if method == "POST":
            try:
                body = await _read_request(request, cap, length)
            except (BodyAlreadyConsumed, IncompleteBody) as exc:
                raise _http_error(exc) from None
        try:
            return await receiver.verify_async(body, request.headers, method)
        except WebhookError as exc:
            raise _http_error(exc) from None

    # FastAPI reads the parameter types from the annotations; under ``from __future__ import
    # annotations`` they are strings naming ``Request``, which is not a module global here.
    dependency.__annotations__ = {"request": Request, "return": AnyEvent}
    return dependency


async def _read_request(request: Request, cap: int, length: int | None) -> bytes:
    try:
        return await read_chunks_capped(request.stream(), cap, length)
    except RuntimeError:  # starlette: "Stream consumed"
        raise BodyAlreadyConsumed from None


def _http_error(error: WebhookError) -> HTTPException:
    from fastapi import HTTPException

    return HTTPException(
        error.status,
        detail={"error": error.code, "message": error.message},
        headers=dict(error.headers) or None,
    )

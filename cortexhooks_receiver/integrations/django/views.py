"""The webhook views: ``WebhookView`` (sync, WSGI projects) and ``AsyncWebhookView`` (ASGI).

A Django view is either sync or async. ``WebhookView`` is the default (``urls.py``); under ASGI
Django would run it in a thread that serialises every sync view, so ASGI projects should route
``AsyncWebhookView`` (``CORTEXHOOKS["ASYNC"] = True`` makes ``urls.py`` do so): it awaits
:meth:`Receiver.handle_async`, which awaits async handlers and runs sync ones in worker threads.

Both are ``csrf_exempt`` (the sender authenticates by signature, not by cookie), accept every
method (the core answers non-POST with its JSON 405), and read the raw body themselves: never
``request.POST`` or ``request.body`` (which would refuse bodies over
``DATA_UPLOAD_MAX_MEMORY_SIZE`` with an HTML 400).

When the project's receiver cannot be built (the app is not installed, ``CORTEXHOOKS`` is not a
dict, no secret: what the system checks report), the views answer 500
``receiver_misconfigured`` and log what to fix; the sender retries, so no delivery is lost once
it is fixed.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt

from cortexhooks_receiver._headers import Headers
from cortexhooks_receiver.errors import (
    BodyAlreadyConsumed,
    ConfigurationError,
    IncompleteBody,
    ReceiverMisconfigured,
    WebhookError,
)
from cortexhooks_receiver.integrations._common import (
    note_wsgi_server,
    precheck,
    read_capped,
    wsgi_client,
)
from cortexhooks_receiver.integrations.asgi import asgi_headers
from cortexhooks_receiver.receiver import Outcome, Receiver, refusal_outcome

from .conf import get_receiver

__all__ = ["AsyncWebhookView", "ReceiverMisconfigured", "WebhookView"]

logger = logging.getLogger("cortexhooks_receiver.integrations.django")


def _read(request: HttpRequest, method: str, length: int | None, cap: int) -> bytes:
    if method != "POST" or length == 0:
        return b""
    meta = request.META
    if length is None and meta.get("wsgi.input_terminated") and "wsgi.input" in meta:
        # Chunked under a WSGI server (gunicorn): Django's own stream would read nothing.
        return read_capped(meta["wsgi.input"].read, cap, None)
    return read_capped(request.read, cap, length)


def _response(outcome: Outcome) -> HttpResponse:
    return HttpResponse(outcome.body, status=outcome.status, headers=dict(outcome.headers))


class _Base(View):  # type: ignore[misc]
    receiver: Receiver | None = None
    """A Receiver to use instead of the project's (``WebhookView.as_view(receiver=...)``)."""

    def _receiver(self) -> Receiver:
        return self.receiver if self.receiver is not None else get_receiver()

    def _prepare(
        self, request: HttpRequest
    ) -> tuple[Receiver, bytes, WebhookError | None] | Outcome:
        # The receiver and the raw body, or the refusal to answer without running the pipeline
        # (through the receiver when there is one: refuse or refuse_async, by the view's kind).
        try:
            receiver = self._receiver()
        except (ImproperlyConfigured, ConfigurationError) as exc:
            logger.error("The CortexBuild webhook endpoint is misconfigured: %s", exc)
            return refusal_outcome(ReceiverMisconfigured())
        method = request.method or "GET"
        meta = request.META
        refused, length = precheck(method, meta.get("CONTENT_LENGTH"), receiver)
        if refused is not None:
            return receiver, b"", refused
        try:
            return receiver, _read(request, method, length, receiver.max_body_bytes), None
        except (BodyAlreadyConsumed, IncompleteBody) as exc:
            return receiver, b"", exc


@method_decorator(csrf_exempt, name="dispatch")
class WebhookView(_Base):
    """Sync class-based view answering CortexBuild webhooks with the project's Receiver.

    A project receiver that cannot be built (no usable secret, reported at start-up by the system
    check ``cortexhooks.E001``) is not raised: the request is answered with 500
    ``receiver_misconfigured`` (see the module docs).
    """

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        """Handle any method: read the raw body, run the Receiver, answer its Outcome."""
        prepared = self._prepare(request)
        if isinstance(prepared, Outcome):
            return _response(prepared)
        receiver, body, refused = prepared
        meta = request.META
        note_wsgi_server(receiver, meta)
        client = wsgi_client(meta)
        if refused is not None:
            return _response(receiver.refuse(refused, client=client))
        return _response(receiver.handle(body, meta, request.method or "GET", client=client))


@method_decorator(csrf_exempt, name="dispatch")
class AsyncWebhookView(_Base):
    """Async class-based view for ASGI projects; handlers never block the event loop.

    A project receiver that cannot be built is answered as by :class:`WebhookView`.
    """

    async def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        """Handle a POST (all methods go through :meth:`dispatch`)."""
        return await self.dispatch(request, *args, **kwargs)

    async def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        """Handle any method: read the raw body, await the Receiver, answer its Outcome."""
        prepared = self._prepare(request)
        if isinstance(prepared, Outcome):
            return _response(prepared)
        receiver, body, refused = prepared
        meta = request.META
        client = wsgi_client(meta)  # Django's ASGI handler sets REMOTE_ADDR from scope["client"]
        if refused is not None:
            return _response(await receiver.refuse_async(refused, client=client))
        outcome = await receiver.handle_async(
            body, _headers(request), request.method or "GET", client=client
        )
        return _response(outcome)


def _headers(request: HttpRequest) -> Headers:
    # Under ASGI, Django builds META from the raw headers by upper-casing them and turning "-"
    # into "_", so "X_CortexBuild_Signature" (which uvicorn passes on) would land on the same key
    # as the real header. The scope's raw headers keep them apart.
    scope = getattr(request, "scope", None)
    if isinstance(scope, dict) and "headers" in scope:
        return asgi_headers(scope)
    meta: Headers = request.META
    return meta

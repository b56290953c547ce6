"""WSGI: an application that receives CortexBuild webhooks, and a middleware for any WSGI app.

Serve the application on its own, or mount it at the webhook path (``DispatcherMiddleware``, a
Pyramid/Bottle mount)::

    from cortexhooks_receiver.integrations.wsgi import WebhookApp
    application = WebhookApp(receiver)

or put the middleware in front of the WSGI app you already have (Flask, Django, Bottle, Pyramid,
Falcon...): the webhook path is answered by the receiver, every other request goes to your app
untouched::

    from cortexhooks_receiver.integrations.wsgi import WebhookMiddleware
    application = WebhookMiddleware(application, receiver, path="/webhooks/cortexbuild")

Both read the raw body from ``wsgi.input`` (never more than ``max_body_bytes + 1`` bytes), call
:meth:`Receiver.handle` with the peer address (``REMOTE_ADDR``) and write the
:class:`~cortexhooks_receiver.receiver.Outcome` back.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from cortexhooks_receiver._http import NOT_FOUND_BODY, status_line
from cortexhooks_receiver.receiver import DEFAULT_PATH, Outcome, Receiver

from ._common import note_wsgi_server, read_capped, serve, wsgi_client

if TYPE_CHECKING:
    from wsgiref.types import StartResponse, WSGIApplication

__all__ = ["WebhookApp", "WebhookMiddleware", "wsgi_outcome"]


def wsgi_outcome(receiver: Receiver, environ: dict[str, Any]) -> Outcome:
    """Read the webhook request in ``environ`` and return the receiver's answer.

    A body without ``Content-Length`` (chunked) is read only when the server marks the input as
    terminated (``wsgi.input_terminated``, set by gunicorn, Werkzeug and others); otherwise
    reading could block forever, so it is treated as empty (and then refused by the core).

    Never raises for any request.
    """
    note_wsgi_server(receiver, environ)

    def read(length: int | None) -> bytes:
        if length is None and not environ.get("wsgi.input_terminated"):
            return b""
        return read_capped(environ["wsgi.input"].read, receiver.max_body_bytes, length)

    method = environ.get("REQUEST_METHOD", "GET")
    client = wsgi_client(environ)
    return serve(receiver, method, environ, environ.get("CONTENT_LENGTH"), read, client)


def _respond(start_response: StartResponse, status: int, headers: Any, body: bytes) -> list[bytes]:
    start_response(status_line(status), [*headers, ("Content-Length", str(len(body)))])
    return [body]


class WebhookApp:
    """A WSGI application that answers every request with the receiver's :class:`Outcome`.

    Args:
        receiver: the configured :class:`~cortexhooks_receiver.Receiver`.
        path: when given, only this ``PATH_INFO`` is served; other paths get 404.

    Raises:
        Nothing at request time: every failure is a JSON answer.
    """

    __slots__ = ("path", "receiver")

    def __init__(self, receiver: Receiver, *, path: str | None = None) -> None:
        self.receiver = receiver
        self.path = path

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        """Handle one WSGI request."""
        if self.path is not None and environ.get("PATH_INFO", "") != self.path:
            return _respond(
                start_response, 404, [("Content-Type", "application/json")], NOT_FOUND_BODY
            )
        outcome = wsgi_outcome(self.receiver, environ)
        return _respond(start_response, outcome.status, outcome.headers, outcome.body)

    def outcome(self, environ: dict[str, Any]) -> Outcome:
        """Read the request in ``environ`` and return the receiver's answer. Never raises."""
        return wsgi_outcome(self.receiver, environ)


class WebhookMiddleware:
    """WSGI middleware: the receiver answers ``path``, every other request goes to ``app``.

    Requests to other paths reach ``app`` exactly as they came (nothing is read, nothing is
    added to the environ), and so do their answers.

    Args:
        app: the wrapped WSGI application.
        receiver: the configured :class:`~cortexhooks_receiver.Receiver`.
        path: the exact ``PATH_INFO`` to serve (default ``/webhooks/cortexbuild``).

    Raises:
        Nothing at request time for the webhook path: every failure is a JSON answer.
    """

    __slots__ = ("app", "path", "receiver")

    def __init__(
        self, app: WSGIApplication, receiver: Receiver, *, path: str = DEFAULT_PATH
    ) -> None:
        self.app = app
        self.receiver = receiver
        self.path = path

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        """Serve the webhook path, or pass the request on to the wrapped app."""
        if environ.get("PATH_INFO") != self.path:
            return self.app(environ, start_response)
        outcome = wsgi_outcome(self.receiver, environ)
        return _respond(start_response, outcome.status, outcome.headers, outcome.body)

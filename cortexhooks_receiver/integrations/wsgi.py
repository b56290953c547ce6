"""A plain WSGI application that receives CortexBuild webhooks, for any WSGI framework or server.

Mount it at the webhook path (``DispatcherMiddleware``, a Pyramid/Bottle/Falcon mount, or as the
whole app under gunicorn)::

    from cortexhooks_receiver.integrations.wsgi import WebhookApp
    application = WebhookApp(receiver)

Every request it receives is a webhook request: it does not look at the path unless ``path`` is
given (then other paths get a 404 JSON answer).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from cortexhooks_receiver._http import NOT_FOUND_BODY, status_line
from cortexhooks_receiver.errors import BodyAlreadyConsumed
from cortexhooks_receiver.receiver import Outcome, Receiver

from ._common import note_wsgi_server, precheck, read_capped

__all__ = ["WebhookApp"]

StartResponse = Callable[..., Any]


class WebhookApp:
    """A WSGI application that answers every request with the receiver's :class:`Outcome`.

    Args:
        receiver: the configured :class:`~cortexhooks_receiver.Receiver`.
        path: when given, only this ``PATH_INFO`` is served; other paths get 404.

    A body without ``Content-Length`` (chunked) is read only when the server marks the input as
    terminated (``wsgi.input_terminated``, set by gunicorn, Werkzeug and others); otherwise
    reading could block forever, so it is treated as empty (and then refused by the core).

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
            start_response(
                status_line(404),
                [
                    ("Content-Type", "application/json"),
                    ("Content-Length", str(len(NOT_FOUND_BODY))),
                ],
            )
            return [NOT_FOUND_BODY]
        outcome = self.outcome(environ)
        headers = [*outcome.headers, ("Content-Length", str(len(outcome.body)))]
        start_response(status_line(outcome.status), headers)
        return [outcome.body]

    def outcome(self, environ: dict[str, Any]) -> Outcome:
        """Read the request in ``environ`` and return the receiver's answer. Never raises."""
        receiver = self.receiver
        note_wsgi_server(receiver, environ)
        method = environ.get("REQUEST_METHOD", "GET")
        refused, length = precheck(method, environ.get("CONTENT_LENGTH"), receiver)
        if refused is not None:
            return receiver.refuse(refused)
        body = b""
        if method == "POST" and (
            length or (length is None and environ.get("wsgi.input_terminated"))
        ):
            stream = environ["wsgi.input"]
            try:
                body = read_capped(stream.read, receiver.max_body_bytes, length)
            except BodyAlreadyConsumed as exc:
                return receiver.refuse(exc)
        return receiver.handle(body, environ, method)

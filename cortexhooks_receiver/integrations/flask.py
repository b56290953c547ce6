"""Flask integration: the ``CortexHooks`` extension (a Blueprint view at the webhook URL).

::

    from flask import Flask
    from cortexhooks_receiver.integrations.flask import CortexHooks

    app = Flask(__name__)
    app.config["CORTEXHOOKS_SECRET"] = "whsec_..."
    hooks = CortexHooks(app)

    @hooks.on("invoice.paid")
    def paid(event): ...

Without a ``receiver`` argument the extension builds one from the app's config:
``CORTEXHOOKS_SECRET`` (or ``CORTEXHOOKS_SECRETS``, a list, during a rotation; the
``CORTEXBUILD_WEBHOOK_SECRET`` environment variable is the last fallback),
``CORTEXHOOKS_SECRET_FOR`` (a lookup by webhook id, or its ``"module:function"`` name) and
``CORTEXHOOKS_SECRET_FOR_TTL``, ``CORTEXHOOKS_STORE``, ``CORTEXHOOKS_TOLERANCE``,
``CORTEXHOOKS_RETENTION``, ``CORTEXHOOKS_MAX_BODY_BYTES``, ``CORTEXHOOKS_RATE_LIMIT``,
``CORTEXHOOKS_RATE_LIMIT_PER_CLIENT``, ``CORTEXHOOKS_RATE_LIMIT_STORE``,
``CORTEXHOOKS_TRUSTED_PROXIES``, ``CORTEXHOOKS_LEASE`` and ``CORTEXHOOKS_URL``: the names of
Django's ``CORTEXHOOKS`` dict, with the ``CORTEXHOOKS_`` prefix.

The view reads the raw body itself (``request.get_data(cache=True)`` after checking
``Content-Length``; a chunked body is read from ``request.stream`` up to ``max_body_bytes + 1``
bytes), so ``request.get_json()`` stays usable elsewhere, and passes the peer address
(``REMOTE_ADDR``) to the receiver. Flask-WTF's ``CSRFProtect`` is exempted for the webhook
blueprint automatically, whichever of the two is initialised first.

Importing this module does not import Flask: it is imported when a ``CortexHooks`` is created.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from cortexhooks_receiver.receiver import Outcome, Receiver

from ._common import note_wsgi_server, read_capped, serve, short_body, wsgi_client
from ._extension import BLUEPRINT_NAME, EXTENSION_KEY, AppExtension

if TYPE_CHECKING:
    from flask import Blueprint, Flask, Request, Response

__all__ = ["EXTENSION_KEY", "CortexHooks", "flask_outcome"]


class CortexHooks(AppExtension):
    """The Flask extension: serves CortexBuild webhooks at ``url`` through a Blueprint.

    Args:
        app: the Flask app; or call :meth:`init_app` later (application factories).
        receiver: a configured :class:`~cortexhooks_receiver.Receiver`; when ``None`` one is built
            from the app's ``CORTEXHOOKS_*`` config at :meth:`init_app`.
        url: the webhook URL; default ``CORTEXHOOKS_URL`` from the config, else
            ``/webhooks/cortexbuild``.

    Raises:
        ImportError: Flask is not installed (``pip install 'cortexhooks-receiver[flask]'``).
        ConfigurationError: (from :meth:`init_app`) no secret configured, or a bad setting.
    """

    framework = "flask"

    def _view(self, receiver: Receiver) -> Callable[[], Response]:
        from flask import Response, request

        def webhook() -> Response:
            outcome = flask_outcome(receiver, request)
            return Response(outcome.body, outcome.status, list(outcome.headers))

        return webhook

    def _register(self, app: Flask, receiver: Receiver, url: str) -> Blueprint:
        blueprint: Blueprint = super()._register(app, receiver, url)
        csrf = app.extensions.get("csrf")
        if csrf is not None:
            csrf.exempt(blueprint)
        else:
            # Flask-WTF initialised later: its check runs after this hook, so exempting here
            # (once, on the first request) is still in time.
            app.before_request(_exempt_from_csrf_later)
        return blueprint


def _exempt_from_csrf_later() -> None:
    from flask import current_app

    app = current_app
    csrf = app.extensions.get("csrf")
    blueprint = app.blueprints.get(BLUEPRINT_NAME)
    if csrf is not None and blueprint not in getattr(csrf, "_exempt_blueprints", ()):
        csrf.exempt(blueprint)


def flask_outcome(receiver: Receiver, request: Request) -> Outcome:
    """Read the webhook request of a Flask (Werkzeug) ``request`` and return the receiver's answer.

    Shared by the extension's view and the Google Cloud Functions adapter (whose requests are
    Flask's). Never raises for any request.
    """
    environ = request.environ
    note_wsgi_server(receiver, environ)
    cap = receiver.max_body_bytes

    def read(length: int | None) -> bytes:
        if length is not None:
            body = request.get_data(cache=True)
            if len(body) < length:
                raise short_body(len(body))
            return body
        body = read_capped(request.stream.read, cap, None)
        # A chunked body already read (and cached) by request.get_json() is still usable.
        return body or request.get_data(cache=True)

    method = request.method
    client = wsgi_client(environ)
    return serve(receiver, method, environ, environ.get("CONTENT_LENGTH"), read, client)

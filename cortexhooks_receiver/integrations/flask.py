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
``CORTEXHOOKS_STORE``, ``CORTEXHOOKS_TOLERANCE``, ``CORTEXHOOKS_RETENTION``,
``CORTEXHOOKS_MAX_BODY_BYTES``, ``CORTEXHOOKS_LEASE`` and ``CORTEXHOOKS_URL``: the names of
Django's ``CORTEXHOOKS`` dict, with the ``CORTEXHOOKS_`` prefix.

The view reads the raw body itself (``request.get_data(cache=True)`` after checking
``Content-Length``; a chunked body is read from ``request.stream`` up to ``max_body_bytes + 1``
bytes), so ``request.get_json()`` stays usable elsewhere. Flask-WTF's ``CSRFProtect`` is
exempted for the webhook blueprint automatically, whichever of the two is initialised first.

Importing this module does not import Flask: it is imported when a ``CortexHooks`` is created.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from cortexhooks_receiver._config import RECEIVER_SETTINGS, SECRET_ENV_VAR
from cortexhooks_receiver.errors import BodyAlreadyConsumed, ConfigurationError
from cortexhooks_receiver.receiver import DEFAULT_PATH, Outcome, Receiver
from cortexhooks_receiver.routing import Router, default_router

from ._common import note_wsgi_server, precheck, read_capped, require

if TYPE_CHECKING:
    from flask import Blueprint, Flask, Request, Response

__all__ = ["EXTENSION_KEY", "CortexHooks"]

EXTENSION_KEY = "cortexhooks"
BLUEPRINT_NAME = "cortexhooks"
_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
_CONFIG_PREFIX = "CORTEXHOOKS_"

_F = TypeVar("_F", bound=Callable[..., Any])


class CortexHooks:
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

    def __init__(
        self, app: Flask | None = None, receiver: Receiver | None = None, url: str | None = None
    ) -> None:
        require("flask", "flask")
        self.receiver: Receiver | None = receiver
        self.url = url
        self.router: Router = receiver.router if receiver is not None else _new_router()
        self.blueprint: Blueprint | None = None
        if app is not None:
            self.init_app(app)

    def on(self, *names: str | Sequence[str], allow_unknown: bool = False) -> Callable[[_F], _F]:
        """Register the decorated function as a handler of the named events (see ``Router.on``).

        Raises:
            ConfigurationError: an unknown event name, unless ``allow_unknown=True``.
        """
        return self.router.on(*names, allow_unknown=allow_unknown)

    def init_app(self, app: Flask) -> None:
        """Register the webhook Blueprint on ``app`` and store the extension in ``app.extensions``.

        Raises:
            ImportError: Flask is not installed.
            ConfigurationError: no receiver was given and the config has no usable secret, or a
                ``CORTEXHOOKS_*`` value is invalid.
        """
        require("flask", "flask")
        from flask import Blueprint

        receiver = self.receiver
        if receiver is None:
            receiver = self.receiver = _receiver_from_config(app.config, self.router)
        url = self.url or app.config.get("CORTEXHOOKS_URL") or DEFAULT_PATH
        blueprint = Blueprint(BLUEPRINT_NAME, __name__)
        view = _make_view(receiver)
        blueprint.add_url_rule(
            url, "webhook", view, methods=_METHODS, provide_automatic_options=False
        )
        app.register_blueprint(blueprint)
        self.blueprint = blueprint
        app.extensions[EXTENSION_KEY] = self
        csrf = app.extensions.get("csrf")
        if csrf is not None:
            csrf.exempt(blueprint)
        else:
            # Flask-WTF initialised later: its check runs after this hook, so exempting here
            # (once, on the first request) is still in time.
            app.before_request(_exempt_from_csrf_later)


def _exempt_from_csrf_later() -> None:
    from flask import current_app

    app = current_app
    csrf = app.extensions.get("csrf")
    blueprint = app.blueprints.get(BLUEPRINT_NAME)
    if csrf is not None and blueprint not in getattr(csrf, "_exempt_blueprints", ()):
        csrf.exempt(blueprint)


def _new_router() -> Router:
    router = Router()
    router.include(default_router)
    return router


def _receiver_from_config(config: Any, router: Router | None = None) -> Receiver:
    """Build a :class:`Receiver` from a Flask config mapping of ``CORTEXHOOKS_*`` keys.

    Raises:
        ConfigurationError: no secret (and no ``CORTEXBUILD_WEBHOOK_SECRET``), or a bad value.
    """
    kwargs: dict[str, Any] = {}
    for name, arg in RECEIVER_SETTINGS.items():
        value = config.get(_CONFIG_PREFIX + name)
        if value is not None:
            kwargs[arg] = value
    if "secret" not in kwargs and "secrets" not in kwargs and SECRET_ENV_VAR not in os.environ:
        # Said in Flask's terms: the Receiver's own message names its keyword argument.
        raise ConfigurationError(
            'No webhook secret: set app.config["CORTEXHOOKS_SECRET"] = "whsec_..." (or a list '
            'in app.config["CORTEXHOOKS_SECRETS"] during a rotation), or the '
            f"{SECRET_ENV_VAR} environment variable."
        )
    return Receiver(router=router or _new_router(), **kwargs)


def _make_view(receiver: Receiver) -> Callable[[], Response]:
    from flask import Response, request

    cap = receiver.max_body_bytes

    def webhook() -> Response:
        environ = request.environ
        note_wsgi_server(receiver, environ)
        method = request.method
        refused, length = precheck(method, environ.get("CONTENT_LENGTH"), receiver)
        outcome: Outcome
        if refused is not None:
            outcome = receiver.refuse(refused)
        else:
            try:
                body = _read_body(request, method, length, cap)
            except BodyAlreadyConsumed as exc:
                outcome = receiver.refuse(exc)
            else:
                outcome = receiver.handle(body, environ, method)
        return Response(outcome.body, outcome.status, list(outcome.headers))

    return webhook


def _read_body(request: Request, method: str, length: int | None, cap: int) -> bytes:
    if method != "POST" or length == 0:
        return b""
    if length is not None:
        body = request.get_data(cache=True)
        if len(body) < length:
            raise BodyAlreadyConsumed
        return body
    body = read_capped(request.stream.read, cap, None)
    # A chunked body already read (and cached) by request.get_json() is still usable.
    return body or request.get_data(cache=True)

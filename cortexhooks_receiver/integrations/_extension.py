"""The Flask-style extension that the Flask and Quart adapters share (the Flask extension guide).

``CortexHooks(app, receiver, url)`` or ``CortexHooks()`` then ``init_app(app)`` (application
factories); ``on()`` registers handlers; the extension keeps itself in
``app.extensions["cortexhooks"]``. Without a receiver, one is built from the app's
``CORTEXHOOKS_*`` config keys: the names of Django's ``CORTEXHOOKS`` dict with the prefix.
Each framework's subclass only supplies its view (:meth:`AppExtension._view`), served by a
Blueprint of that framework at the webhook URL.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any, ClassVar, TypeVar

from cortexhooks_receiver._config import SECRET_ENV_VAR, receiver_kwargs
from cortexhooks_receiver._typed_on import TypedOn
from cortexhooks_receiver.errors import ConfigurationError
from cortexhooks_receiver.receiver import DEFAULT_PATH, Receiver
from cortexhooks_receiver.routing import Router, default_router

from ._common import require

__all__ = ["BLUEPRINT_NAME", "EXTENSION_KEY", "METHODS", "AppExtension", "receiver_from_config"]

EXTENSION_KEY = "cortexhooks"
BLUEPRINT_NAME = "cortexhooks"
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
"""The view accepts these, so that the core answers every non-POST with its JSON 405."""
_CONFIG_PREFIX = "CORTEXHOOKS_"
_SECRET_KEYWORDS = frozenset({"secret", "secrets", "secret_for"})

_F = TypeVar("_F", bound=Callable[..., Any])


class AppExtension(TypedOn):
    """Serves CortexBuild webhooks at ``url`` of a Flask-style app (see the subclasses).

    Args:
        app: the app; or call :meth:`init_app` later (application factories).
        receiver: a configured :class:`~cortexhooks_receiver.Receiver`; when ``None`` one is built
            from the app's ``CORTEXHOOKS_*`` config at :meth:`init_app`.
        url: the webhook URL; default ``CORTEXHOOKS_URL`` from the config, else
            ``/webhooks/cortexbuild``.

    Raises:
        ImportError: the framework is not installed (the message names the pip extra).
        ConfigurationError: (from :meth:`init_app`) no secret configured, or a bad setting.
    """

    framework: ClassVar[str] = ""
    """The framework's module, which is also the name of its pip extra."""

    def __init__(
        self, app: Any = None, receiver: Receiver | None = None, url: str | None = None
    ) -> None:
        require(self.framework, self.framework)
        self.receiver: Receiver | None = receiver
        self.url = url
        self.router: Router = receiver.router if receiver is not None else _new_router()
        self.blueprint: Any = None
        if app is not None:
            self.init_app(app)

    def _on(
        self, names: tuple[str | Iterable[str], ...], allow_unknown: bool, **filters: Any
    ) -> Callable[[_F], _F]:
        # ``on()`` itself (typed overloads, filters) comes from TypedOn, as on a Receiver.
        return self.router._on(names, allow_unknown, **filters)

    def init_app(self, app: Any) -> None:
        """Serve the webhook view on ``app`` and store the extension in ``app.extensions``.

        Raises:
            ImportError: the framework is not installed.
            ConfigurationError: no receiver was given and the config has no usable secret, or a
                ``CORTEXHOOKS_*`` value is invalid.
        """
        require(self.framework, self.framework)
        receiver = self.receiver
        if receiver is None:
            receiver = self.receiver = receiver_from_config(app.config, self.router)
        url = self.url or app.config.get("CORTEXHOOKS_URL") or DEFAULT_PATH
        self.blueprint = self._register(app, receiver, url)
        app.extensions[EXTENSION_KEY] = self

    def _register(self, app: Any, receiver: Receiver, url: str) -> Any:
        """Serve ``receiver`` at ``url`` on ``app`` in a Blueprint; return the Blueprint."""
        blueprint = require(self.framework, self.framework).Blueprint(BLUEPRINT_NAME, __name__)
        blueprint.add_url_rule(
            url, "webhook", self._view(receiver), methods=METHODS, provide_automatic_options=False
        )
        app.register_blueprint(blueprint)
        return blueprint

    def _view(self, receiver: Receiver) -> Callable[[], Any]:
        """The view function answering webhooks with ``receiver``."""
        raise NotImplementedError


def _new_router() -> Router:
    router = Router()
    router.include(default_router)
    return router


def receiver_from_config(config: Any, router: Router | None = None) -> Receiver:
    """Build a :class:`Receiver` from an app's config mapping of ``CORTEXHOOKS_*`` keys.

    Raises:
        ConfigurationError: no secret (and no ``CORTEXBUILD_WEBHOOK_SECRET``), or a bad value.
    """
    kwargs = receiver_kwargs(lambda name: config.get(_CONFIG_PREFIX + name))
    if not _SECRET_KEYWORDS & kwargs.keys() and SECRET_ENV_VAR not in os.environ:
        # Said in the app config's terms: the Receiver's own message names its keyword argument.
        raise ConfigurationError(
            'No webhook secret: set app.config["CORTEXHOOKS_SECRET"] = "whsec_..." (or a list '
            'in app.config["CORTEXHOOKS_SECRETS"] during a rotation), or the '
            f"{SECRET_ENV_VAR} environment variable."
        )
    return Receiver(router=router or _new_router(), **kwargs)

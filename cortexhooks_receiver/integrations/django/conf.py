"""Settings for the Django app: the ``CORTEXHOOKS`` dict, and the project's default Receiver.

Keys (all optional except a secret)::

    CORTEXHOOKS = {
        "SECRET": "whsec_...",            # or "SECRETS": ["whsec_new", "whsec_old"]
        "STORE": "django-orm",            # default; or "django-orm://<db alias>",
                                          # "django-cache://<cache alias>", "sqlite:///...",
                                          # "redis://...", "memory://", or a Store instance
        "TOLERANCE": 300,
        "RETENTION": 86_400,
        "MAX_BODY_BYTES": 1_048_576,
        "LEASE": 60,
        "ASYNC": False,                   # urls.py routes AsyncWebhookView when True
    }

Without ``SECRET``/``SECRETS`` the ``CORTEXBUILD_WEBHOOK_SECRET`` environment variable is used.
"""

from __future__ import annotations

import threading
from typing import Any, Final

from cortexhooks_receiver.receiver import Receiver
from cortexhooks_receiver.stores import Store

__all__ = [
    "DEFAULT_STORE",
    "SETTING_NAME",
    "connect_signals",
    "get_receiver",
    "open_django_store",
    "reset_receiver",
    "settings_dict",
]

SETTING_NAME: Final = "CORTEXHOOKS"
DEFAULT_STORE: Final = "django-orm"
_ARGS: Final = {
    "SECRET": "secret",
    "SECRETS": "secrets",
    "TOLERANCE": "tolerance",
    "RETENTION": "retention",
    "MAX_BODY_BYTES": "max_body_bytes",
    "LEASE": "lease",
}

_lock = threading.Lock()
_receiver: Receiver | None = None


def settings_dict() -> dict[str, Any]:
    """Return the project's ``CORTEXHOOKS`` setting (an empty dict when unset).

    Raises:
        ImproperlyConfigured: the setting is not a dict.
    """
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured

    value = getattr(settings, SETTING_NAME, None)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ImproperlyConfigured(f"settings.{SETTING_NAME} must be a dict.")
    return value


def open_django_store(spec: str | Store) -> str | Store:
    """Turn the Django store names into stores; any other URL or store is returned unchanged.

    ``"django-orm"`` / ``"django-orm://<alias>"`` is the ORM store on that database (default
    ``default``); ``"django-cache://<alias>"`` is the cache store on that cache.

    Raises:
        ConfigurationError: (later, from the Receiver) an unknown URL scheme.
    """
    if not isinstance(spec, str):
        return spec
    scheme, _, rest = spec.partition("://")
    if scheme == "django-orm":
        from .stores import DjangoORMStore

        return DjangoORMStore(using=rest or "default")
    if scheme == "django-cache":
        from .stores import DjangoCacheStore

        return DjangoCacheStore(rest or "default")
    return spec


def build_receiver(settings: dict[str, Any] | None = None) -> Receiver:
    """Build a new :class:`Receiver` from ``settings`` (default: ``settings.CORTEXHOOKS``).

    Handlers registered with the module-level ``cortexhooks_receiver.on`` (e.g. in autodiscovered
    ``webhooks.py`` modules) are dispatched by it.

    Raises:
        ConfigurationError: no secret, an empty one, a bad number or an unknown store URL.
    """
    conf = settings_dict() if settings is None else settings
    kwargs: dict[str, Any] = {arg: conf[key] for key, arg in _ARGS.items() if key in conf}
    kwargs["store"] = open_django_store(conf.get("STORE", DEFAULT_STORE))
    return Receiver(**kwargs)


def get_receiver() -> Receiver:
    """Return the project's Receiver, built once from ``settings.CORTEXHOOKS``.

    Raises:
        ConfigurationError: see :func:`build_receiver`.
    """
    global _receiver
    receiver = _receiver
    if receiver is None:
        with _lock:
            receiver = _receiver
            if receiver is None:
                receiver = _receiver = build_receiver()
    return receiver


def reset_receiver() -> None:
    """Forget the cached Receiver (closing its store); the next request builds a new one."""
    global _receiver
    with _lock:
        receiver, _receiver = _receiver, None
    if receiver is not None:
        receiver.store.close()


def _on_setting_changed(*, setting: str, **kwargs: Any) -> None:
    if setting == SETTING_NAME:
        reset_receiver()


def connect_signals() -> None:
    """Rebuild the Receiver when ``settings.CORTEXHOOKS`` changes (``override_settings``)."""
    from django.core.signals import setting_changed

    setting_changed.connect(_on_setting_changed, dispatch_uid="cortexhooks_setting_changed")

"""Settings for the Django app: the ``CORTEXHOOKS`` dict, and the project's default Receiver.

Keys (all optional except a secret)::

    CORTEXHOOKS = {
        "SECRET": "whsec_...",            # or "SECRETS": ["whsec_new", "whsec_old"], or
                                          # "SECRET_FOR": "myapp.tenants:secret_for" (a
                                          # lookup by webhook id, or the function itself)
        "SECRET_FOR_TTL": 60,             # seconds a SECRET_FOR answer is reused
        "STORE": "django-orm",            # default; or "django-orm://<db alias>",
                                          # "django-cache://<cache alias>", "sqlite:///...",
                                          # "redis://...", "memory://", or a Store instance
        "TOLERANCE": 300,
        "RETENTION": 86_400,
        "MAX_BODY_BYTES": 1_048_576,
        "RATE_LIMIT": "200/s",            # default None: no limit; also per client:
        "RATE_LIMIT_PER_CLIENT": "50/s",
        "RATE_LIMIT_STORE": "memory://",  # or "redis://..." (shared by every host)
        "TRUSTED_PROXIES": ["10.0.0.0/8"],  # whose X-Forwarded-For names the client
        "LEASE": 60,
        "ASYNC": False,                   # urls.py routes AsyncWebhookView when True
        "JOURNAL": None,                  # "django-orm" (or "django-orm://<db alias>"): a receipt
                                          # of every request in the database, shown by the admin;
                                          # or "sqlite:///...", "redis://...", "memory://"
        "JOURNAL_BODIES": False,          # keep each request's body in its receipt
    }

Without ``SECRET``/``SECRETS``/``SECRET_FOR`` the ``CORTEXBUILD_WEBHOOK_SECRET`` environment
variable is used.

Nothing here reads the settings at import time: a wrong setting is reported by the system checks
(:mod:`.checks`), never as a traceback while Django loads the URLconf.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Final

from cortexhooks_receiver._config import receiver_kwargs
from cortexhooks_receiver.journal import Journal
from cortexhooks_receiver.receiver import Receiver
from cortexhooks_receiver.stores import Store

__all__ = [
    "APP_NAME",
    "DEFAULT_STORE",
    "DICT_HINT",
    "SETTING_NAME",
    "async_views_enabled",
    "connect_signals",
    "get_receiver",
    "not_a_dict",
    "open_django_journal",
    "open_django_store",
    "require_installed",
    "reset_receiver",
    "settings_dict",
]

logger = logging.getLogger("cortexhooks_receiver.integrations.django")

APP_NAME: Final = "cortexhooks_receiver.integrations.django"
NOT_INSTALLED: Final = (
    "The CortexBuild webhook app is not installed: "
    f'add "{APP_NAME}" to INSTALLED_APPS in your settings, then run manage.py migrate.'
)
SETTING_NAME: Final = "CORTEXHOOKS"
DICT_HINT: Final = (
    f'Write {SETTING_NAME} = {{"SECRET": "whsec_..."}}: the secret goes under the "SECRET" key '
    "(or leave the setting out and set the CORTEXBUILD_WEBHOOK_SECRET environment variable)."
)
DEFAULT_STORE: Final = "django-orm"

_lock = threading.Lock()
_receiver: Receiver | None = None


def not_a_dict(value: object) -> str:
    """Return the sentence saying that the setting is ``value``'s type instead of a dict.

    Only the type is named: the value may be the secret itself. Never raises.
    """
    return f"settings.{SETTING_NAME} must be a dict, not a {type(value).__name__}."


def _raw_setting() -> object:
    from django.conf import settings

    return getattr(settings, SETTING_NAME, None)


def settings_dict() -> dict[str, Any]:
    """Return the project's ``CORTEXHOOKS`` setting (an empty dict when unset).

    Raises:
        ImproperlyConfigured: the setting is not a dict (system check ``cortexhooks.E003``).
    """
    from django.core.exceptions import ImproperlyConfigured

    value = _raw_setting()
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ImproperlyConfigured(f"{not_a_dict(value)} {DICT_HINT}")
    return value


def async_views_enabled() -> bool:
    """Return whether ``CORTEXHOOKS["ASYNC"]`` is true (``False`` when the setting is no dict).

    Never raises: ``urls.py`` calls it while Django loads the URLconf, where a wrong setting must
    not hide the system check that reports it.
    """
    value = _raw_setting()
    return isinstance(value, dict) and bool(value.get("ASYNC"))


def require_installed() -> None:
    """Check that this app is in ``INSTALLED_APPS``.

    Raises:
        ImproperlyConfigured: it is not; the message names the line to add. Without the app, no
            system check of it runs, no ``webhooks.py`` is imported and the ORM store has no
            model, so every delivery would fail or be acknowledged unhandled.
    """
    from django.apps import apps
    from django.core.exceptions import ImproperlyConfigured

    if not apps.is_installed(APP_NAME):
        raise ImproperlyConfigured(NOT_INSTALLED)


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


def open_django_journal(spec: str | Journal | None) -> str | Journal | None:
    """Turn ``"django-orm"`` / ``"django-orm://<alias>"`` into the ORM journal on that database.

    Any other URL, journal or ``None`` (no journal) is returned unchanged, for the Receiver.
    """
    if not isinstance(spec, str):
        return spec
    scheme, _, alias = spec.partition("://")
    if scheme == "django-orm":
        from .journal import DjangoORMJournal

        return DjangoORMJournal(using=alias or "default")
    return spec


def build_receiver(settings: dict[str, Any] | None = None) -> Receiver:
    """Build a new :class:`Receiver` from ``settings`` (default: ``settings.CORTEXHOOKS``).

    Handlers registered with the module-level ``cortexhooks_receiver.on`` (e.g. in autodiscovered
    ``webhooks.py`` modules) are dispatched by it.

    Raises:
        ConfigurationError: no secret, an empty one, a bad number, an unknown store or journal
            URL, ``JOURNAL_BODIES`` without a ``JOURNAL``, or a ``SECRET_FOR`` name that cannot
            be imported.
    """
    conf = settings_dict() if settings is None else settings
    kwargs = receiver_kwargs(conf.get)
    kwargs["store"] = open_django_store(conf.get("STORE", DEFAULT_STORE))
    kwargs["journal"] = open_django_journal(conf.get("JOURNAL"))
    return Receiver(**kwargs)


def get_receiver() -> Receiver:
    """Return the project's Receiver, built once from ``settings.CORTEXHOOKS``.

    A receiver without any handler says so once, on the first delivery (the receiver's own
    warning); the system check ``cortexhooks.W003`` says it at start-up.

    Raises:
        ImproperlyConfigured: this app is not installed, or the setting is not a dict.
        ConfigurationError: see :func:`build_receiver`.
    """
    global _receiver
    receiver = _receiver
    if receiver is None:
        with _lock:
            receiver = _receiver
            if receiver is None:
                require_installed()
                receiver = _receiver = build_receiver()
    return receiver


def reset_receiver() -> None:
    """Forget the cached Receiver (closing its store and journal); the next request builds one."""
    global _receiver
    with _lock:
        receiver, _receiver = _receiver, None
    if receiver is not None:
        receiver.store.close()
        if receiver.journal is not None:
            receiver.journal.close()


def _on_setting_changed(*, setting: str, **kwargs: Any) -> None:
    if setting in (SETTING_NAME, "INSTALLED_APPS"):
        reset_receiver()


def connect_signals() -> None:
    """Rebuild the Receiver when ``CORTEXHOOKS`` or ``INSTALLED_APPS`` change (in tests)."""
    from django.core.signals import setting_changed

    setting_changed.connect(_on_setting_changed, dispatch_uid="cortexhooks_setting_changed")

"""The Django AppConfig: registers the system checks and autodiscovers ``webhooks.py`` modules."""

from __future__ import annotations

from django.apps import AppConfig
from django.utils.module_loading import autodiscover_modules

from . import checks, conf
from ._handlers import HANDLER_MODULE


class CortexHooksConfig(AppConfig):  # type: ignore[misc]
    """The ``cortexhooks`` app: models for the ORM dedup store, checks, handler autodiscovery."""

    name = conf.APP_NAME
    label = "cortexhooks"
    verbose_name = "CortexBuild webhooks"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        """Register checks and the settings-change hook, then import each app's ``webhooks.py``.

        Raises:
            Whatever an app's ``webhooks.py`` raises on import (a typo in a handler module must
            be loud at start-up, as with ``admin.py``).
        """
        checks.register_checks()
        conf.connect_signals()
        autodiscover_modules(HANDLER_MODULE)

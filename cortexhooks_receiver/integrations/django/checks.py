"""System checks of the Django app (``manage.py check``, run at start-up).

* ``cortexhooks.E001`` (Error): no webhook secret in ``CORTEXHOOKS`` nor in the
  ``CORTEXBUILD_WEBHOOK_SECRET`` environment variable, or an empty/invalid one.
* ``cortexhooks.E002`` (Error): ``STORE`` names a cache alias missing from ``CACHES``.
* ``cortexhooks.E003`` (Error): ``CORTEXHOOKS`` is not a dict.
* ``cortexhooks.W001`` (Warning): ``STORE`` is a cache whose backend cannot deduplicate across
  processes (LocMem: per process; file cache: ``add`` is not atomic; dummy cache: stores nothing).
* ``cortexhooks.W002`` (Warning): ``STORE`` is ``memory://``, which deduplicates only inside one
  process.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any, Final

from django.core import checks

from cortexhooks_receiver.errors import ConfigurationError
from cortexhooks_receiver.receiver import SECRET_ENV_VAR
from cortexhooks_receiver.signature import SecretKeys

from .conf import DEFAULT_STORE, SETTING_NAME

__all__ = ["NON_ATOMIC_CACHES", "check_settings", "register_checks"]

NON_ATOMIC_CACHES: Final = {
    "django.core.cache.backends.locmem.LocMemCache": "keeps entries per process",
    "django.core.cache.backends.filebased.FileBasedCache": "has no atomic add",
    "django.core.cache.backends.dummy.DummyCache": "stores nothing",
}


def check_settings(app_configs: Sequence[Any] | None = None, **kwargs: Any) -> list[Any]:
    """Check ``settings.CORTEXHOOKS``; return the list of check messages (see the module docs)."""
    from django.conf import settings

    conf = getattr(settings, SETTING_NAME, None)
    if conf is None:
        conf = {}
    if not isinstance(conf, dict):
        return [checks.Error(f"settings.{SETTING_NAME} must be a dict.", id="cortexhooks.E003")]
    messages: list[Any] = []
    messages.extend(_check_secret(conf))
    messages.extend(_check_store(conf.get("STORE", DEFAULT_STORE), settings))
    return messages


def _check_secret(conf: dict[str, Any]) -> list[Any]:
    secrets = conf.get("SECRETS")
    if secrets is None:
        secrets = conf.get("SECRET")
    if secrets is None:
        secrets = os.environ.get(SECRET_ENV_VAR)
    if secrets is None:
        return [
            checks.Error(
                "No CortexBuild webhook secret is configured.",
                hint=(
                    f'Set {SETTING_NAME}["SECRET"] (or "SECRETS" during a rotation) to the '
                    f"secret CortexBuild returned at registration, or the {SECRET_ENV_VAR} "
                    "environment variable."
                ),
                id="cortexhooks.E001",
            )
        ]
    try:
        SecretKeys(secrets)
    except ConfigurationError as exc:
        return [checks.Error(f"Invalid webhook secret: {exc}", id="cortexhooks.E001")]
    return []


def _check_store(store: Any, settings: Any) -> list[Any]:
    if not isinstance(store, str):
        return []
    if store.startswith("memory://"):
        return [
            checks.Warning(
                "The memory:// dedup store deduplicates only inside one process.",
                hint='Use "django-orm" (the default) or an atomic cache when running several '
                "workers.",
                id="cortexhooks.W002",
            )
        ]
    scheme, _, alias = store.partition("://")
    if scheme != "django-cache":
        return []
    alias = alias or "default"
    caches = getattr(settings, "CACHES", {})
    if alias not in caches:
        return [
            checks.Error(
                f"The webhook dedup store names cache {alias!r}, which is not in CACHES.",
                id="cortexhooks.E002",
            )
        ]
    backend = caches[alias].get("BACKEND", "")
    reason = NON_ATOMIC_CACHES.get(backend)
    if reason is None:
        return []
    return [
        checks.Warning(
            f"The webhook dedup store uses cache {alias!r} ({backend}), which {reason}: "
            "duplicate deliveries may be processed twice.",
            hint="Use a Redis, Memcached or database cache, or the django-orm store.",
            id="cortexhooks.W001",
        )
    ]


def register_checks() -> None:
    """Register :func:`check_settings` with Django's check framework (idempotent)."""
    checks.register(check_settings, "cortexhooks")

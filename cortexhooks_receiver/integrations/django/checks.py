"""System checks of the Django app (``manage.py check``, run at start-up).

* ``cortexhooks.E001`` (Error): no webhook secret in ``CORTEXHOOKS`` nor in the
  ``CORTEXBUILD_WEBHOOK_SECRET`` environment variable, or an empty/invalid one.
* ``cortexhooks.E002`` (Error): ``STORE`` names a cache alias missing from ``CACHES``.
* ``cortexhooks.E003`` (Error): ``CORTEXHOOKS`` is not a dict (e.g. the secret string itself).
* ``cortexhooks.E004`` (Error): ``JOURNAL`` is not a journal the receiver can open (an unknown
  URL, a bad option), or ``JOURNAL_BODIES`` is set without a ``JOURNAL``.
* ``cortexhooks.E005`` (Error): an option the receiver would refuse: a ``SECRET_FOR`` that is
  no function (or names none that can be imported), or given with ``SECRET``/``SECRETS``; a
  ``RATE_LIMIT``/``RATE_LIMIT_PER_CLIENT`` that does not parse, a bad ``RATE_LIMIT_STORE`` URL,
  ``TRUSTED_PROXIES`` that are not IP networks.
* ``cortexhooks.W001`` (Warning): ``STORE`` is a cache whose backend cannot deduplicate across
  processes (LocMem: per process; file cache: ``add`` is not atomic; dummy cache: stores nothing).
* ``cortexhooks.W002`` (Warning): ``STORE`` is ``memory://``, which deduplicates only inside one
  process.
* ``cortexhooks.W003`` (Warning): no handler is registered at all, so every delivery would be
  acknowledged and deduplicated with nothing run.
* ``cortexhooks.W004`` (Warning): a ``webhooks.py`` of the project that uses
  ``cortexhooks_receiver`` belongs to a package that is not in ``INSTALLED_APPS`` (and was not
  imported otherwise): its handlers never run.

These checks run only when this app is installed; ``urls.py`` refuses to load without it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Final

from django.core import checks

from cortexhooks_receiver._config import SECRET_ENV_VAR, receiver_kwargs
from cortexhooks_receiver.errors import ConfigurationError
from cortexhooks_receiver.journal import open_journal
from cortexhooks_receiver.routing import Router, default_router
from cortexhooks_receiver.signature import SecretKeys

from ._handlers import HANDLER_MODULE, NO_HANDLER_HINT, NO_HANDLER_MESSAGE, has_handlers
from .conf import DEFAULT_STORE, DICT_HINT, SETTING_NAME, not_a_dict, open_django_journal

__all__ = [
    "NON_ATOMIC_CACHES",
    "check_handlers",
    "check_settings",
    "handler_messages",
    "register_checks",
    "uninstalled_handler_modules",
]

_USES_LIBRARY: Final = "cortexhooks_receiver"
# Package depths below the project root searched for handler modules: app/ and apps/app/.
_HANDLER_MODULE_GLOBS: Final = (f"*/{HANDLER_MODULE}.py", f"*/*/{HANDLER_MODULE}.py")

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
        return [checks.Error(not_a_dict(conf), hint=DICT_HINT, id="cortexhooks.E003")]
    messages: list[Any] = []
    messages.extend(_check_secret(conf) if conf.get("SECRET_FOR") is None else [])
    messages.extend(_check_options(conf))
    messages.extend(_check_store(conf.get("STORE", DEFAULT_STORE), settings))
    messages.extend(_check_journal(conf))
    return messages


def _check_journal(conf: dict[str, Any]) -> list[Any]:
    spec = conf.get("JOURNAL")
    if spec is None:
        if conf.get("JOURNAL_BODIES"):
            return [
                checks.Error(
                    "JOURNAL_BODIES keeps bodies in the receipt journal, but JOURNAL is not set.",
                    hint='Set CORTEXHOOKS["JOURNAL"] = "django-orm" (or another journal URL).',
                    id="cortexhooks.E004",
                )
            ]
        return []
    try:
        opened = open_django_journal(spec)
        assert opened is not None
        journal = open_journal(opened)  # builds it only: no I/O
    except ConfigurationError as exc:
        return [checks.Error(f"Invalid webhook journal: {exc}", id="cortexhooks.E004")]
    journal.close()
    return []


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


def _check_options(conf: dict[str, Any]) -> list[Any]:
    """``cortexhooks.E005`` for the options the Receiver checks only when it is built."""
    try:
        kwargs = receiver_kwargs(conf.get)
        secret_for = kwargs.get("secret_for")
        if secret_for is not None:  # what the Receiver checks of it, without building one
            from cortexhooks_receiver._tenants import SecretsByWebhook
            from cortexhooks_receiver.receiver import _resolve_secrets

            _resolve_secrets(kwargs.get("secret"), kwargs.get("secrets"), secret_for)
            SecretsByWebhook(secret_for, kwargs.get("secret_for_ttl", 0), lambda: 0)
        if "rate_limit" in kwargs or "rate_limit_per_client" in kwargs:
            from cortexhooks_receiver.ratelimit import RateLimiter

            RateLimiter(
                kwargs.get("rate_limit"),
                kwargs.get("rate_limit_per_client"),
                kwargs.get("rate_limit_store", "memory://"),
            ).buckets.close()
        if "trusted_proxies" in kwargs:
            from cortexhooks_receiver._proxies import TrustedProxies

            TrustedProxies(kwargs["trusted_proxies"])
    except ConfigurationError as exc:
        return [checks.Error(f"Invalid {SETTING_NAME} option: {exc}", id="cortexhooks.E005")]
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


def check_handlers(app_configs: Sequence[Any] | None = None, **kwargs: Any) -> list[Any]:
    """Check that handlers are registered and that no project ``webhooks.py`` is left out.

    Returns ``cortexhooks.W003`` and ``cortexhooks.W004`` messages (see the module docs).
    """
    from django.apps import apps
    from django.conf import settings

    messages = handler_messages(default_router)
    root = _project_root(getattr(settings, "SETTINGS_MODULE", None))
    if root is None:
        return messages
    installed = [Path(config.path) for config in apps.get_app_configs()]
    for name, relative in uninstalled_handler_modules(root, installed):
        messages.append(
            checks.Warning(
                f"{relative.as_posix()} registers CortexBuild webhook handlers, but its app is "
                "not installed, so they never run.",
                hint=f'Add "{name}" to INSTALLED_APPS.',
                id="cortexhooks.W004",
            )
        )
    return messages


def handler_messages(router: Router) -> list[Any]:
    """Return ``[cortexhooks.W003]`` when ``router`` has no handler at all, else ``[]``."""
    if has_handlers(router):
        return []
    return [checks.Warning(NO_HANDLER_MESSAGE, hint=NO_HANDLER_HINT, id="cortexhooks.W003")]


def uninstalled_handler_modules(root: Path, installed: Iterable[Path]) -> list[tuple[str, Path]]:
    """Find the project's ``webhooks.py`` modules whose handlers Django never imports.

    Looks one and two package levels below ``root`` (``app/webhooks.py``,
    ``apps/app/webhooks.py``) for modules that mention ``cortexhooks_receiver``, in packages
    that are none of the ``installed`` app directories and were not imported some other way.
    Returns ``(dotted package name, path relative to root)`` pairs, sorted. Never raises.
    """
    installed_dirs = {path.resolve() for path in installed}
    found: list[tuple[str, Path]] = []
    for pattern in _HANDLER_MODULE_GLOBS:
        for path in root.glob(pattern):
            relative = path.relative_to(root)
            package = relative.parent.parts
            name = ".".join(package)
            if (
                not all(part.isidentifier() for part in package)
                or path.parent.resolve() in installed_dirs
                or f"{name}.{HANDLER_MODULE}" in sys.modules
                or not _mentions_library(path)
            ):
                continue
            found.append((name, relative))
    return sorted(found)


def _mentions_library(path: Path) -> bool:
    try:
        return _USES_LIBRARY in path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False


def _project_root(settings_module: str | None) -> Path | None:
    # The directory the settings' top-level package sits in: where manage.py usually is.
    if settings_module is None:
        return None  # settings.configure(): no settings module, no project directory
    filename = getattr(sys.modules.get(settings_module), "__file__", None)
    if not filename:
        return None
    path = Path(filename).resolve()
    depth = settings_module.count(".") + (path.stem == "__init__")
    return path.parents[depth]


def register_checks() -> None:
    """Register :func:`check_settings` and :func:`check_handlers` with Django (idempotent)."""
    checks.register(check_settings, "cortexhooks")
    checks.register(check_handlers, "cortexhooks")

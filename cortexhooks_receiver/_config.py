"""Configuration facts shared by the Receiver, the framework adapters and the CLI, defined once.

* :data:`SECRET_ENV_VAR`: the environment variable read when no secret is given (the Receiver,
  Django's system checks, the ``cortexhooks`` commands).
* :data:`RECEIVER_SETTINGS`: the adapters' settings table, setting name -> ``Receiver`` keyword.
  Flask reads each name as ``app.config["CORTEXHOOKS_" + name]``, Django as
  ``settings.CORTEXHOOKS[name]``, so both adapters accept the same settings; both read them
  with :func:`receiver_kwargs`, where ``SECRET_FOR`` may also be a ``"module:function"`` name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, Final

from ._imports import import_object
from .errors import ConfigurationError

__all__ = ["DEFAULT_SECRET_FOR_TTL", "RECEIVER_SETTINGS", "SECRET_ENV_VAR", "receiver_kwargs"]

SECRET_ENV_VAR: Final = "CORTEXBUILD_WEBHOOK_SECRET"  # noqa: S105 (a variable name)
"""The environment variable holding the webhook secret when none is passed."""

DEFAULT_SECRET_FOR_TTL: Final = 60.0
"""Seconds an answer of ``secret_for`` is reused for its webhook id."""

RECEIVER_SETTINGS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "SECRET": "secret",
        "SECRETS": "secrets",
        "SECRET_FOR": "secret_for",
        "SECRET_FOR_TTL": "secret_for_ttl",
        "STORE": "store",
        "TOLERANCE": "tolerance",
        "RETENTION": "retention",
        "MAX_BODY_BYTES": "max_body_bytes",
        "RATE_LIMIT": "rate_limit",
        "RATE_LIMIT_PER_CLIENT": "rate_limit_per_client",
        "RATE_LIMIT_STORE": "rate_limit_store",
        "TRUSTED_PROXIES": "trusted_proxies",
        "LEASE": "lease",
        "JOURNAL": "journal",
        "JOURNAL_BODIES": "journal_bodies",
        "QUEUE": "queue",
    }
)
"""Adapter setting name -> the ``Receiver`` keyword it sets."""


def receiver_kwargs(setting: Callable[[str], Any]) -> dict[str, Any]:
    """Return the ``Receiver`` keywords an adapter's settings give.

    ``setting(name)`` reads one :data:`RECEIVER_SETTINGS` name (``None`` when unset). A
    ``SECRET_FOR`` given as text is a ``"package.module:function"`` name and is imported (a
    settings file cannot always hold the function itself).

    Raises:
        ConfigurationError: ``SECRET_FOR`` names nothing that can be imported.
    """
    kwargs = {arg: setting(name) for name, arg in RECEIVER_SETTINGS.items()}
    kwargs = {arg: value for arg, value in kwargs.items() if value is not None}
    secret_for = kwargs.get("secret_for")
    if isinstance(secret_for, str):
        try:
            kwargs["secret_for"] = import_object(secret_for)
        except ConfigurationError as exc:
            raise ConfigurationError(f"SECRET_FOR: {exc}") from None
    return kwargs

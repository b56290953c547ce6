"""Configuration facts shared by the Receiver, the framework adapters and the CLI, defined once.

* :data:`SECRET_ENV_VAR`: the environment variable read when no secret is given (the Receiver,
  Django's system checks, the ``cortexhooks`` commands).
* :data:`RECEIVER_SETTINGS`: the adapters' settings table, setting name -> ``Receiver`` keyword.
  Flask reads each name as ``app.config["CORTEXHOOKS_" + name]``, Django as
  ``settings.CORTEXHOOKS[name]``, so both adapters accept the same settings.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

__all__ = ["RECEIVER_SETTINGS", "SECRET_ENV_VAR"]

SECRET_ENV_VAR: Final = "CORTEXBUILD_WEBHOOK_SECRET"  # noqa: S105 (a variable name)
"""The environment variable holding the webhook secret when none is passed."""

RECEIVER_SETTINGS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "SECRET": "secret",
        "SECRETS": "secrets",
        "STORE": "store",
        "TOLERANCE": "tolerance",
        "RETENTION": "retention",
        "MAX_BODY_BYTES": "max_body_bytes",
        "LEASE": "lease",
        "JOURNAL": "journal",
        "JOURNAL_BODIES": "journal_bodies",
        "QUEUE": "queue",
    }
)
"""Adapter setting name -> the ``Receiver`` keyword it sets."""

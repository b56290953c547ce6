"""Identifiers in the platform's formats: webhook ids, secrets and delivery ids."""

from __future__ import annotations

import secrets
import string
from typing import Final

__all__ = ["SECRET_PREFIX", "new_secret", "new_webhook_id"]

SECRET_PREFIX: Final = "whsec_"  # noqa: S105 - a prefix, not a secret
_ALNUM: Final = string.ascii_letters + string.digits
_LOWER_ALNUM: Final = string.ascii_lowercase + string.digits


def new_secret() -> str:
    """Return a new signing secret: ``whsec_`` + 32 random alphanumerics (CSPRNG)."""
    return SECRET_PREFIX + "".join(secrets.choice(_ALNUM) for _ in range(32))


def new_webhook_id(now_ms: int) -> str:
    """Return a new webhook id like the guide's ``webhook-1234567890-abc123``."""
    return f"webhook-{now_ms}-" + "".join(secrets.choice(_LOWER_ALNUM) for _ in range(6))

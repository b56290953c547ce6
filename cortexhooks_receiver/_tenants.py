"""``secret_for``: one endpoint for many webhooks, each verified with its own secret(s).

``Receiver(secret_for=lookup)`` chooses the secrets of each request by its
``X-CortexBuild-Webhook-Id`` header: ``lookup(webhook_id)`` returns a ``str``, a list of them
(newest first, during a rotation) or ``None`` for a webhook this endpoint does not serve (401
``unknown_webhook``); it may be an ``async`` function. The signature must then match one of those
secrets, so a request that names another tenant's webhook id fails with ``signature_mismatch``:
a tenant can never speak for another, unless two webhooks share a secret (then the signature
cannot tell them apart, which is logged once per pair).

Answers are cached per webhook id for ``ttl`` seconds (``None`` answers for at most
:data:`UNKNOWN_TTL`, so that a flood of made-up ids costs one lookup each per that time, and a
webhook registered a moment ago is soon seen), in a table bounded to ``max_entries`` ids. A
header that is not a plausible id (1-128 characters of ``[A-Za-z0-9._:-]``) is refused without a
lookup.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Awaitable, Callable, Sequence
from typing import Final, TypeAlias

from ._concurrency import is_async_callable, run_sync, to_thread
from ._headers import ID_CHARS
from ._logs import receiver_logger as logger
from .errors import (
    ConfigurationError,
    ReceiverMisconfigured,
    SecretLookupFailed,
    UnknownWebhook,
)
from .signature import SecretKeys

__all__ = [
    "UNKNOWN_TTL",
    "SecretFor",
    "SecretsByWebhook",
]

SecretAnswer: TypeAlias = str | Sequence[str] | None
SecretFor: TypeAlias = Callable[[str], SecretAnswer | Awaitable[SecretAnswer]]
"""``secret_for(webhook_id)``: the webhook's secret(s), ``None`` when unknown; may be async."""

UNKNOWN_TTL: Final = 10.0
"""The longest a ``None`` answer (an unknown webhook id) is reused."""
MAX_CACHED_IDS: Final = 10_000

_MAX_ID_CHARS: Final = 128
_MAX_FINGERPRINTS: Final = 10_000


def is_plausible_id(text: str) -> bool:
    """Return whether ``text`` is 1-128 characters of ``[A-Za-z0-9._:-]``. Never raises."""
    return 0 < len(text) <= _MAX_ID_CHARS and ID_CHARS.issuperset(text)


class SecretsByWebhook:
    """The cached ``secret_for`` lookup of one receiver.

    Args:
        secret_for: the lookup (see the module docs).
        ttl: seconds an answer is reused (0: ask every time).
        now_ms: the receiver's clock, in Unix milliseconds.
        max_entries: the most webhook ids remembered; the oldest are forgotten first.

    Raises:
        ConfigurationError: ``secret_for`` is not callable, or ``ttl`` is negative.
    """

    __slots__ = (
        "_entries",
        "_fingerprints",
        "_lock",
        "_max_entries",
        "_now_ms",
        "_shared",
        "is_async",
        "lookup",
        "ttl",
    )

    def __init__(
        self,
        secret_for: SecretFor,
        ttl: float,
        now_ms: Callable[[], int],
        max_entries: int = MAX_CACHED_IDS,
    ) -> None:
        if not callable(secret_for):
            raise ConfigurationError(f"secret_for must be a function, not {secret_for!r}")
        if isinstance(ttl, bool) or not isinstance(ttl, int | float) or not ttl >= 0:
            raise ConfigurationError(f"secret_for_ttl must be a number >= 0, not {ttl!r}")
        self.lookup = secret_for
        self.is_async = is_async_callable(secret_for)
        self.ttl = ttl
        self._now_ms = now_ms
        self._max_entries = max_entries
        # webhook id -> (its keys, or None when unknown; expiry in Unix ms), oldest first.
        self._entries: dict[str, tuple[SecretKeys | None, int]] = {}
        self._fingerprints: dict[bytes, str] = {}  # a secret's digest -> the first id seen using it
        self._shared: set[tuple[str, str]] = set()  # pairs of ids already reported sharing one
        self._lock = threading.Lock()

    def keys_for(self, webhook_id: str | None, now_ms: int) -> SecretKeys | None:
        """Return the cached keys of ``webhook_id``, or ``None`` when it must be looked up.

        Raises:
            UnknownWebhook: no header, an implausible id, or one known to be unknown.
        """
        if webhook_id is None:
            raise UnknownWebhook("The X-CortexBuild-Webhook-Id header is missing.")
        entry = self._entries.get(webhook_id)
        if entry is not None and now_ms < entry[1]:
            keys = entry[0]
            if keys is None:
                raise UnknownWebhook
            return keys
        if not is_plausible_id(webhook_id):
            raise UnknownWebhook
        return None

    def look_up(self, webhook_id: str) -> SecretKeys:
        """Call ``secret_for(webhook_id)`` (an async one run to completion); record the answer.

        Raises:
            UnknownWebhook, SecretLookupFailed, ReceiverMisconfigured: see :meth:`record`.
        """
        try:
            answer = self.lookup(webhook_id)
            if self.is_async:
                answer = run_sync(answer)  # type: ignore[arg-type]
        except Exception as exc:
            return self.record(webhook_id, None, exc)
        return self.record(webhook_id, answer, None)

    async def alook_up(self, webhook_id: str) -> SecretKeys:
        """Coroutine form of :meth:`look_up`: awaits an async lookup, runs a sync one in a thread.

        Raises:
            UnknownWebhook, SecretLookupFailed, ReceiverMisconfigured: see :meth:`record`.
        """
        try:
            if self.is_async:
                answer = await self.lookup(webhook_id)  # type: ignore[misc]
            else:
                answer = await to_thread(self.lookup, webhook_id)
        except Exception as exc:
            return self.record(webhook_id, None, exc)
        return self.record(webhook_id, answer, None)

    def record(self, webhook_id: str, answer: object, failure: Exception | None) -> SecretKeys:
        """Remember what the lookup of ``webhook_id`` answered (or raised); return its keys.

        Raises:
            SecretLookupFailed: the lookup raised (``failure``); nothing is cached.
            UnknownWebhook: it answered ``None``; cached for ``min(ttl, UNKNOWN_TTL)``.
            ReceiverMisconfigured: it answered something that is not secrets (an empty string,
                bytes, a number); logged, nothing is cached.
        """
        if failure is not None:
            logger.error(
                "secret_for raised %s for webhook id %r; answering 503 so the sender retries",
                type(failure).__name__,
                webhook_id,
            )
            raise SecretLookupFailed
        now_ms = self._now_ms()
        if answer is None:
            self._remember(webhook_id, None, now_ms + int(min(self.ttl, UNKNOWN_TTL) * 1000))
            raise UnknownWebhook
        try:
            keys = SecretKeys(answer)  # type: ignore[arg-type]
        except ConfigurationError as exc:  # its messages never hold the secret itself
            logger.error("secret_for answered no usable secret for %r: %s", webhook_id, exc)
            raise ReceiverMisconfigured from None
        self._note_shared_secrets(webhook_id, keys)
        self._remember(webhook_id, keys, now_ms + int(self.ttl * 1000))
        return keys

    def _remember(self, webhook_id: str, keys: SecretKeys | None, expires_ms: int) -> None:
        if not self.ttl:
            return
        entries = self._entries
        with self._lock:
            entries.pop(webhook_id, None)
            entries[webhook_id] = (keys, expires_ms)
            while len(entries) > self._max_entries:
                del entries[next(iter(entries))]

    def _note_shared_secrets(self, webhook_id: str, keys: SecretKeys) -> None:
        """Warn once per pair of webhook ids that use the same secret (indistinguishable)."""
        with self._lock:
            if len(self._fingerprints) > _MAX_FINGERPRINTS:
                self._fingerprints.clear()
                self._shared.clear()
            for key in keys.keys:
                first = self._fingerprints.setdefault(hashlib.sha256(key).digest(), webhook_id)
                if first == webhook_id or (first, webhook_id) in self._shared:
                    continue
                self._shared.add((first, webhook_id))
                logger.warning(
                    "Webhook ids %r and %r share a secret: the signature cannot tell them apart, "
                    "so either can speak for the other. Give each webhook its own secret "
                    "(CortexBuild does, at registration).",
                    first,
                    webhook_id,
                )

"""Sign and verify CortexBuild webhook signatures.

The scheme (see the platform guide): ``X-CortexBuild-Signature`` is the lower-case hex HMAC-SHA256
of the raw request body, keyed with the secret string's UTF-8 bytes as-is (the ``whsec_`` prefix is
part of the key). ``X-CortexBuild-Timestamp`` is Unix milliseconds and must lie within
±``tolerance`` seconds of now. The timestamp is *not* signed; the replay defence in
:mod:`cortexhooks_receiver.receiver` makes up for that.

Hex policy: upper- and lower-case hex digits are both accepted, because the comparison is made
on the decoded 32 bytes, never on text. Anything but exactly 64 hex digits is malformed.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import os
import time
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Final

from ._config import SECRET_ENV_VAR
from ._headers import Headers, signature_headers
from .errors import (
    BodyTypeError,
    ConfigurationError,
    InvalidTimestamp,
    MalformedSignature,
    MissingSignature,
    MissingTimestamp,
    SecretTypeError,
    SignatureMismatch,
    TimestampOutOfTolerance,
)

__all__ = [
    "DEFAULT_TOLERANCE",
    "MAX_SECRETS",
    "Body",
    "Now",
    "SecretKeys",
    "authenticate",
    "check_body",
    "check_tolerance",
    "compute_signature",
    "looks_like_seconds",
    "new_delivery_id",
    "now_ms",
    "parse_signature",
    "parse_timestamp",
    "sign",
    "verify_signature",
]

DEFAULT_TOLERANCE: Final = 300
"""Seconds the timestamp header may differ from now, in either direction (the guide's 5 minutes)."""

MAX_SECRETS: Final = 5
"""Rotation needs two secrets; a handful is allowed, more is a configuration mistake."""

_BLOCK_SIZE: Final = 64  # SHA-256's block size, for the precomputed HMAC pads (RFC 2104)
_TRANS_36: Final = bytes(x ^ 0x36 for x in range(256))
_TRANS_5C: Final = bytes(x ^ 0x5C for x in range(256))
_MAX_TIMESTAMP_DIGITS: Final = 15  # ms until the year 33658; longer is refused before int()
_SECONDS_LOOKING_LIMIT: Final = 100_000_000_000  # below this a "ms" value is a 1973 date: seconds

Now = float | int | datetime
"""A point in time: Unix seconds, or an aware :class:`~datetime.datetime`."""

Body = bytes | bytearray | memoryview
"""A raw request body: the exact bytes received, which the signature covers."""


def check_body(body: object) -> None:
    """Refuse a body that is not raw bytes (a ``str``, a parsed dict), a programming mistake.

    Raises:
        BodyTypeError: ``body`` is not ``bytes``, ``bytearray`` or ``memoryview``; the message
            says how each framework hands out the raw bytes.
    """
    if type(body) is bytes or isinstance(body, bytearray | memoryview):
        return
    if isinstance(body, str):
        what = "a str (decoded text)"
    elif isinstance(body, Mapping | list):
        what = f"a {type(body).__name__} (a parsed JSON body)"
    else:
        what = f"a {type(body).__name__}"
    raise BodyTypeError(
        f"The webhook body must be the raw request body as bytes, not {what}: the signature "
        "covers the exact bytes received. Read them with request.get_data() in Flask, "
        "await request.body() in Starlette or FastAPI, request.body in Django."
    )


class SecretKeys:
    """The HMAC keys of one receiver: one secret, or several during a rotation.

    Raises:
        ConfigurationError: no secret, an empty or whitespace-only secret, a secret that is not a
            string, or more than :data:`MAX_SECRETS` secrets.
    """

    __slots__ = ("_pads", "keys")

    def __init__(self, secrets: str | Iterable[str]) -> None:
        if isinstance(secrets, bytes | bytearray | memoryview):
            raise SecretTypeError(_KEY_NOT_TEXT)
        try:
            items = [secrets] if isinstance(secrets, str) else list(secrets)
        except TypeError:
            raise SecretTypeError("Webhook secrets must be a str or a list of str.") from None
        if not items:
            raise ConfigurationError("At least one webhook secret is required.")
        if len(items) > MAX_SECRETS:
            raise ConfigurationError(
                f"At most {MAX_SECRETS} secrets can be active at once (rotation needs two)."
            )
        keys: list[bytes] = []
        for item in items:
            if not isinstance(item, str):
                raise SecretTypeError(_KEY_NOT_TEXT)
            if not item.strip():
                raise ConfigurationError(
                    "A webhook secret is empty; set it to the secret CortexBuild returned at "
                    f"registration ({SECRET_ENV_VAR})."
                )
            try:
                keys.append(item.encode("utf-8"))
            except UnicodeEncodeError:
                raise ConfigurationError("A webhook secret is not valid Unicode text.") from None
        self.keys: Final[tuple[bytes, ...]] = tuple(keys)
        # HMAC's keyed inner and outer SHA-256 states, computed once: per request only the body
        # is hashed (about half the cost of hmac.digest() on a small body).
        self._pads: Final = tuple(_hmac_pads(key) for key in self.keys)

    def __repr__(self) -> str:
        return f"SecretKeys(<{len(self.keys)} secret(s)>)"

    def sole_states(self) -> tuple[hashlib._Hash, hashlib._Hash] | None:
        """With exactly one secret, its keyed HMAC states ``(inner, outer)``; else ``None``.

        For the receiver's straight path, which hashes a body exactly as :meth:`search` does
        (copy each state, feed it, finish). The states must only ever be copied. Never raises.
        """
        pads = self._pads
        return pads[0] if len(pads) == 1 else None

    def digests(self, body: Body) -> tuple[bytes, ...]:
        """Return the HMAC-SHA256 of ``body`` under every secret, newest first. Never raises."""
        result = []
        for inner_pad, outer_pad in self._pads:
            inner = inner_pad.copy()
            inner.update(body)
            outer = outer_pad.copy()
            outer.update(inner.digest())
            result.append(outer.digest())
        return tuple(result)

    def search(self, body: Body, signature: bytes) -> tuple[int, tuple[bytes, ...]]:
        """Find which secret signed ``body``: its index (0 = newest) and the digest under each.

        Every secret's digest is computed and compared (constant-time, with
        :func:`hmac.compare_digest` on bytes), whichever matches: the time taken does not tell
        which secret matched, and the digests identify the body whichever secret signed it (the
        receiver remembers all of them, so a rotation never reopens a processed body).

        Raises:
            SignatureMismatch: no secret produces ``signature``.
        """
        pads = self._pads
        if len(pads) == 1:  # the usual case, unrolled: it is on every request's path
            inner_pad, outer_pad = pads[0]
            inner = inner_pad.copy()
            inner.update(body)
            outer = outer_pad.copy()
            outer.update(inner.digest())
            digest = outer.digest()
            if hmac.compare_digest(digest, signature):
                return 0, (digest,)
            raise SignatureMismatch
        digests = self.digests(body)
        found = -1
        for index, digest in enumerate(digests):
            if hmac.compare_digest(digest, signature) and found < 0:
                found = index
        if found < 0:
            raise SignatureMismatch
        return found, digests

    def match(self, body: Body, signature: bytes) -> bytes:
        """Return the HMAC digest of ``body`` under the secret whose digest equals ``signature``.

        Raises:
            SignatureMismatch: no secret produces ``signature``.
        """
        index, digests = self.search(body, signature)
        return digests[index]


_KEY_NOT_TEXT: Final = (
    "A webhook secret must be a str such as 'whsec_...' (the text CortexBuild returned, "
    "prefix included), not bytes; use secret.decode() if you read it as bytes."
)


@functools.lru_cache(maxsize=64)
def _hmac_pads(key: bytes) -> tuple[hashlib._Hash, hashlib._Hash]:
    # RFC 2104, exactly as the standard library's hmac module builds it. Cached, so a stateless
    # ch.verify(body, headers, secret) does not rebuild them per call; the states are only ever
    # copied, never updated, so sharing them between SecretKeys instances and threads is safe.
    if len(key) > _BLOCK_SIZE:
        key = hashlib.sha256(key).digest()
    key = key.ljust(_BLOCK_SIZE, b"\0")
    return hashlib.sha256(key.translate(_TRANS_36)), hashlib.sha256(key.translate(_TRANS_5C))


def compute_signature(body: Body, secret: str) -> str:
    """Return the hex signature CortexBuild would send for ``body`` under ``secret``.

    Raises:
        BodyTypeError: ``body`` is not bytes.
        ConfigurationError: the secret is empty or not a str.
    """
    check_body(body)
    return hmac.digest(SecretKeys(secret).keys[0], body, "sha256").hex()


def now_ms(now: Now | None = None) -> int:
    """Return ``now`` (default: the current time) as integer Unix milliseconds.

    Raises:
        ConfigurationError: ``now`` is a naive datetime.
    """
    if now is None:
        return time.time_ns() // 1_000_000
    if isinstance(now, datetime):
        if now.tzinfo is None:
            raise ConfigurationError("now must be timezone-aware.")
        return int(now.timestamp() * 1000)
    return int(now * 1000)


def new_delivery_id() -> str:
    """Return a fresh delivery id: ``dlv_`` + 32 hex digits (128 random bits). Never raises."""
    return f"dlv_{os.urandom(16).hex()}"


def sign(
    body: Body,
    secret: str,
    timestamp: int | None = None,
    event: str | None = None,
    delivery_id: str | None = None,
    webhook_id: str | None = None,
) -> dict[str, str]:
    """Return the headers CortexBuild would send with ``body``, signed with ``secret``.

    Args:
        body: the exact bytes to send (``body.encode()`` a JSON text first).
        secret: the webhook secret, ``whsec_`` prefix included.
        timestamp: Unix milliseconds for ``X-CortexBuild-Timestamp``; default now.
        event: the ``X-CortexBuild-Event`` value; omitted when ``None``.
        delivery_id: ``X-CortexBuild-Delivery-Id``; a fresh id is generated when ``None``.
        webhook_id: ``X-CortexBuild-Webhook-Id``; omitted when ``None``.

    Raises:
        BodyTypeError: ``body`` is not bytes (like :func:`verify`, ``sign`` takes raw bytes).
        ConfigurationError: the secret is empty or not a str.
    """
    headers = {
        "Content-Type": "application/json",
        "X-CortexBuild-Signature": compute_signature(body, secret),
        "X-CortexBuild-Timestamp": str(now_ms() if timestamp is None else timestamp),
        "X-CortexBuild-Delivery-Id": delivery_id or new_delivery_id(),
    }
    if event is not None:
        headers["X-CortexBuild-Event"] = event
    if webhook_id is not None:
        headers["X-CortexBuild-Webhook-Id"] = webhook_id
    return headers


def parse_signature(value: str | None) -> bytes:
    """Return the 32 bytes that the signature header's hex spells.

    Raises:
        MissingSignature: the header is absent.
        MalformedSignature: it is not exactly 64 hex digits.
    """
    if value is None:
        raise MissingSignature
    if len(value) == 64:
        try:
            raw = bytes.fromhex(value)
        except ValueError:
            raise MalformedSignature from None
        # fromhex skips ASCII whitespace, so 64 characters with spaces decode to fewer bytes.
        if len(raw) == 32:
            return raw
    raise MalformedSignature


def parse_timestamp(value: str | None) -> int:
    """Return the timestamp header as integer Unix milliseconds.

    Raises:
        MissingTimestamp: the header is absent.
        InvalidTimestamp: it is not 1-15 ASCII digits (no sign, separator, space or fraction).
    """
    if value is None:
        raise MissingTimestamp
    if 0 < len(value) <= _MAX_TIMESTAMP_DIGITS and value.isascii() and value.isdigit():
        return int(value)
    raise InvalidTimestamp


def looks_like_seconds(timestamp_ms: int, now_ms_: int, window: float) -> bool:
    """Return whether a timestamp header holds Unix seconds where milliseconds belong.

    It does when, read as milliseconds, it is a date before 1973, and read as seconds, it lies
    within ``window`` seconds of ``now_ms_``. Never raises.
    """
    return timestamp_ms < _SECONDS_LOOKING_LIMIT and abs(now_ms_ // 1000 - timestamp_ms) <= window


def check_tolerance(timestamp_ms: int, now_ms_: int, tolerance_ms: int) -> None:
    """Refuse a timestamp more than ``tolerance_ms`` away from ``now_ms_`` in either direction.

    Raises:
        TimestampOutOfTolerance: outside the window; the hint says so when it looks like seconds.
    """
    if -tolerance_ms <= now_ms_ - timestamp_ms <= tolerance_ms:
        return
    if looks_like_seconds(timestamp_ms, now_ms_, max(tolerance_ms // 1000, 1)):
        raise TimestampOutOfTolerance(
            hint="The timestamp looks like seconds; CortexBuild sends Unix milliseconds."
        )
    raise TimestampOutOfTolerance


def authenticate(
    body: bytes | bytearray | memoryview,
    signature_text: str | None,
    timestamp_text: str | None,
    keys: SecretKeys,
    now_ms_: int,
    tolerance_ms: int,
) -> tuple[int, tuple[bytes, ...]]:
    """Run the authentication checks on already-read header values.

    In the documented order: signature present and well-formed, timestamp present, well-formed
    and within ±``tolerance_ms`` of ``now_ms_``, then the HMAC under each key. The one place
    this sequence lives: :func:`verify_signature`, ``ch.verify`` and the Receiver all call it.
    Returns what :meth:`SecretKeys.search` returns: the index of the secret that signed the body
    (0 = newest) and the body's digest under every secret.

    Raises:
        MissingSignature: the signature header is absent.
        MalformedSignature: the signature is not exactly 64 hex digits.
        MissingTimestamp: the timestamp header is absent.
        InvalidTimestamp: the timestamp is not plain ASCII digits.
        TimestampOutOfTolerance: the timestamp is further than ``tolerance_ms`` from now.
        SignatureMismatch: no secret produces the signature for ``body``.
    """
    # The well-formed case inline (it is every genuine request's path); the parsers below
    # decide, and name, every other case.
    if (
        signature_text is not None
        and len(signature_text) == 64
        and timestamp_text is not None
        and 0 < len(timestamp_text) <= _MAX_TIMESTAMP_DIGITS
        and timestamp_text.isascii()
        and timestamp_text.isdigit()
        and -tolerance_ms <= now_ms_ - int(timestamp_text) <= tolerance_ms
    ):
        try:
            signature = bytes.fromhex(signature_text)
        except ValueError:
            raise MalformedSignature from None
        if len(signature) == 32:
            return keys.search(body, signature)
    signature = parse_signature(signature_text)
    timestamp = parse_timestamp(timestamp_text)
    check_tolerance(timestamp, now_ms_, tolerance_ms)
    return keys.search(body, signature)


def verify_signature(
    body: bytes | bytearray | memoryview,
    headers: Headers | Mapping[str, str],
    keys: SecretKeys,
    *,
    tolerance: float = DEFAULT_TOLERANCE,
    now: Now | None = None,
) -> bytes:
    """Check the signature and timestamp headers of one request; return the matching HMAC digest.

    The checks run in the documented order: signature present and well-formed, timestamp present,
    well-formed and within ±``tolerance`` seconds of ``now``, then the HMAC under each key.

    Raises:
        BodyTypeError: ``body`` is not bytes.
        MissingSignature: the signature header is absent.
        MalformedSignature: the signature is not exactly 64 hex digits.
        MissingTimestamp: the timestamp header is absent.
        InvalidTimestamp: the timestamp is not plain ASCII digits.
        TimestampOutOfTolerance: the timestamp is further than ``tolerance`` from now.
        SignatureMismatch: no secret produces the signature for ``body``.
    """
    check_body(body)
    signature_text, timestamp_text = signature_headers(headers)
    index, digests = authenticate(
        body, signature_text, timestamp_text, keys, now_ms(now), int(tolerance * 1000)
    )
    return digests[index]

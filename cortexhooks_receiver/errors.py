"""The error hierarchy: every refusal the receiver can give, with a stable code, status and hint.

Each failure of the request pipeline is one subclass of :class:`WebhookError`. ``code`` is stable
and documented (clients may match on it), ``status`` is the HTTP status the receiver answers with,
and ``hint`` helps a human fix the cause. Messages and hints are written to be shown: they never
contain a secret, an expected signature or any part of the request body.
"""

from __future__ import annotations

from typing import ClassVar

import msgspec

__all__ = [
    "BodyTypeError",
    "ConfigurationError",
    "CortexHooksError",
    "EventTooOld",
    "HandlerError",
    "InProgress",
    "InvalidDeliveryId",
    "InvalidPayload",
    "InvalidTimestamp",
    "MalformedSignature",
    "MethodNotAllowed",
    "MissingSignature",
    "MissingTimestamp",
    "PayloadTooLarge",
    "SecretTypeError",
    "SignatureMismatch",
    "StoreUnavailable",
    "TimestampOutOfTolerance",
    "UnsupportedMediaType",
    "UsageError",
    "VerificationError",
    "WebhookError",
]


class CortexHooksError(Exception):
    """The root of every exception this package raises on purpose."""


class UsageError(CortexHooksError):
    """A programming mistake in how the package is called or set up (not a bad request)."""


class ConfigurationError(UsageError, ValueError):
    """A receiver, store or adapter was set up wrongly (an empty secret, an unknown store URL).

    Raised at construction or registration time, never while handling a request.
    """


class SecretTypeError(ConfigurationError, TypeError):
    """A webhook secret is not a ``str`` (e.g. ``b"whsec_..."``)."""


class BodyTypeError(UsageError, TypeError):
    """A request body was passed as something other than the raw bytes (a ``str``, a dict).

    The signature covers the exact bytes received; a decoded or parsed body cannot be verified.
    """


class WebhookError(CortexHooksError):
    """Base class of every refusal of a webhook request.

    Attributes:
        code: stable machine-readable code, e.g. ``"signature_mismatch"``.
        status: the HTTP status the receiver answers with.
        message: one sentence, safe to show to the sender.
        hint: a longer, safe explanation for the person debugging the integration.
    """

    code: ClassVar[str] = "webhook_error"
    status: ClassVar[int] = 400
    default_message: ClassVar[str] = "The webhook request was refused."
    default_hint: ClassVar[str] = ""

    def __init__(self, message: str | None = None, *, hint: str | None = None) -> None:
        self.message = message or self.default_message
        self.hint = self.default_hint if hint is None else hint
        super().__init__(self.message)

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, message={self.message!r})"

    def to_body(self) -> bytes:
        """Return the JSON error body ``{"error": code, "message": message}`` as bytes."""
        if self.message is self.default_message:
            return _constant_body(type(self))
        return _encode_body(self.code, self.message)


def _encode_body(code: str, message: str) -> bytes:
    return msgspec.json.encode({"error": code, "message": message})


_BODIES: dict[type[WebhookError], bytes] = {}


def _constant_body(cls: type[WebhookError]) -> bytes:
    # Error bodies for the default messages are built once: refusals are cheap to answer.
    body = _BODIES.get(cls)
    if body is None:
        body = _BODIES[cls] = _encode_body(cls.code, cls.default_message)
    return body


class MethodNotAllowed(WebhookError):
    """The request method was not POST (405)."""

    code = "method_not_allowed"
    status = 405
    default_message = "Webhook deliveries must use POST."


class PayloadTooLarge(WebhookError):
    """The body is larger than ``max_body_bytes`` (413)."""

    code = "payload_too_large"
    status = 413
    default_message = "The request body is larger than this endpoint accepts."
    default_hint = "Raise max_body_bytes on the Receiver if legitimate deliveries are this large."


class UnsupportedMediaType(WebhookError):
    """The body is not declared as JSON, or is compressed (415)."""

    code = "unsupported_media_type"
    status = 415
    default_message = "The body must be uncompressed JSON (Content-Type: application/json)."


class VerificationError(WebhookError):
    """Base class of every authentication failure (401): the request is not provably genuine."""

    code = "verification_failed"
    status = 401
    default_message = "The webhook could not be verified."


class MissingSignature(VerificationError):
    """The ``X-CortexBuild-Signature`` header is absent (401)."""

    code = "missing_signature"
    default_message = "The X-CortexBuild-Signature header is missing."
    default_hint = (
        "Check that a proxy or the framework does not strip X-CortexBuild-* headers, and that "
        "the request really comes from CortexBuild."
    )


class MalformedSignature(VerificationError):
    """The signature header is not exactly 64 hexadecimal digits (401)."""

    code = "malformed_signature"
    default_message = "The X-CortexBuild-Signature header is not 64 hexadecimal digits."
    default_hint = (
        "CortexBuild sends the hex HMAC-SHA256 digest with no prefix; a value joined from two "
        "headers ('a, b') or with a 'sha256=' prefix is refused."
    )


class MissingTimestamp(VerificationError):
    """The ``X-CortexBuild-Timestamp`` header is absent (401)."""

    code = "missing_timestamp"
    default_message = "The X-CortexBuild-Timestamp header is missing."


class InvalidTimestamp(VerificationError):
    """The timestamp header is not a plain ASCII integer of Unix milliseconds (401)."""

    code = "invalid_timestamp"
    default_message = "The X-CortexBuild-Timestamp header is not a Unix time in milliseconds."
    default_hint = "The value must be digits only, e.g. 1699545600000."


class TimestampOutOfTolerance(VerificationError):
    """The timestamp header is further from now than the tolerance allows (401)."""

    code = "timestamp_out_of_tolerance"
    default_message = "The X-CortexBuild-Timestamp header is outside the accepted time window."
    default_hint = (
        "Check the clocks of sender and receiver (NTP), or whether this is a replayed request."
    )


class SignatureMismatch(VerificationError):
    """No configured secret produces the given signature for this body (401)."""

    code = "signature_mismatch"
    default_message = "The signature does not match the request body."
    default_hint = (
        "Use the secret CortexBuild returned when the webhook was registered (whsec_ prefix "
        "included, as-is), and verify the raw request body: a body that was parsed and "
        "re-serialised has different bytes."
    )


class EventTooOld(VerificationError):
    """The signed body ``timestamp`` is older than the retention, or in the future (401)."""

    code = "event_too_old"
    default_message = "The signed event timestamp is outside the accepted age."
    default_hint = (
        "A body older than the receiver's retention can no longer be checked for replays and is "
        "refused; raise retention if the platform legitimately retries for longer."
    )


class InvalidPayload(WebhookError):
    """The verified body is not a JSON object of the documented shape (400)."""

    code = "invalid_payload"
    status = 400
    default_message = "The body is not a valid CortexBuild webhook payload."


class InvalidDeliveryId(WebhookError):
    """The ``X-CortexBuild-Delivery-Id`` header is not 1-128 chars of ``[A-Za-z0-9._:-]`` (400)."""

    code = "invalid_delivery_id"
    status = 400
    default_message = "The X-CortexBuild-Delivery-Id header is not a valid delivery id."


class InProgress(WebhookError):
    """Another worker is processing this delivery right now (409, with ``Retry-After``)."""

    code = "in_progress"
    status = 409
    default_message = "This delivery is being processed by another worker; retry later."


class StoreUnavailable(WebhookError):
    """The dedup store could not be reached; the receiver fails closed (503)."""

    code = "store_unavailable"
    status = 503
    default_message = "The receiver cannot check for duplicates right now; retry later."


class HandlerError(WebhookError):
    """A handler raised; the claim was released so the platform's retry runs it again (500)."""

    code = "handler_error"
    status = 500
    default_message = "A handler failed to process the event; it will be retried."

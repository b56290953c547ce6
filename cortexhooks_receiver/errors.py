"""Every exception the package raises on purpose, under one root: :class:`CortexHooksError`.

``except ch.CortexHooksError`` catches all of them. The tree::

    CortexHooksError
    ├── UsageError                    a programming mistake in how the package is called or set up
    │   ├── ConfigurationError        (also ValueError) a bad secret, store URL, option, name
    │   │   └── SecretTypeError       (also TypeError) a secret that is not a str
    │   ├── BodyTypeError             (also TypeError) a body that is not the raw bytes
    │   ├── DeliveryStateError        (sender) a delivery state change its table does not allow
    │   └── JobStateError             (jobs) a job move its transition table does not allow
    ├── WebhookError                  a refused webhook request: code, HTTP status, hint, headers
    │   ├── MethodNotAllowed          405 method_not_allowed (with Allow: POST)
    │   ├── PayloadTooLarge           413 payload_too_large
    │   ├── UnsupportedMediaType      415 unsupported_media_type
    │   ├── InvalidContentLength      400 invalid_content_length (adapters, before reading)
    │   ├── BodyAlreadyConsumed       500 body_already_consumed (adapters: the body was gone)
    │   ├── IncompleteBody            400 incomplete_body (adapters: the client stopped sending)
    │   ├── ReceiverMisconfigured     500 receiver_misconfigured (adapters: no receiver to run)
    │   ├── RateLimited               429 rate_limited (with Retry-After)
    │   ├── VerificationError         401: the request is not provably genuine
    │   │   ├── UnknownWebhook        401 unknown_webhook (secret_for knows no secret for it)
    │   │   ├── MissingSignature      401 missing_signature
    │   │   ├── MalformedSignature    401 malformed_signature
    │   │   ├── MissingTimestamp      401 missing_timestamp
    │   │   ├── InvalidTimestamp      401 invalid_timestamp
    │   │   ├── TimestampOutOfTolerance  401 timestamp_out_of_tolerance
    │   │   ├── SignatureMismatch     401 signature_mismatch
    │   │   └── EventTooOld           401 event_too_old
    │   ├── InvalidPayload            400 invalid_payload
    │   ├── InvalidDeliveryId         400 invalid_delivery_id
    │   ├── InProgress                409 in_progress (with Retry-After)
    │   ├── StoreUnavailable          503 store_unavailable
    │   ├── QueueUnavailable          503 queue_unavailable (background mode: not enqueued)
    │   ├── SecretLookupFailed        503 secret_lookup_failed (secret_for raised)
    │   └── HandlerError              500 handler_error
    ├── StoreError                    a dedup store's backing service failed or is unreachable
    ├── JournalError                  a receipt journal could not record or read (never changes
    │                                 an answer: the receiver logs it)
    ├── QueueError                    a job queue's backing service failed or is unreachable
    ├── JobNotFound                   (also LookupError) no dead letter or job has this id
    ├── PermanentError                raised by a handler: this delivery can never succeed
    ├── SenderError                   (sender) the reference sender could not deliver
    │   ├── NoResponseError           no HTTP answer arrived (timeout, connection)
    │   └── UnsafeURLError            (also ValueError) the URL policy refuses the target
    ├── ManagementAPIError            (client) the webhook management API answered with an error
    ├── EmulatorError                 (emulator) the local emulator refused an API call
    └── CLIError                      (cli) the ``cortexhooks`` command was used wrongly

The errors marked (sender), (jobs), (client), (emulator) and (cli) live beside the parts that
raise them, so that this module depends on nothing.

A :class:`WebhookError` carries what the answer needs: ``code`` (stable, documented; clients may
match on it), ``status``, ``headers`` (``Allow``, ``Retry-After``) and a ``hint`` for the human
fixing the cause. Messages and hints are written to be shown: they never contain a secret, an
expected signature or any part of the request body.
"""

from __future__ import annotations

from typing import ClassVar

import msgspec

__all__ = [
    "BodyAlreadyConsumed",
    "BodyTypeError",
    "ConfigurationError",
    "CortexHooksError",
    "EventTooOld",
    "HandlerError",
    "InProgress",
    "IncompleteBody",
    "InvalidContentLength",
    "InvalidDeliveryId",
    "InvalidPayload",
    "InvalidTimestamp",
    "JobNotFound",
    "JournalError",
    "MalformedSignature",
    "MethodNotAllowed",
    "MissingSignature",
    "MissingTimestamp",
    "PayloadTooLarge",
    "PermanentError",
    "QueueError",
    "QueueUnavailable",
    "RateLimited",
    "ReceiverMisconfigured",
    "SecretLookupFailed",
    "SecretTypeError",
    "SignatureMismatch",
    "StoreError",
    "StoreUnavailable",
    "TimestampOutOfTolerance",
    "UnknownWebhook",
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
        headers: response headers the refusal needs besides ``Content-Type`` (``Allow`` on 405,
            ``Retry-After`` on 409), as ``(name, value)`` pairs; usually empty.
        message: one sentence, safe to show to the sender.
        hint: a longer, safe explanation for the person debugging the integration.
    """

    code: ClassVar[str] = "webhook_error"
    status: ClassVar[int] = 400
    headers: tuple[tuple[str, str], ...] = ()
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
    """The request method was not POST (405, with ``Allow: POST``)."""

    code = "method_not_allowed"
    status = 405
    headers = (("Allow", "POST"),)
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


class InvalidContentLength(WebhookError):
    """The ``Content-Length`` header is not a non-negative decimal integer (400).

    Decided by an adapter before the body is read.
    """

    code = "invalid_content_length"
    status = 400
    default_message = "The Content-Length header is not a valid length."


class BodyAlreadyConsumed(WebhookError):
    """The web framework read the request body before the webhook view could (500).

    This is a setup mistake in the receiving application, not a bad request: something ran before
    the view (``request.get_json(cache=False)``, ``request.get_data(cache=False)`` or a read of
    ``request.stream`` in Flask; ``request.read()`` or multipart parsing of ``request.POST`` in
    Django; a middleware that drained the ASGI ``receive`` channel) and the raw bytes the
    signature covers are gone. The sender retries, so no delivery is lost once it is fixed.
    """

    code = "body_already_consumed"
    status = 500
    default_message = "The webhook endpoint could not read the request body."
    default_hint = (
        "Something read the request body before the webhook view (a before_request hook, a "
        "middleware, request.get_json(cache=False), request.POST on a form body). Let the "
        "webhook view read the raw body itself."
    )


class IncompleteBody(WebhookError):
    """The request body ended before its declared ``Content-Length`` (400).

    The client stopped sending, or disconnected, part way through the body: a bad request, not a
    fault of the receiving application. Decided by an adapter while reading; nothing is verified
    or recorded. (A body of which *nothing* is left is :class:`BodyAlreadyConsumed`: something
    read it before the view.)
    """

    code = "incomplete_body"
    status = 400
    default_message = "The request body ended before its declared Content-Length."
    default_hint = (
        "The client stopped sending, or the connection dropped, before the whole body arrived. "
        "CortexBuild retries a delivery that did not get a 2xx."
    )


class ReceiverMisconfigured(WebhookError):
    """The adapter's receiver cannot be built from the settings (500); the server log says why.

    The reason (which may name settings) goes to the server log only; the sender gets one safe
    sentence and retries, so no delivery is lost once the setting is fixed.
    """

    code = "receiver_misconfigured"
    status = 500
    default_message = "The webhook endpoint is misconfigured; see the server log."
    default_hint = "Run the framework's checks (manage.py check): they name the setting to fix."


class RateLimited(WebhookError):
    """Too many requests: the global or this client's rate limit is spent (429, ``Retry-After``).

    Decided before anything else of the request is read. CortexBuild retries such answers.

    Args:
        retry_after: seconds until the limit allows a request again, sent as ``Retry-After``.
    """

    code = "rate_limited"
    status = 429
    default_message = "Too many webhook requests; retry later."

    def __init__(
        self, message: str | None = None, *, hint: str | None = None, retry_after: int = 1
    ) -> None:
        super().__init__(message, hint=hint)
        self.headers = (("Retry-After", str(retry_after)),)


class VerificationError(WebhookError):
    """Base class of every authentication failure (401): the request is not provably genuine."""

    code = "verification_failed"
    status = 401
    default_message = "The webhook could not be verified."


class UnknownWebhook(VerificationError):
    """``secret_for`` knows no secret for the ``X-CortexBuild-Webhook-Id`` header (401).

    Also answered when the header is missing or is not a plausible webhook id.
    """

    code = "unknown_webhook"
    default_message = "This endpoint has no secret for the X-CortexBuild-Webhook-Id header."
    default_hint = (
        "The receiver chooses the secret by the webhook id: check that the webhook is registered "
        "with this endpoint's secret_for lookup (a new webhook may take up to secret_for_ttl "
        "seconds to be seen) and that no proxy strips X-CortexBuild-* headers."
    )


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
    """Another worker is processing this delivery right now (409, with ``Retry-After``).

    Args:
        retry_after: seconds the sender should wait, sent as the ``Retry-After`` header.
    """

    code = "in_progress"
    status = 409
    default_message = "This delivery is being processed by another worker; retry later."

    def __init__(
        self, message: str | None = None, *, hint: str | None = None, retry_after: int = 1
    ) -> None:
        super().__init__(message, hint=hint)
        self.headers = (("Retry-After", str(retry_after)),)


class StoreUnavailable(WebhookError):
    """The dedup store could not be reached; the receiver fails closed (503)."""

    code = "store_unavailable"
    status = 503
    default_message = "The receiver cannot check for duplicates right now; retry later."


class QueueUnavailable(WebhookError):
    """Background mode: the delivery could not be durably enqueued (503).

    The dedup claim is released (or was never committed), so the platform's retry enqueues it
    again; nothing is recorded as received.
    """

    code = "queue_unavailable"
    status = 503
    default_message = "The receiver cannot queue this delivery right now; retry later."


class SecretLookupFailed(WebhookError):
    """The ``secret_for`` lookup raised; the receiver cannot verify, so it asks for a retry (503).

    The reason goes to the server log only (``cortexhooks_receiver`` logger).
    """

    code = "secret_lookup_failed"
    status = 503
    default_message = "The receiver cannot look up this webhook's secret right now; retry later."


class HandlerError(WebhookError):
    """A handler raised; the claim was released so the platform's retry runs it again (500)."""

    code = "handler_error"
    status = 500
    default_message = "A handler failed to process the event; it will be retried."


class StoreError(CortexHooksError):
    """A dedup store's backing service failed or could not be reached.

    The receiver answers such a failure with 503 ``store_unavailable`` (it fails closed).
    """


class JournalError(CortexHooksError):
    """A receipt journal's backing service failed, or a receipt cannot be found or rerun.

    When the receiver writes a receipt, such a failure never changes the answer: it is logged
    (rate-limited) on the ``cortexhooks_receiver.journal`` logger and the request is answered as
    if nothing happened.
    """


class QueueError(CortexHooksError):
    """A job queue's backing service failed or could not be reached.

    In background mode the receiver answers a failed enqueue with 503 ``queue_unavailable``; a
    worker logs the failure and tries again after a pause.
    """


class JobNotFound(CortexHooksError, LookupError):
    """No dead letter (or job) has the given id: it was replayed, purged, or never existed."""


class PermanentError(CortexHooksError):
    """Raise it in a handler when the delivery can never succeed (say, an unknown customer).

    A worker dead-letters the job at once instead of retrying it; the dead letter keeps the
    error's type and message. Inline (no queue) it is a handler failure like any other: 500
    ``handler_error``, and the platform retries. It is not a :class:`UsageError` (nothing is
    wrong with how the package is called) nor a :class:`WebhookError` (the request was fine):
    it is the handler's verdict on the event, so it sits on a branch of its own.
    """

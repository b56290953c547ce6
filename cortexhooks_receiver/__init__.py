"""Receive CortexBuild webhooks safely: verify, deduplicate, parse into typed events, dispatch.

``import cortexhooks_receiver as ch``; the public surface is what ``__all__`` lists.
"""

from typing import TYPE_CHECKING

from . import events
from ._hooks import RejectedRequest
from ._version import __version__
from .errors import (
    BodyAlreadyConsumed,
    BodyTypeError,
    ConfigurationError,
    CortexHooksError,
    EventTooOld,
    HandlerError,
    IncompleteBody,
    InProgress,
    InvalidContentLength,
    InvalidDeliveryId,
    InvalidPayload,
    InvalidTimestamp,
    JobNotFound,
    JournalError,
    MalformedSignature,
    MethodNotAllowed,
    MissingSignature,
    MissingTimestamp,
    PayloadTooLarge,
    PermanentError,
    QueueError,
    QueueUnavailable,
    RateLimited,
    SecretLookupFailed,
    SecretTypeError,
    SignatureMismatch,
    StoreError,
    StoreUnavailable,
    TimestampOutOfTolerance,
    UnknownWebhook,
    UnsupportedMediaType,
    UsageError,
    VerificationError,
    WebhookError,
)
from .events import Event, UnknownEvent
from .receiver import DEFAULT_PATH, Outcome, Receiver, verify
from .routing import Router, default_router, on
from .signature import sign

if TYPE_CHECKING:
    from .jobs.worker import Worker

__all__ = [
    "DEFAULT_PATH",
    "BodyAlreadyConsumed",
    "BodyTypeError",
    "ConfigurationError",
    "CortexHooksError",
    "Event",
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
    "Outcome",
    "PayloadTooLarge",
    "PermanentError",
    "QueueError",
    "QueueUnavailable",
    "RateLimited",
    "Receiver",
    "RejectedRequest",
    "Router",
    "SecretLookupFailed",
    "SecretTypeError",
    "SignatureMismatch",
    "StoreError",
    "StoreUnavailable",
    "TimestampOutOfTolerance",
    "UnknownEvent",
    "UnknownWebhook",
    "UnsupportedMediaType",
    "UsageError",
    "VerificationError",
    "WebhookError",
    "Worker",
    "__version__",
    "default_router",
    "events",
    "on",
    "sign",
    "verify",
]


def __getattr__(name: str) -> object:
    # ch.Worker is imported on first use: `import cortexhooks_receiver` stays fast for the web
    # processes, which never run one.
    if name == "Worker":
        from .jobs.worker import Worker

        return Worker
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

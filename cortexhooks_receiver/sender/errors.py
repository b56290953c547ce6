"""The sender's errors, under the package root (see :mod:`cortexhooks_receiver.errors`)."""

from __future__ import annotations

from cortexhooks_receiver.errors import CortexHooksError, UsageError

__all__ = ["DeliveryStateError", "NoResponseError", "SenderError", "UnsafeURLError"]


class SenderError(CortexHooksError):
    """The reference sender could not deliver a webhook."""


class NoResponseError(SenderError):
    """A delivery attempt got no HTTP answer.

    Attributes:
        kind: ``"timeout"`` or ``"connection"``.
        message: a description of the failure (never a secret or a body).
    """

    def __init__(self, kind: str, message: str) -> None:
        self.kind = kind
        self.message = message
        super().__init__(message)


class UnsafeURLError(SenderError, ValueError):
    """A webhook URL the policy refuses; ``reason`` is a short category, ``message`` a sentence.

    The message names the host and the category, never a secret.
    """

    def __init__(self, message: str, *, reason: str) -> None:
        self.reason = reason
        self.message = message
        super().__init__(message)


class DeliveryStateError(UsageError):
    """A delivery was moved between states that the table of :mod:`.states` does not connect.

    A programming mistake, never a receiver's answer: e.g. attempting a delivery that already
    succeeded, or reviving a cancelled one.
    """

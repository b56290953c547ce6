"""The webhook management API's wire models, shared by the client and the emulator that serves it.

:class:`~cortexhooks_receiver.client.ManagementClient` decodes the answers into these Structs;
the emulator (:mod:`cortexhooks_receiver.emulator`) builds its answers from them. Neither
imports the other: both depend on this module. Field names are camelCase on the wire.
"""

from __future__ import annotations

import msgspec

from cortexhooks_receiver.sender.states import DeliveryState

__all__ = [
    "AttemptRecord",
    "CreatedWebhook",
    "DeliveryRecord",
    "EmitResult",
    "QueuedDelivery",
    "TestResult",
    "Webhook",
]


class Webhook(msgspec.Struct, frozen=True, rename="camel"):
    """A registered webhook as the management API lists it (the secret is never listed)."""

    id: str
    url: str
    events: list[str]
    description: str | None = None
    active: bool = True
    consecutive_failures: int = 0
    created_at: int = 0
    updated_at: int = 0


class CreatedWebhook(msgspec.Struct, frozen=True, rename="camel"):
    """The answer to a registration: the new webhook's id and its secret (shown only once)."""

    webhook_id: str
    secret: str
    success: bool = True
    message: str = "Webhook registered successfully"

    def __repr__(self) -> str:
        return f"CreatedWebhook(webhook_id={self.webhook_id!r}, secret=<hidden>)"


class TestResult(msgspec.Struct, frozen=True, rename="camel"):
    """The result of ``POST /api/webhooks/:id/test``: one attempt, made synchronously."""

    __test__ = False  # not a pytest test class

    success: bool
    delivery_id: str
    status: int | None = None
    latency_ms: float = 0.0
    error: str | None = None


class QueuedDelivery(msgspec.Struct, frozen=True, rename="camel"):
    """One delivery created by an emitted event."""

    delivery_id: str
    webhook_id: str


class EmitResult(msgspec.Struct, frozen=True, rename="camel"):
    """The answer to ``POST /api/events`` (emulator): the deliveries it queued."""

    event: str
    deliveries: list[QueuedDelivery]
    success: bool = True


class AttemptRecord(msgspec.Struct, frozen=True, rename="camel"):
    """One logged attempt of a delivery."""

    number: int
    timestamp: int
    outcome: str
    status: int | None = None
    latency_ms: float = 0.0
    error: str | None = None
    replay: bool = False


class DeliveryRecord(msgspec.Struct, frozen=True, rename="camel"):
    """A logged delivery with its attempts (emulator)."""

    delivery_id: str
    webhook_id: str
    event: str
    state: DeliveryState
    created_at: int
    attempts: list[AttemptRecord]
    next_attempt_at: int | None = None

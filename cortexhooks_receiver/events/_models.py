"""The entity models carried in ``data``: one frozen msgspec Struct per kind of CortexBuild object.

Conventions shared by every model:

* attributes are snake_case, JSON keys camelCase (``project_id`` <- ``"projectId"``);
* ``id`` is the only required field; every other field defaults to ``None`` so that a payload that
  omits a field still decodes (forward and backward compatible);
* unknown JSON keys are ignored, so new platform fields never break a receiver (read them through
  ``event.json()``);
* money is :class:`decimal.Decimal`, decoded exactly from the JSON number text (``0.1`` stays
  ``Decimal("0.1")``); a non-finite amount (``"NaN"``, ``"Infinity"``) is refused;
* date-times must carry a timezone (``Z`` or ``+02:00``), as JavaScript's ``toISOString()`` always
  produces; a naive date-time is refused as an invalid payload rather than guessed at. Calendar
  fields (``start_date``, ``due_date``...) are :class:`datetime.date` (``"2025-11-30"``).
"""

from __future__ import annotations

import datetime as _dt
from decimal import Decimal
from typing import Annotated, Any

import msgspec

__all__ = [
    "Agent",
    "AgentExecution",
    "AgentSubscription",
    "AssignedTask",
    "AwareDatetime",
    "Deleted",
    "Document",
    "Drawing",
    "Entity",
    "Expense",
    "Incident",
    "Inspection",
    "Invoice",
    "Payment",
    "Project",
    "ProjectStatusChange",
    "RejectedDocument",
    "Task",
    "User",
    "Violation",
]

AwareDatetime = Annotated[_dt.datetime, msgspec.Meta(tz=True)]
"""A date-time that must carry a timezone offset (RFC 3339, e.g. ``2025-11-09T14:30:00Z``)."""


class Entity(
    msgspec.Struct, frozen=True, kw_only=True, rename="camel", forbid_unknown_fields=False
):
    """Base class of every entity model: an ``id`` and nothing else required."""

    id: str


def _check_money(json_name: str, amount: Decimal | None) -> None:
    # Raised inside __post_init__, msgspec reports it at the model's path; "@field:" lets
    # decode_event name the field itself ("data.amount: expected a finite decimal number").
    if amount is not None and not amount.is_finite():
        raise ValueError(f"@{json_name}: expected a finite decimal number")


class Deleted(Entity, frozen=True):
    """The payload of every ``*.deleted`` event: only the id of the object that was deleted."""


class User(Entity, frozen=True):
    """A member of a company on CortexBuild."""

    name: str | None = None
    email: str | None = None
    role: str | None = None
    status: str | None = None
    company_id: str | None = None
    phone: str | None = None
    joined_at: AwareDatetime | None = None
    updated_at: AwareDatetime | None = None
    deactivated_at: AwareDatetime | None = None


class Project(Entity, frozen=True):
    """A construction project."""

    name: str | None = None
    description: str | None = None
    status: str | None = None
    company_id: str | None = None
    client_id: str | None = None
    manager_id: str | None = None
    address: str | None = None
    budget: Decimal | None = None
    currency: str | None = None
    start_date: _dt.date | None = None
    end_date: _dt.date | None = None
    created_at: AwareDatetime | None = None
    updated_at: AwareDatetime | None = None
    completed_at: AwareDatetime | None = None

    def __post_init__(self) -> None:
        _check_money("budget", self.budget)


class ProjectStatusChange(Project, frozen=True):
    """A project whose status just changed: the project plus ``old_status`` and ``new_status``."""

    old_status: str | None = None
    new_status: str | None = None


class Task(Entity, frozen=True):
    """A task on a project (the guide's example payload is a task)."""

    title: str | None = None
    description: str | None = None
    status: str | None = None
    priority: str | None = None
    project_id: str | None = None
    assigned_to: str | None = None
    assigned_by: str | None = None
    due_date: _dt.date | None = None
    created_at: AwareDatetime | None = None
    updated_at: AwareDatetime | None = None
    completed_at: AwareDatetime | None = None


class AssignedTask(Task, frozen=True):
    """A task that was just assigned: the task plus the ``assignee`` (``assigned_to`` is the id)."""

    assignee: User | None = None
    assigned_at: AwareDatetime | None = None


class Payment(Entity, frozen=True):
    """A payment received against an invoice."""

    amount: Decimal | None = None
    currency: str | None = None
    method: str | None = None
    reference: str | None = None
    paid_at: AwareDatetime | None = None

    def __post_init__(self) -> None:
        _check_money("amount", self.amount)


class Invoice(Entity, frozen=True):
    """An invoice to a client; ``payment`` is set on ``invoice.paid``."""

    number: str | None = None
    project_id: str | None = None
    client_id: str | None = None
    client_name: str | None = None
    status: str | None = None
    amount: Decimal | None = None
    tax_amount: Decimal | None = None
    currency: str | None = None
    issue_date: _dt.date | None = None
    due_date: _dt.date | None = None
    sent_at: AwareDatetime | None = None
    paid_at: AwareDatetime | None = None
    created_at: AwareDatetime | None = None
    payment: Payment | None = None

    def __post_init__(self) -> None:
        _check_money("amount", self.amount)
        _check_money("taxAmount", self.tax_amount)


class Expense(Entity, frozen=True):
    """An expense recorded against a project."""

    project_id: str | None = None
    description: str | None = None
    category: str | None = None
    vendor: str | None = None
    status: str | None = None
    amount: Decimal | None = None
    currency: str | None = None
    incurred_on: _dt.date | None = None
    submitted_by: str | None = None
    approved_by: str | None = None
    created_at: AwareDatetime | None = None
    approved_at: AwareDatetime | None = None

    def __post_init__(self) -> None:
        _check_money("amount", self.amount)


class Incident(Entity, frozen=True):
    """A safety incident on site (the guide's handler reads ``location``)."""

    project_id: str | None = None
    title: str | None = None
    description: str | None = None
    severity: str | None = None
    status: str | None = None
    location: str | None = None
    injuries: int | None = None
    reported_by: str | None = None
    resolved_by: str | None = None
    resolution: str | None = None
    occurred_at: AwareDatetime | None = None
    reported_at: AwareDatetime | None = None
    resolved_at: AwareDatetime | None = None


class Inspection(Entity, frozen=True):
    """A safety inspection of a site."""

    project_id: str | None = None
    title: str | None = None
    inspection_type: str | None = None
    status: str | None = None
    result: str | None = None
    score: int | None = None
    location: str | None = None
    inspector_id: str | None = None
    findings: tuple[str, ...] | None = None
    scheduled_at: AwareDatetime | None = None
    completed_at: AwareDatetime | None = None


class Violation(Entity, frozen=True):
    """A safety violation detected on site (by an inspector or an AI agent)."""

    project_id: str | None = None
    inspection_id: str | None = None
    category: str | None = None
    description: str | None = None
    severity: str | None = None
    status: str | None = None
    location: str | None = None
    detected_by: str | None = None
    detected_at: AwareDatetime | None = None


class Document(Entity, frozen=True):
    """A project document (contract, permit, RFI, submittal...)."""

    project_id: str | None = None
    name: str | None = None
    category: str | None = None
    status: str | None = None
    url: str | None = None
    mime_type: str | None = None
    size_bytes: int | None = None
    version: int | None = None
    uploaded_by: str | None = None
    uploaded_at: AwareDatetime | None = None
    reviewed_by: str | None = None
    reviewed_at: AwareDatetime | None = None


class RejectedDocument(Document, frozen=True):
    """A document that was rejected: the document plus the ``reason``."""

    reason: str | None = None


class Drawing(Entity, frozen=True):
    """A drawing (plan) whose new revision was uploaded."""

    project_id: str | None = None
    number: str | None = None
    title: str | None = None
    discipline: str | None = None
    revision: str | None = None
    previous_revision: str | None = None
    status: str | None = None
    url: str | None = None
    uploaded_by: str | None = None
    revised_at: AwareDatetime | None = None


class AgentExecution(Entity, frozen=True):
    """The result of one run of an AI agent; ``result`` is the agent's own JSON output."""

    agent_id: str | None = None
    agent_name: str | None = None
    project_id: str | None = None
    status: str | None = None
    triggered_by: str | None = None
    started_at: AwareDatetime | None = None
    completed_at: AwareDatetime | None = None
    duration_ms: int | None = None
    result: Any = None
    error: str | None = None


class AgentSubscription(Entity, frozen=True):
    """A user's subscription to a marketplace agent."""

    agent_id: str | None = None
    user_id: str | None = None
    company_id: str | None = None
    plan: str | None = None
    status: str | None = None
    price: Decimal | None = None
    currency: str | None = None
    subscribed_at: AwareDatetime | None = None

    def __post_init__(self) -> None:
        _check_money("price", self.price)


class Agent(Entity, frozen=True):
    """An AI agent published to the CortexBuild marketplace."""

    name: str | None = None
    description: str | None = None
    category: str | None = None
    version: str | None = None
    publisher_id: str | None = None
    status: str | None = None
    price: Decimal | None = None
    currency: str | None = None
    published_at: AwareDatetime | None = None

    def __post_init__(self) -> None:
        _check_money("price", self.price)

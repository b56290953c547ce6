"""Realistic sample ``data`` for every catalog event, and dotted-path overrides.

``sample_data(name)`` returns the ``data`` object CortexBuild would send with event ``name``
(camelCase keys, nulls omitted); ``set_path`` sets or removes (:data:`REMOVE`) a value at a dotted
path. Runtime code (the emulator, ``cortexhooks trigger`` and ``demo``) and the test factories of
:mod:`cortexhooks_receiver.testing` build their payloads from these, so a sample is written once.

The samples are keyed by the catalog's data models and event names, and a test checks that every
catalog event has one that decodes into its model, and that every model field appears in some
sample.
"""

from __future__ import annotations

import copy
import re
from collections.abc import MutableMapping
from typing import Any, Final

from . import _models as m
from .catalog import CATALOG

__all__ = ["REMOVE", "sample_data", "set_path"]


class _Remove:
    """Sentinel type of :data:`REMOVE`."""

    _instance: _Remove | None = None

    def __new__(cls) -> _Remove:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "REMOVE"


REMOVE: Final = _Remove()
"""Override value deleting the key at its path: ``make_payload(..., **{"data.title": REMOVE})``."""

_USER: Final[dict[str, Any]] = {
    "id": "user-789",
    "name": "Maria Santos",
    "email": "maria.santos@example.com",
    "role": "site_supervisor",
    "status": "active",
    "companyId": "comp-1",
    "phone": "+1-512-555-0142",
    "joinedAt": "2025-01-06T08:00:00.000Z",
    "updatedAt": "2025-11-09T14:30:00.000Z",
    "deactivatedAt": None,
}

# One realistic object per data model, camelCase keys as the platform sends them.
_DATA: Final[dict[type[m.Entity], dict[str, Any]]] = {
    m.Deleted: {"id": "proj-456"},
    m.User: _USER,
    m.Project: {
        "id": "proj-456",
        "name": "Riverside Office Tower",
        "description": "12-storey mixed-use office building with two levels of parking",
        "status": "active",
        "companyId": "comp-1",
        "clientId": "client-88",
        "managerId": "user-101",
        "address": "200 Riverside Dr, Austin, TX 78704",
        "budget": 12500000,
        "currency": "USD",
        "startDate": "2025-03-01",
        "endDate": "2026-09-30",
        "createdAt": "2025-02-14T09:12:00.000Z",
        "updatedAt": "2025-11-09T14:30:00.000Z",
        "completedAt": None,
    },
    m.Task: {
        "id": "task-123",
        "title": "Install electrical panels",
        "description": "Install and label the level 3 distribution panels",
        "status": "in_progress",
        "priority": "high",
        "projectId": "proj-456",
        "assignedTo": "user-789",
        "assignedBy": "user-101",
        "dueDate": "2025-11-14",
        "createdAt": "2025-11-01T08:00:00.000Z",
        "updatedAt": "2025-11-09T14:30:00.000Z",
        "completedAt": None,
    },
    m.Invoice: {
        "id": "inv-2025-0142",
        "number": "INV-2025-0142",
        "projectId": "proj-456",
        "clientId": "client-88",
        "clientName": "Riverside Holdings LLC",
        "status": "draft",
        "amount": 48250.75,
        "taxAmount": 3981.69,
        "currency": "USD",
        "issueDate": "2025-11-01",
        "dueDate": "2025-12-01",
        "sentAt": None,
        "paidAt": None,
        "createdAt": "2025-11-01T10:00:00.000Z",
        "payment": None,
    },
    m.Expense: {
        "id": "exp-318",
        "projectId": "proj-456",
        "description": "Concrete pump rental, 2 days",
        "category": "equipment",
        "vendor": "Lone Star Equipment Rental",
        "status": "pending",
        "amount": 2450.5,
        "currency": "USD",
        "incurredOn": "2025-11-07",
        "submittedBy": "user-789",
        "approvedBy": None,
        "createdAt": "2025-11-08T16:20:00.000Z",
        "approvedAt": None,
    },
    m.Incident: {
        "id": "inc-77",
        "projectId": "proj-456",
        "title": "Worker slipped on wet scaffolding",
        "description": "Minor fall on level 4 scaffolding after rain; first aid given on site",
        "severity": "medium",
        "status": "open",
        "location": "Level 4, north scaffold",
        "injuries": 1,
        "reportedBy": "user-789",
        "resolvedBy": None,
        "resolution": None,
        "occurredAt": "2025-11-09T13:55:00.000Z",
        "reportedAt": "2025-11-09T14:10:00.000Z",
        "resolvedAt": None,
    },
    m.Inspection: {
        "id": "insp-904",
        "projectId": "proj-456",
        "title": "Weekly site safety inspection",
        "inspectionType": "safety",
        "status": "completed",
        "result": "passed_with_findings",
        "score": 92,
        "location": "Whole site",
        "inspectorId": "user-205",
        "findings": [
            "Missing toe board on level 5",
            "Fire extinguisher tag expired in site office",
        ],
        "scheduledAt": "2025-11-09T09:00:00.000Z",
        "completedAt": "2025-11-09T11:45:00.000Z",
    },
    m.Violation: {
        "id": "viol-51",
        "projectId": "proj-456",
        "inspectionId": "insp-904",
        "category": "ppe",
        "description": "Worker without hard hat in active lift zone",
        "severity": "high",
        "status": "open",
        "location": "Tower crane lift zone, east side",
        "detectedBy": "agent-safety-vision",
        "detectedAt": "2025-11-09T14:22:00.000Z",
    },
    m.Document: {
        "id": "doc-3310",
        "projectId": "proj-456",
        "name": "Level 3 MEP submittal.pdf",
        "category": "submittal",
        "status": "pending_review",
        "url": "https://files.cortexbuild.example/doc-3310.pdf",
        "mimeType": "application/pdf",
        "sizeBytes": 4837201,
        "version": 2,
        "uploadedBy": "user-789",
        "uploadedAt": "2025-11-09T12:00:00.000Z",
        "reviewedBy": None,
        "reviewedAt": None,
    },
    m.Drawing: {
        "id": "dwg-A-201",
        "projectId": "proj-456",
        "number": "A-201",
        "title": "Level 2 floor plan",
        "discipline": "architectural",
        "revision": "C",
        "previousRevision": "B",
        "status": "issued_for_construction",
        "url": "https://files.cortexbuild.example/dwg-A-201-C.pdf",
        "uploadedBy": "user-101",
        "revisedAt": "2025-11-09T10:30:00.000Z",
    },
    m.AgentExecution: {
        "id": "exec-5521",
        "agentId": "agent-safety-vision",
        "agentName": "Safety Vision",
        "projectId": "proj-456",
        "status": "succeeded",
        "triggeredBy": "schedule",
        "startedAt": "2025-11-09T14:20:00.000Z",
        "completedAt": "2025-11-09T14:22:31.000Z",
        "durationMs": 151000,
        "result": {"imagesAnalysed": 48, "violationsFound": 1, "summary": "1 PPE violation"},
        "error": None,
    },
    m.AgentSubscription: {
        "id": "sub-640",
        "agentId": "agent-safety-vision",
        "userId": "user-101",
        "companyId": "comp-1",
        "plan": "monthly",
        "status": "active",
        "price": 49.99,
        "currency": "USD",
        "subscribedAt": "2025-11-09T14:30:00.000Z",
    },
    m.Agent: {
        "id": "agent-safety-vision",
        "name": "Safety Vision",
        "description": "Finds PPE and fall-protection violations in site photos",
        "category": "safety",
        "version": "1.4.0",
        "publisherId": "comp-1",
        "status": "published",
        "price": 49.99,
        "currency": "USD",
        "publishedAt": "2025-11-09T14:30:00.000Z",
    },
}
_DATA[m.ProjectStatusChange] = {
    **_DATA[m.Project],
    "status": "on_hold",
    "oldStatus": "active",
    "newStatus": "on_hold",
}
_DATA[m.AssignedTask] = {
    **_DATA[m.Task],
    "status": "todo",
    "assignee": {k: v for k, v in _USER.items() if v is not None},
    "assignedAt": "2025-11-09T14:30:00.000Z",
}
_DATA[m.RejectedDocument] = {
    **_DATA[m.Document],
    "status": "rejected",
    "reviewedBy": "user-101",
    "reviewedAt": "2025-11-09T15:05:00.000Z",
    "reason": "Panel schedule does not match drawing E-301 revision D",
}

# What differs between events sharing a model (the rest comes from _DATA).
_TWEAKS: Final[dict[str, dict[str, Any]]] = {
    "project.created": {"status": "planning"},
    "project.completed": {"status": "completed", "completedAt": "2025-11-09T14:30:00.000Z"},
    "task.created": {"status": "todo"},
    "task.completed": {
        # The guide's own example payload.
        "status": "completed",
        "completedAt": "2025-11-09T14:30:00Z",
    },
    "task.overdue": {"status": "overdue", "dueDate": "2025-11-07"},
    "task.deleted": {"id": "task-123"},
    "invoice.sent": {"status": "sent", "sentAt": "2025-11-02T09:00:00.000Z"},
    "invoice.paid": {
        "status": "paid",
        "sentAt": "2025-11-02T09:00:00.000Z",
        "paidAt": "2025-11-09T14:30:00.000Z",
        "payment": {
            "id": "pay-7781",
            "amount": 52232.44,
            "currency": "USD",
            "method": "ach",
            "reference": "ACH-20251109-0042",
            "paidAt": "2025-11-09T14:30:00.000Z",
        },
    },
    "invoice.overdue": {"status": "overdue", "sentAt": "2025-11-02T09:00:00.000Z"},
    "expense.approved": {
        "status": "approved",
        "approvedBy": "user-101",
        "approvedAt": "2025-11-09T14:30:00.000Z",
    },
    "incident.resolved": {
        "status": "resolved",
        "resolvedBy": "user-205",
        "resolution": "Scaffold boards replaced with anti-slip boards; toolbox talk held",
        "resolvedAt": "2025-11-09T17:00:00.000Z",
    },
    "document.approved": {
        "status": "approved",
        "reviewedBy": "user-101",
        "reviewedAt": "2025-11-09T15:05:00.000Z",
    },
    "user.joined": {"updatedAt": None},
    "user.deactivated": {"status": "inactive", "deactivatedAt": "2025-11-09T14:30:00.000Z"},
}

_SNAKE: Final = re.compile(r"_([a-z0-9])")


def _camel(segment: str) -> str:
    return _SNAKE.sub(lambda match: match.group(1).upper(), segment)


def sample_data(name: str) -> dict[str, Any]:
    """Return a fresh sample ``data`` object for event ``name`` (camelCase keys, nulls omitted).

    Raises:
        KeyError: ``name`` is not in the catalog.
    """
    spec = CATALOG.get(name)
    if spec is None:
        raise KeyError(f"no sample for unknown event {name!r}; pass data= explicitly")
    data = {**_DATA[spec.data_model], **_TWEAKS.get(name, {})}
    if spec.data_model is m.Deleted:
        data = {"id": data["id"]}
    return {key: copy.deepcopy(value) for key, value in data.items() if value is not None}


def set_path(obj: MutableMapping[str, Any], path: str, value: Any) -> None:
    """Set ``value`` at dotted ``path`` in nested dicts (``"data.payment.amount"``).

    Segments written in snake_case are converted to the platform's camelCase (``project_id`` ->
    ``projectId``). Missing intermediate objects are created. ``value`` :data:`REMOVE` deletes
    the key instead (no error when it is already absent).

    Raises:
        ValueError: ``path`` is empty or has an empty segment.
        TypeError: an intermediate value on the path is not a dict.
    """
    segments = path.split(".")
    if not all(segments):
        raise ValueError(f"invalid override path {path!r}: use dotted names like data.amount")
    target: Any = obj
    for segment in segments[:-1]:
        key = _camel(segment)
        if value is REMOVE and key not in target:
            return
        child = target.setdefault(key, {})
        if not isinstance(child, MutableMapping):
            raise TypeError(
                f"cannot set {path!r}: {key!r} holds a {type(child).__name__}, not an object"
            )
        target = child
    last = _camel(segments[-1])
    if value is REMOVE:
        target.pop(last, None)
    else:
        target[last] = value

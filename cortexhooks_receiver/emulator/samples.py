"""Sample payloads for emitted events, and ``path=value`` overrides (``data.amount=100``).

The realistic ``data`` and the dotted-path setter come from
:mod:`cortexhooks_receiver.events.samples`, shared with the test factories. The envelope
(``event``, ``timestamp``, ``companyId``, ``userId``) is always set here, so emitted bodies carry
the emulator's clock.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from cortexhooks_receiver.events.samples import sample_data, set_path
from cortexhooks_receiver.sender import build_payload

__all__ = ["parse_assignment", "sample_data", "sample_payload"]


def _data_for(event: str) -> dict[str, Any]:
    try:
        return sample_data(event)
    except KeyError:
        return {"id": f"{event.split('.', 1)[0]}-sample"}


def sample_payload(
    event: str,
    *,
    data: Mapping[str, Any] | None = None,
    timestamp: int,
    company_id: str = "comp-1",
    user_id: str = "user-1",
    overrides: Iterable[tuple[str, Any]] = (),
) -> dict[str, Any]:
    """Return the full envelope for ``event`` with sample (or given) data and ``overrides``.

    Sample data falls back to ``{"id": "<prefix>-sample"}`` for a name the catalog does not know.
    Override paths follow :func:`~cortexhooks_receiver.events.samples.set_path` (snake_case
    segments become camelCase).

    Raises:
        ValueError: an override path is empty or has an empty segment.
        TypeError: an override path crosses a value that is not an object.
    """
    payload = build_payload(
        event,
        data if data is not None else _data_for(event),
        company_id=company_id,
        user_id=user_id,
        timestamp=timestamp,
    )
    for path, value in overrides:
        set_path(payload, path, value)
    return payload


def parse_assignment(text: str) -> tuple[str, Any]:
    """Parse ``path=value``; the value is JSON when it parses (``100``, ``true``, ``{"a":1}``),
    otherwise the raw string.

    Raises:
        ValueError: no ``=`` in ``text``.
    """
    path, sep, raw = text.partition("=")
    if not sep:
        raise ValueError(f"expected path=value, got {text!r}")
    try:
        value: Any = json.loads(raw)
    except ValueError:
        value = raw
    return path.strip(), value

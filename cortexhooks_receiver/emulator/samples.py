"""Sample payloads for emitted events, and dotted-path overrides (``data.amount=100``).

Realistic sample data comes from :func:`cortexhooks_receiver.testing.factories.make_payload`
(one sample per catalog event). The envelope (``event``, ``timestamp``, ``companyId``,
``userId``) is always set here, so emitted bodies carry the emulator's clock.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from cortexhooks_receiver.sender import build_payload

__all__ = ["parse_assignment", "sample_data", "sample_payload", "set_path"]


def sample_data(event: str) -> dict[str, Any]:
    """Return realistic sample ``data`` for ``event`` (from the test factories).

    Falls back to ``{"id": "<prefix>-sample"}`` for a name the factories do not know.
    """
    from cortexhooks_receiver.testing.factories import make_data

    try:
        return make_data(event)
    except (KeyError, ValueError):
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

    Raises:
        ValueError: an override path is empty or crosses a non-object value.
    """
    payload = build_payload(
        event,
        data if data is not None else sample_data(event),
        company_id=company_id,
        user_id=user_id,
        timestamp=timestamp,
    )
    for path, value in overrides:
        set_path(payload, path, value)
    return payload


def set_path(target: dict[str, Any], path: str, value: Any) -> None:
    """Set ``target[a][b][c] = value`` for ``path == "a.b.c"``, creating objects on the way.

    Raises:
        ValueError: an empty path or segment, or a segment that crosses a non-object value.
    """
    segments = path.split(".")
    if not path or any(not s for s in segments):
        raise ValueError(f"invalid path {path!r}: use dotted names like data.amount")
    node: dict[str, Any] = target
    for segment in segments[:-1]:
        child = node.setdefault(segment, {})
        if not isinstance(child, dict):
            raise ValueError(f"cannot set {path!r}: {segment!r} is not an object")
        node = child
    node[segments[-1]] = value


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

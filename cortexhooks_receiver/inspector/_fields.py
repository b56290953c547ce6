"""The typed event's fields, flattened for the page: dotted path, Python type, value as text."""

from __future__ import annotations

from typing import Any, Final

import msgspec

from .session import Field

__all__ = ["typed_fields"]

_SKIPPED: Final = frozenset({"raw"})
_MAX_FIELDS: Final = 500


def typed_fields(event: msgspec.Struct) -> tuple[Field, ...]:
    """Return the fields of a typed event (a msgspec Struct), nested ones by dotted path.

    The raw body is left out (the page shows it on its own). At most 500 fields. Never raises.
    """
    found: list[Field] = []
    _walk(event, "", found)
    return tuple(found[:_MAX_FIELDS])


def _walk(value: Any, path: str, found: list[Field]) -> None:
    if len(found) >= _MAX_FIELDS:
        return
    if isinstance(value, msgspec.Struct):
        for name in value.__struct_fields__:
            if name not in _SKIPPED:
                _walk(getattr(value, name), f"{path}.{name}" if path else name, found)
        return
    if isinstance(value, dict) and value:
        for key, item in value.items():
            _walk(item, f"{path}.{key}" if path else str(key), found)
        return
    if isinstance(value, (list, tuple)) and value:
        for index, item in enumerate(value):
            _walk(item, f"{path}[{index}]", found)
        return
    found.append(Field(path, type(value).__name__, _text(value)))


def _text(value: Any) -> str:
    if value is None:
        return "None"
    if isinstance(value, (str, int, float, bool)):
        return repr(value) if isinstance(value, str) else str(value)
    iso = getattr(value, "isoformat", None)
    return str(iso()) if callable(iso) else str(value)

"""Realistic sample payloads for every catalog event, for tests and local development.

``make_payload(name)`` returns the dict CortexBuild would send for ``name``; ``make_body(name)``
the exact bytes (``JSON.stringify`` encoding, ready to sign); ``make_event(name)`` the decoded,
typed event. Overrides are dotted paths, with snake_case or camelCase segments::

    make_payload("invoice.paid", **{"data.amount": 100, "company_id": "comp-9"})
    make_payload("task.created", **{"data.title": REMOVE})      # drop a field

The sample ``data`` of each event, ``set_path`` and ``REMOVE`` live in
:mod:`cortexhooks_receiver.events.samples` (``make_data`` is its ``sample_data``), which the
emulator and the CLI use too: test helpers build on runtime code, never the other way round.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any, Final, TypeVar, overload

from cortexhooks_receiver.events import AnyEvent, Event, decode_event
from cortexhooks_receiver.events.samples import REMOVE, set_path
from cortexhooks_receiver.events.samples import sample_data as make_data
from cortexhooks_receiver.sender.jsonjs import dumps

__all__ = [
    "REMOVE",
    "SAMPLE_TIMESTAMP_MS",
    "encode_payload",
    "make_body",
    "make_data",
    "make_event",
    "make_payload",
    "set_path",
]

E = TypeVar("E", bound=Event[Any])

SAMPLE_TIMESTAMP_MS: Final = 1_762_698_600_000
"""A fixed ``timestamp`` (2025-11-09T14:30:00Z) for reproducible samples: pass ``timestamp=``."""

# The guide's payload omits null fields; so do the samples (keys with None are dropped).
_ENVELOPE: Final[dict[str, Any]] = {"companyId": "comp-1", "userId": "user-789"}


def make_payload(name: str, **overrides: Any) -> dict[str, Any]:
    """Return a realistic payload dict for event ``name``, as CortexBuild would send it.

    ``timestamp`` (an override like the others) defaults to now in Unix ms, so a receiver accepts
    the signed body; pass :data:`SAMPLE_TIMESTAMP_MS` for a reproducible one. Every other
    override is a dotted path (see :func:`set_path`), applied in order: ``company_id="comp-9"``,
    ``**{"data.amount": 100}``, ``data={...}`` (replaces the whole object). An unknown ``name``
    needs ``data=``.

    Raises:
        KeyError: ``name`` is unknown and no ``data`` override was given.
        ValueError, TypeError: an override path is invalid (see :func:`set_path`).
    """
    data = overrides.pop("data") if "data" in overrides else make_data(name)
    timestamp = overrides.pop("timestamp", None)
    payload: dict[str, Any] = {
        "event": name,
        "timestamp": int(time.time() * 1000) if timestamp is None else timestamp,
        "data": data,
        **_ENVELOPE,
    }
    for path, value in overrides.items():
        set_path(payload, path, value)
    return payload


def make_body(name: str, **overrides: Any) -> bytes:
    """Return the body bytes for :func:`make_payload` (same arguments), ready to sign.

    Encoded exactly as the platform's ``JSON.stringify`` would (compact, raw UTF-8, JavaScript
    number formatting; a ``Decimal`` becomes a JSON number).

    Raises:
        The errors of :func:`make_payload`; TypeError for a value JSON cannot encode.
    """
    return encode_payload(make_payload(name, **overrides))


def encode_payload(payload: Mapping[str, Any]) -> bytes:
    """Encode a payload dict as ``JSON.stringify`` would (see :func:`make_body`).

    Raises:
        TypeError: the payload holds a value JSON cannot encode.
    """
    return dumps(payload)


@overload
def make_event(name: type[E], **overrides: Any) -> E: ...
@overload
def make_event(name: str, **overrides: Any) -> AnyEvent: ...
def make_event(name: str | type[Event[Any]], **overrides: Any) -> Event[Any]:
    """Return the typed event decoded from :func:`make_body` (same arguments).

    ``name`` may be an event class (``make_event(InvoicePaid)``, typed as ``InvoicePaid``) or an
    event name (typed as any event). ``raw`` holds the body; ``delivery_id`` is ``None``.

    Raises:
        The errors of :func:`make_payload`; ``InvalidPayload`` when the overrides make the body
        invalid.
    """
    if isinstance(name, type):
        tag = name.__struct_config__.tag
        if not isinstance(tag, str):
            raise TypeError(f"{name.__name__} is not a catalog event class")
        name = tag
    return decode_event(make_body(name, **overrides))

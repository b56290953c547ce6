"""Test helpers for code that receives CortexBuild webhooks.

:mod:`~cortexhooks_receiver.testing.factories` (re-exported here) builds realistic payloads,
bodies and typed events for every catalog event; :mod:`~cortexhooks_receiver.testing.strategies`
has hypothesis strategies (import it explicitly: it needs hypothesis).
"""

from __future__ import annotations

from cortexhooks_receiver.testing.factories import (
    REMOVE,
    SAMPLE_TIMESTAMP_MS,
    encode_payload,
    make_body,
    make_data,
    make_event,
    make_payload,
    set_path,
)

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

"""Properties of decode_event: any input gives an event or InvalidPayload, never anything else."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cortexhooks_receiver.errors import InvalidPayload
from cortexhooks_receiver.events import CATALOG, Event, UnknownEvent, decode_event
from cortexhooks_receiver.testing import encode_payload
from cortexhooks_receiver.testing import strategies as chst

_SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _decode_or_invalid(body: bytes) -> Event[Any] | None:
    error: InvalidPayload | None = None
    try:
        event = decode_event(body)
    except InvalidPayload as exc:
        error = exc
    if error is not None:
        assert error.code == "invalid_payload"
        assert error.message
        return None
    assert isinstance(event, Event)
    assert event.raw == body
    return event


@_SETTINGS
@given(st.binary(max_size=512))
def test_arbitrary_bytes_decode_or_raise_invalid_payload(body: bytes) -> None:
    _decode_or_invalid(body)


@_SETTINGS
@given(chst.json_values())
def test_arbitrary_json_values_decode_or_raise_invalid_payload(value: Any) -> None:
    _decode_or_invalid(json.dumps(value).encode())


@_SETTINGS
@given(
    event=st.one_of(chst.event_names(), chst.unknown_event_names(), st.text(max_size=12)),
    timestamp=st.one_of(st.integers(), chst.json_values()),
    data=st.dictionaries(
        st.sampled_from(["id", "amount", "status", "completedAt", "payment", "x"]),
        chst.json_values(),
    ),
    extra=st.dictionaries(st.text(max_size=8), chst.json_values(), max_size=3),
)
def test_envelopes_with_arbitrary_field_values_decode_or_raise_invalid_payload(
    event: str, timestamp: Any, data: dict[str, Any], extra: dict[str, Any]
) -> None:
    payload = {**extra, "event": event, "timestamp": timestamp, "data": data}
    decoded = _decode_or_invalid(json.dumps(payload).encode())
    if decoded is not None:
        assert decoded.event == event
        assert decoded.delivery_id is None


@_SETTINGS
@given(chst.payloads())
def test_generated_valid_payloads_decode_into_their_catalog_model(payload: dict[str, Any]) -> None:
    body = encode_payload(payload)
    event = decode_event(body)
    spec = CATALOG[payload["event"]]
    assert type(event) is spec.model
    assert type(event.data) is spec.data_model
    assert event.data.id == payload["data"]["id"]
    assert event.timestamp == payload["timestamp"]
    assert event.company_id == payload.get("companyId")


@_SETTINGS
@given(chst.unknown_event_names(), chst.json_values(finite=True))
def test_unknown_event_names_always_decode_to_unknown_event(name: str, value: Any) -> None:
    body = json.dumps({"event": name, "timestamp": 1, "data": {"value": value}}).encode()
    event = decode_event(body)
    assert isinstance(event, UnknownEvent)
    assert event.event == name

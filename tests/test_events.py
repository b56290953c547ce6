"""decode_event: typed decoding, the envelope, unknown events and invalid bodies."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from cortexhooks_receiver.errors import InvalidPayload
from cortexhooks_receiver.events import (
    CATALOG,
    Event,
    InvoicePaid,
    TaskCompleted,
    TaskCreated,
    UnknownEvent,
    decode_event,
)

GUIDE_BODY = (
    b'{"event":"task.completed","timestamp":1699545600000,"data":{"id":"task-123",'
    b'"title":"Install electrical panels","status":"completed","projectId":"proj-456",'
    b'"assignedTo":"user-789","completedAt":"2025-11-09T14:30:00Z"},"companyId":"comp-1",'
    b'"userId":"user-789"}'
)


def test_the_guide_payload_decodes_to_a_typed_task_completed_event() -> None:
    assert len(GUIDE_BODY) == 259
    event = decode_event(GUIDE_BODY)
    assert isinstance(event, TaskCompleted)
    assert event.event == "task.completed"
    assert event.timestamp == 1699545600000
    assert event.company_id == "comp-1"
    assert event.user_id == "user-789"
    assert event.data.id == "task-123"
    assert event.data.title == "Install electrical panels"
    assert event.data.project_id == "proj-456"
    assert event.data.assigned_to == "user-789"
    assert event.data.completed_at == dt.datetime(2025, 11, 9, 14, 30, tzinfo=dt.UTC)
    assert event.occurred_at == dt.datetime(2023, 11, 9, 16, 0, tzinfo=dt.UTC)
    assert event.raw == GUIDE_BODY
    assert event.delivery_id is None
    assert event.webhook_id is None


@pytest.mark.parametrize("wrap", [bytes, bytearray, memoryview])
def test_decode_accepts_any_bytes_like_body_and_keeps_raw_as_bytes(wrap: type) -> None:
    event = decode_event(wrap(GUIDE_BODY))
    assert type(event.raw) is bytes
    assert event.raw == GUIDE_BODY


def test_money_is_decoded_exactly_as_decimal() -> None:
    body = (
        b'{"event":"invoice.paid","timestamp":1,"data":{"id":"inv-1","amount":0.1,'
        b'"taxAmount":0.2,"payment":{"id":"pay-1","amount":12345678901234567890.01}}}'
    )
    event = decode_event(body)
    assert isinstance(event, InvoicePaid)
    assert event.data.amount is not None
    assert event.data.tax_amount is not None
    assert event.data.amount + event.data.tax_amount == Decimal("0.3")
    assert event.data.payment is not None
    assert event.data.payment.amount == Decimal("12345678901234567890.01")


def test_unknown_event_names_decode_to_unknown_event_with_plain_data() -> None:
    body = b'{"event":"crane.moved","timestamp":5,"data":{"craneId":"c-1","load":2.5}}'
    event = decode_event(body)
    assert isinstance(event, UnknownEvent)
    assert isinstance(event, Event)
    assert event.event == "crane.moved"
    assert event.data == {"craneId": "c-1", "load": Decimal("2.5")}
    assert event.raw == body


def test_unknown_fields_are_ignored_and_stay_reachable_through_json() -> None:
    body = (
        b'{"event":"task.created","timestamp":1,"newTopLevel":[1,2],'
        b'"data":{"id":"t-1","futureField":{"x":1}}}'
    )
    event = decode_event(body)
    assert isinstance(event, TaskCreated)
    assert event.data.id == "t-1"
    assert event.json()["data"]["futureField"] == {"x": 1}
    assert event.json()["newTopLevel"] == [1, 2]


def test_a_body_cannot_set_the_receiver_filled_fields() -> None:
    body = (
        b'{"event":"task.created","timestamp":1,"data":{"id":"t-1"},'
        b'"__cortexhooks_delivery_id__":"forged","__cortexhooks_webhook_id__":"forged",'
        b'"__cortexhooks_raw__":"Zm9yZ2Vk","deliveryId":"forged","raw":"forged",'
        b'"__cortexhooks_attempt__":7,"attempt":7}'
    )
    for candidate in (body, body.replace(b"task.created", b"crane.moved")):
        event = decode_event(candidate)
        assert event.delivery_id is None
        assert event.webhook_id is None
        assert event.attempt == 1
        assert event.raw == candidate
    attempt_only = (
        b'{"event":"task.created","timestamp":1,"data":{"id":"t-1"},"__cortexhooks_attempt__":3}'
    )
    assert decode_event(attempt_only).attempt == 1


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"", "not valid JSON"),
        (b"[]", "JSON object"),
        (b'\xef\xbb\xbf{"event":"task.created","timestamp":1,"data":{"id":"a"}}', "byte order"),
        (b'{"event":"task.created","timestamp":1,"data":{"id":"\xff"}}', "UTF-8"),
        (b'{"event":"task.created","timestamp":"1","data":{"id":"a"}}', "timestamp: expected"),
        (b'{"event":7,"timestamp":1,"data":{}}', "event: expected a string"),
        (b'{"timestamp":1,"data":{}}', "event: required field is missing"),
        (b'{"event":"task.created","timestamp":1}', "data: required field is missing"),
        (b'{"event":"crane.moved","timestamp":1,"data":[]}', "data: expected an object"),
        (b'{"event":"task.created","timestamp":1,"data":{}}', "data.id: required field"),
        (
            b'{"event":"invoice.paid","timestamp":1,"data":{"id":"i","amount":true}}',
            "data.amount: expected a decimal number",
        ),
        (
            b'{"event":"invoice.paid","timestamp":1,"data":{"id":"i","amount":"NaN"}}',
            "data.amount: expected a finite decimal number",
        ),
        (
            b'{"event":"task.completed","timestamp":1,'
            b'"data":{"id":"t","completedAt":"2025-11-09T14:30:00"}}',
            "data.completedAt: expected an RFC 3339 date-time with a timezone",
        ),
        (b'{"event":"task.created","timestamp":1e3,"data":{"id":"a"}}', "timestamp"),
        (b'{"event":"task.created","timestamp":-1,"data":{"id":"a"}}', "timestamp"),
        (b'{"event":"task.created","timestamp":1' + b"0" * 40 + b',"data":{"id":"a"}}', "times"),
        (b'{"event":"task.created","timestamp":1,"data":{"id":"a","x":NaN}}', "not valid JSON"),
        (b"[" * 100_000, "JSON object"),
        (b'{"event":"crane.moved","timestamp":1,"data":{"a":' + b"[" * 100_000, "nested"),
    ],
)
def test_invalid_bodies_raise_invalid_payload_naming_the_problem(
    body: bytes, expected: str
) -> None:
    with pytest.raises(InvalidPayload) as info:
        decode_event(body)
    assert expected in str(info.value)
    assert info.value.code == "invalid_payload"
    assert info.value.status == 400


def test_error_messages_never_repeat_values_from_the_body() -> None:
    with pytest.raises(InvalidPayload) as info:
        decode_event(b'{"event":"task.created","timestamp":1,"data":{"id":"a","title":"s3cr3t"')
    assert "s3cr3t" not in str(info.value)
    with pytest.raises(InvalidPayload) as info:
        decode_event(
            b'{"event":"task.created","timestamp":1,"data":{"id":"a","status":["s3cr3t"]}}'
        )
    assert "s3cr3t" not in str(info.value)


def test_the_catalog_lists_31_events_in_7_families() -> None:
    assert len(CATALOG) == 31
    assert len({spec.family for spec in CATALOG}) == 7
    assert CATALOG["invoice.paid"].model is InvoicePaid
    assert "invoice.payed" not in CATALOG
    for spec in CATALOG:
        assert spec.model.event == spec.name
        assert spec.model.__struct_config__.tag == spec.name
        assert spec.model.__name__ == "".join(
            part.capitalize() for part in spec.name.replace(".", "_").split("_")
        )

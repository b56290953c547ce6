"""Factories: a realistic sample for every catalog event, overrides, JS-compatible bodies."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest
from freezegun import freeze_time

from cortexhooks_receiver.errors import InvalidPayload
from cortexhooks_receiver.events import (
    CATALOG,
    Entity,
    InvoicePaid,
    UnknownEvent,
    decode_event,
    samples,
)
from cortexhooks_receiver.events.catalog import EventSpec
from cortexhooks_receiver.testing import (
    REMOVE,
    SAMPLE_TIMESTAMP_MS,
    make_body,
    make_data,
    make_event,
    make_payload,
    set_path,
)


@pytest.mark.parametrize("spec", list(CATALOG), ids=lambda spec: spec.name)
def test_every_catalog_event_sample_decodes_into_its_model(spec: EventSpec) -> None:
    body = make_body(spec.name, timestamp=SAMPLE_TIMESTAMP_MS)
    event = decode_event(body)
    assert type(event) is spec.model
    assert type(event.data) is spec.data_model
    assert event.event == spec.name
    assert event.timestamp == SAMPLE_TIMESTAMP_MS
    assert event.company_id == "comp-1"
    assert event.raw == body
    # Nothing in the sample was lost: every sample key is a model field, decoded non-null.
    decoded = msgspec.to_builtins(event.data)
    for key, value in make_data(spec.name).items():
        assert key in decoded, f"{spec.name}: sample key {key!r} is not a field of the model"
        assert decoded[key] is not None or value is None


def _fields_of(model: type[msgspec.Struct]) -> set[str]:
    info = msgspec.inspect.type_info(model)
    assert isinstance(info, msgspec.inspect.StructType)
    return {field.encode_name for field in info.fields}


@pytest.mark.parametrize("model", sorted({spec.data_model for spec in CATALOG}, key=str))
def test_every_model_field_is_shown_in_some_sample(model: type[Entity]) -> None:
    # Fields a sample sets to null (e.g. an execution's ``error``) count: they are listed.
    shown: set[str] = set(samples._DATA[model])
    for spec in CATALOG:
        if spec.data_model is model:
            shown |= set(make_data(spec.name))
    assert _fields_of(model) - shown == set()


def test_the_task_completed_sample_carries_the_guides_fields() -> None:
    data = make_data("task.completed")
    assert {
        key: data[key]
        for key in ("id", "title", "status", "projectId", "assignedTo", "completedAt")
    } == {
        "id": "task-123",
        "title": "Install electrical panels",
        "status": "completed",
        "projectId": "proj-456",
        "assignedTo": "user-789",
        "completedAt": "2025-11-09T14:30:00Z",
    }


@pytest.mark.parametrize("name", ["project.deleted", "task.deleted"])
def test_deleted_samples_carry_only_the_id(name: str) -> None:
    assert list(make_data(name)) == ["id"]


@pytest.mark.parametrize("spec", list(CATALOG), ids=lambda spec: spec.name)
def test_bodies_are_compact_utf8_json_like_json_stringify(spec: EventSpec) -> None:
    payload = make_payload(spec.name, timestamp=SAMPLE_TIMESTAMP_MS)
    expected = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    assert make_body(spec.name, timestamp=SAMPLE_TIMESTAMP_MS) == expected


def test_non_ascii_text_is_sent_as_raw_utf8() -> None:
    body = make_body("task.created", **{"data.title": "Béton coulé, niveau 2 · zone B"})
    assert "Béton coulé, niveau 2 · zone B".encode() in body


@freeze_time("2025-11-09T14:30:00Z")
def test_the_default_timestamp_is_now_in_milliseconds() -> None:
    assert make_payload("task.created")["timestamp"] == SAMPLE_TIMESTAMP_MS


def test_dotted_snake_case_overrides_set_camel_case_keys() -> None:
    payload = make_payload(
        "invoice.paid",
        company_id="comp-9",
        **{"data.amount": "100.10", "data.payment.paid_at": "2025-12-01T00:00:00Z"},
    )
    assert payload["companyId"] == "comp-9"
    assert payload["data"]["amount"] == "100.10"
    assert payload["data"]["payment"]["paidAt"] == "2025-12-01T00:00:00Z"


def test_remove_deletes_a_key_and_a_missing_id_is_invalid() -> None:
    payload = make_payload("task.created", **{"data.title": REMOVE, "data.nothing.here": REMOVE})
    assert "title" not in payload["data"]
    assert "nothing" not in payload["data"]
    with pytest.raises(InvalidPayload, match=r"data\.id"):
        make_event("task.created", **{"data.id": REMOVE})


def test_overrides_never_leak_between_calls() -> None:
    make_payload("invoice.paid", **{"data.payment.amount": 1})
    assert make_payload("invoice.paid")["data"]["payment"]["amount"] == 52232.44


def test_set_path_refuses_empty_segments_and_non_object_parents() -> None:
    target: dict[str, Any] = {"data": {"id": "x"}}
    with pytest.raises(ValueError, match="invalid override path"):
        set_path(target, "data..id", 1)
    with pytest.raises(TypeError, match="'id' holds a str"):
        set_path(target, "data.id.deeper", 1)
    set_path(target, "data.new_field.inner", 2)
    assert target == {"data": {"id": "x", "newField": {"inner": 2}}}


def test_make_event_with_a_class_returns_that_typed_event() -> None:
    event = make_event(InvoicePaid, **{"data.amount": "0.10"})
    assert isinstance(event, InvoicePaid)
    assert str(event.data.amount) == "0.10"
    assert event.data.payment is not None


def test_unknown_event_names_need_explicit_data() -> None:
    with pytest.raises(KeyError, match=r"crane\.moved"):
        make_payload("crane.moved")
    event = make_event("crane.moved", data={"craneId": "c-1"})
    assert isinstance(event, UnknownEvent)
    assert event.data == {"craneId": "c-1"}

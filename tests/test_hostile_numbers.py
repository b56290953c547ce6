"""Numbers no Decimal can hold are invalid payloads (400), never another exception.

``Decimal("1e1000000000000000000")`` raises ``decimal.InvalidOperation``: a signed body carrying
such a number, in a typed money field, in a field the model does not know, or in an unknown
event, must be ``invalid_payload`` from ``handle``, ``handle_async`` and ``ch.verify`` alike;
``Event.json()`` raises ``ValueError``.
"""

from __future__ import annotations

import asyncio
import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cortexhooks_receiver as ch
from cortexhooks_receiver.events import decode_event

SECRET = "whsec_hostile_numbers_0123456789ab"
NOW = 1_767_225_600.0
NOW_MS = int(NOW * 1000)

# JSON numbers whose exponent no Decimal context accepts, and their neighbours that are fine.
HOSTILE = ["1e1000000000000000000", "-9.5E+9999999999999999999", "1e-1000000000000000000000"]
exponents = st.integers(min_value=-(10**22), max_value=10**22)
mantissas = st.from_regex(r"-?[1-9][0-9]{0,5}(\.[0-9]{1,4})?", fullmatch=True)
numbers = st.builds(lambda m, e: f"{m}e{e}", mantissas, exponents) | st.sampled_from(HOSTILE)
PLACES = {
    "typed money field": '{"event":"invoice.paid","timestamp":%d,"data":{"id":"i","amount":%s}}',
    "unknown field": '{"event":"task.created","timestamp":%d,"data":{"id":"t","extra":%s}}',
    "unknown event": '{"event":"crane.moved","timestamp":%d,"data":{"reading":[%s]}}',
    "envelope": '{"event":"task.created","timestamp":%d,"data":{"id":"t"},"x":{"y":%s}}',
}


def _receiver() -> ch.Receiver:
    receiver = ch.Receiver(SECRET, now=lambda: NOW, router=ch.Router())
    receiver.on("*")(lambda event: None)
    return receiver


def _body(place: str, number: str) -> bytes:
    return (PLACES[place] % (NOW_MS, number)).encode()


@pytest.mark.parametrize("place", list(PLACES))
@pytest.mark.parametrize("number", HOSTILE)
def test_a_number_no_decimal_holds_is_never_anything_but_an_answer(place: str, number: str) -> None:
    body = _body(place, number)
    headers = ch.sign(body, SECRET, timestamp=NOW_MS)
    outcome = _receiver().handle(body, headers)
    assert outcome.status in (200, 400)
    async_outcome = asyncio.run(_receiver().handle_async(body, headers))
    assert async_outcome.status == outcome.status
    if outcome.status == 400:
        assert outcome.error is not None
        assert outcome.error.code == "invalid_payload"
        with pytest.raises(ch.InvalidPayload, match=r"number out of range|invalid value"):
            ch.verify(body, headers, SECRET, now=NOW)
    else:  # the models ignore the field: accepted as a delivery, json() says why it cannot
        event = ch.verify(body, headers, SECRET, now=NOW)
        with pytest.raises(ValueError, match="Number out of range"):
            event.json()


def test_a_typed_money_field_out_of_range_is_invalid_payload_naming_the_field() -> None:
    with pytest.raises(ch.InvalidPayload) as info:
        decode_event(_body("typed money field", HOSTILE[0]))
    assert "data" in str(info.value)


@settings(max_examples=200, deadline=None)
@given(place=st.sampled_from(list(PLACES)), number=numbers)
def test_any_exponent_anywhere_gives_an_outcome_never_an_exception(place: str, number: str) -> None:
    body = _body(place, number)
    outcome = _receiver().handle(body, ch.sign(body, SECRET, timestamp=NOW_MS))
    assert outcome.status in (200, 400)
    if outcome.event is not None:
        with contextlib.suppress(ValueError):  # documented: a number beyond Decimal's range
            outcome.event.json()

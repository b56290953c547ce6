"""Delivery states: one table of states and transitions; every other move raises.

The table is written out here by hand, so a change to the package's table must be made twice
(here too) on purpose.
"""

from __future__ import annotations

import itertools
from typing import Any, get_args

import pytest

from cortexhooks_receiver.emulator import EmulatorDB
from cortexhooks_receiver.errors import CortexHooksError, UsageError
from cortexhooks_receiver.management import DeliveryRecord
from cortexhooks_receiver.sender import (
    Delivery,
    DeliveryState,
    DeliveryStateError,
    Endpoint,
    Sender,
    WSGIAppTransport,
)
from cortexhooks_receiver.sender.states import INITIAL_STATE, TRANSITIONS, advance, is_final

STATES = ["pending", "succeeded", "failed", "disabled", "cancelled"]
ALLOWED = {
    ("pending", "pending"),  # the next attempt is scheduled
    ("pending", "succeeded"),
    ("pending", "failed"),
    ("pending", "disabled"),
    ("pending", "cancelled"),
}
ILLEGAL = sorted(set(itertools.product(STATES, STATES)) - ALLOWED)


def test_the_table_holds_every_state_of_the_type_and_starts_pending() -> None:
    assert list(get_args(DeliveryState)) == STATES
    assert list(TRANSITIONS) == STATES
    assert INITIAL_STATE == "pending"
    assert Delivery("dlv_1", "webhook-1", None, b"{}").state == "pending"


@pytest.mark.parametrize(("current", "new"), sorted(ALLOWED))
def test_an_allowed_transition_returns_the_new_state(current: Any, new: Any) -> None:
    assert advance(current, new) == new


@pytest.mark.parametrize(("current", "new"), ILLEGAL)
def test_every_other_transition_raises(current: Any, new: Any) -> None:
    with pytest.raises(DeliveryStateError, match=f"a {current} delivery cannot become {new}"):
        advance(current, new)


def test_only_pending_is_not_final() -> None:
    assert [state for state in STATES if not is_final(state)] == ["pending"]


@pytest.mark.parametrize("move", [("pending", "retrying"), ("done", "pending")])
def test_a_name_that_is_no_state_raises(move: tuple[Any, Any]) -> None:
    with pytest.raises(DeliveryStateError, match="is not a delivery state"):
        advance(*move)


def test_an_illegal_transition_is_a_programming_mistake_under_the_root() -> None:
    assert issubclass(DeliveryStateError, UsageError)
    assert issubclass(DeliveryStateError, CortexHooksError)


def _ok(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "application/json")])
    return [b'{"received":true}']


def test_the_sender_refuses_to_attempt_a_finished_delivery_and_sends_nothing() -> None:
    sender = Sender(transport=WSGIAppTransport(_ok), schedule=(0,))
    endpoint = Endpoint(url="http://127.0.0.1/hook", secret="whsec_states_0123456789")
    delivery = sender.deliver(endpoint, b'{"event":"task.created"}')
    assert delivery.state == "succeeded"
    with pytest.raises(DeliveryStateError, match="is succeeded"):
        sender.attempt(endpoint, delivery)
    assert len(delivery.attempts) == 1


def test_the_emulator_database_moves_a_delivery_only_from_the_state_it_is_in() -> None:
    db = EmulatorDB()
    db.add_webhook("webhook-1", "http://127.0.0.1/hook", ["*"], None, "whsec_x", 1)
    db.add_delivery("dlv_1", "webhook-1", "task.created", b"{}", 1, 1)
    assert db.delete_webhook("webhook-1")
    row = db.delivery("dlv_1")
    assert row is not None
    assert row.state == "cancelled"
    # A dispatcher that read it as pending a moment ago cannot revive it.
    assert db.advance_delivery("dlv_1", "pending", "succeeded", None) is False
    with pytest.raises(DeliveryStateError, match="a cancelled delivery cannot become pending"):
        db.advance_delivery("dlv_1", "cancelled", "pending", 5)
    (record,) = db.records(["dlv_1"])
    assert isinstance(record, DeliveryRecord)
    assert (record.state, record.next_attempt_at) == ("cancelled", None)
    db.close()

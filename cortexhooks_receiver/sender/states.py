"""Where a delivery stands, and where it may go next: every state and transition in one table.

::

    pending ──▶ pending      the next attempt is scheduled (the emulator's dispatcher)
       ├──────▶ succeeded    an attempt got a 2xx answer in time
       ├──────▶ failed       the last scheduled attempt failed (or a test send did)
       ├──────▶ disabled     the webhook is, or just became, disabled
       └──────▶ cancelled    the webhook was deleted (the emulator)

``succeeded``, ``failed``, ``disabled`` and ``cancelled`` are final: nothing leaves them. The
sender (:class:`~cortexhooks_receiver.sender.Sender`), the emulator's dispatcher and its
database move a delivery only through :func:`advance`, which raises on any other move (the model
is h11's ``_state.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final, Literal

from .errors import DeliveryStateError

__all__ = ["INITIAL_STATE", "TRANSITIONS", "DeliveryState", "advance", "is_final"]

DeliveryState = Literal["pending", "succeeded", "failed", "disabled", "cancelled"]
"""Where a delivery stands; see the module docs for what each state means."""

INITIAL_STATE: Final[DeliveryState] = "pending"
"""The state of every new delivery."""

TRANSITIONS: Final[Mapping[DeliveryState, frozenset[DeliveryState]]] = MappingProxyType(
    {
        "pending": frozenset({"pending", "succeeded", "failed", "disabled", "cancelled"}),
        "succeeded": frozenset(),
        "failed": frozenset(),
        "disabled": frozenset(),
        "cancelled": frozenset(),
    }
)
"""State -> the states a delivery in it may move to."""


def is_final(state: DeliveryState) -> bool:
    """Return whether nothing may leave ``state`` (a finished delivery).

    Raises:
        DeliveryStateError: ``state`` is not a delivery state.
    """
    return not _moves_from(state)


def advance(current: DeliveryState, new: DeliveryState) -> DeliveryState:
    """Return ``new`` when the table allows a delivery to move from ``current`` to it.

    Raises:
        DeliveryStateError: the move is not in the table (e.g. ``succeeded`` -> ``pending``), or
            a state is not a delivery state.
    """
    if new not in _moves_from(current):
        if new not in TRANSITIONS:
            raise DeliveryStateError(f"{new!r} is not a delivery state")
        raise DeliveryStateError(f"a {current} delivery cannot become {new}")
    return new


def _moves_from(state: DeliveryState) -> frozenset[DeliveryState]:
    moves = TRANSITIONS.get(state)
    if moves is None:
        raise DeliveryStateError(f"{state!r} is not a delivery state")
    return moves

"""``CATALOG``: the event catalog as objects (name, family, model, description), read-only.

Built from the one table in ``_table.py`` and the generated event classes. Used by the router
(typo protection, wildcard families), the CLI's ``events`` listing, the docs and the test factories.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

import msgspec

from . import _classes, _table
from ._envelope import Event
from ._models import Entity

__all__ = ["CATALOG", "Catalog", "EventSpec"]


class EventSpec(msgspec.Struct, frozen=True):
    """One catalog entry.

    Attributes:
        name: the event name, e.g. ``"invoice.paid"``.
        family: the family it is listed under (``"financial"``); see :data:`FAMILIES`.
        prefix: the part before the dot (``"invoice"``): what ``"invoice.*"`` matches.
        model: the event class (``InvoicePaid``), a subclass of ``Event[data_model]``.
        data_model: the class of ``event.data`` (``Invoice``).
        description: one line, as the platform guide words it ("Invoice marked paid").
        payload: what ``data`` holds, as the guide words it ("Invoice with payment").
        project_field: the attribute of ``data`` holding the event's project id (``"id"`` on
            ``project.*`` events, ``"project_id"`` on the events of a project), or ``None`` when
            the event carries no project id.
    """

    name: str
    family: str
    prefix: str
    model: type[Event[Any]]
    data_model: type[Entity]
    description: str
    payload: str
    project_field: str | None


class Catalog:
    """The read-only collection of :class:`EventSpec`, in the guide's order.

    Iterating yields the specs; ``CATALOG["invoice.paid"]`` looks one up by name (``KeyError``
    when unknown), ``name in CATALOG`` tests membership.
    """

    __slots__ = ("_by_name", "_specs", "families", "prefixes")

    def __init__(self, specs: tuple[EventSpec, ...], families: dict[str, str]) -> None:
        self._specs = specs
        self._by_name = {spec.name: spec for spec in specs}
        self.families: Final[dict[str, str]] = dict(families)
        """Family name -> heading, e.g. ``"financial"`` -> ``"Financial events (...)"``."""
        self.prefixes: Final[frozenset[str]] = frozenset(spec.prefix for spec in specs)
        """Every name prefix a family wildcard may use: ``"invoice"``, ``"safety"``..."""

    def __iter__(self) -> Iterator[EventSpec]:
        return iter(self._specs)

    def __len__(self) -> int:
        return len(self._specs)

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __getitem__(self, name: str) -> EventSpec:
        return self._by_name[name]

    def get(self, name: str) -> EventSpec | None:
        """Return the spec of ``name``, or ``None`` when the name is not in the catalog."""
        return self._by_name.get(name)

    def names(self) -> tuple[str, ...]:
        """Return every event name, in catalog order."""
        return tuple(self._by_name)

    def in_family(self, family: str) -> tuple[EventSpec, ...]:
        """Return the specs of one family (``"safety"``), in catalog order; empty when unknown."""
        return tuple(spec for spec in self._specs if spec.family == family)

    def __repr__(self) -> str:
        return f"<Catalog of {len(self._specs)} events>"


def _build() -> Catalog:
    specs = []
    for (name, family, data_model, description, payload, project_field), model in zip(
        _table.TABLE, _classes.EVENT_CLASSES, strict=True
    ):
        if model.__struct_config__.tag != name or model.event != name:
            raise RuntimeError("generated event classes drifted from the table: regenerate them")
        specs.append(
            EventSpec(
                name=name,
                family=family,
                prefix=_table.prefix(name),
                model=model,
                data_model=data_model,
                description=description,
                payload=payload,
                project_field=project_field,
            )
        )
    return Catalog(tuple(specs), _table.FAMILIES)


CATALOG: Final[Catalog] = _build()
"""Every event this version knows: 31 events in 7 families."""

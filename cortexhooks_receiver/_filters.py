"""Handler filters: which events a handler accepts beyond the names it was registered for.

``on("task.completed", project_ids={"proj-123"}, company_ids={"comp-1"}, where=...)`` builds one
:class:`HandlerFilter` at registration; the router applies it to the typed event when it selects
the handlers of a delivery (inline and in a background worker alike). Every part that is given
must accept the event:

* ``project_ids``: the event's project id, read where the catalog table says the event carries
  it (``data.id`` on ``project.*``, ``data.project_id`` on tasks, invoices, documents...; for an
  event this version does not know, ``data["projectId"]``, or ``data["id"]`` in the project
  family). An event with no project id is never accepted. Registering ``project_ids`` for an
  event that carries none is refused at once: such a filter could never match.
* ``company_ids``: the envelope's ``companyId``.
* ``where``: any plain function of the typed event; a true result accepts it.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from typing import Any, Final

from ._concurrency import is_async_callable
from .errors import ConfigurationError
from .events.catalog import CATALOG

__all__ = ["HandlerFilter", "build_filter", "project_id_of"]

_UNKNOWN: Final = "?"  # not a field name: marks an event name the catalog does not know
_PROJECT_FIELDS: Final[dict[str, str | None]] = {spec.name: spec.project_field for spec in CATALOG}
# Families whose own objects are projects: an unknown "project.archived" names its project by id.
_OWN_ID_PREFIXES: Final = frozenset(
    spec.prefix
    for spec in CATALOG
    if spec.project_field == "id"
    and all(other.project_field in ("id", None) for other in CATALOG if other.prefix == spec.prefix)
)


def project_id_of(event: Any) -> str | None:
    """Return the id of the project ``event`` belongs to, or ``None`` when it carries none.

    Reads the field the catalog table names for the event (see the module docs). Never raises.
    """
    name: str = event.event
    field = _PROJECT_FIELDS.get(name, _UNKNOWN)
    data = event.data
    if field is _UNKNOWN:
        if not isinstance(data, dict):
            return None
        value = data.get("id" if name.partition(".")[0] in _OWN_ID_PREFIXES else "projectId")
    elif field is None:
        return None
    else:
        value = getattr(data, field, None)
    return value if type(value) is str else None


class HandlerFilter:
    """The filter of one registration: called with a typed event, returns whether it runs.

    Attributes:
        project_ids: accepted project ids, or ``None`` (any project, or none).
        company_ids: accepted ``companyId`` values, or ``None`` (any).
        where: a predicate of the event, or ``None``.
    """

    __slots__ = ("company_ids", "project_ids", "where")

    def __init__(
        self,
        project_ids: frozenset[str] | None,
        company_ids: frozenset[str] | None,
        where: Callable[[Any], object] | None,
    ) -> None:
        self.project_ids = project_ids
        self.company_ids = company_ids
        self.where = where

    def __repr__(self) -> str:
        parts = [
            f"{name}={sorted(ids)!r}"
            for name, ids in (("project_ids", self.project_ids), ("company_ids", self.company_ids))
            if ids is not None
        ]
        if self.where is not None:
            parts.append(f"where={getattr(self.where, '__qualname__', self.where)!r}")
        return f"HandlerFilter({', '.join(parts)})"

    def __call__(self, event: Any) -> bool:
        """Return whether ``event`` passes every part of the filter.

        Raises:
            Exception: whatever ``where`` raises (the receiver treats it as the handler failing).
        """
        company_ids = self.company_ids
        if company_ids is not None and event.company_id not in company_ids:
            return False
        project_ids = self.project_ids
        if project_ids is not None and project_id_of(event) not in project_ids:
            return False
        where = self.where
        return where is None or bool(where(event))


def build_filter(
    patterns: Iterable[str],
    *,
    project_ids: Collection[str] | None = None,
    company_ids: Collection[str] | None = None,
    where: Callable[[Any], object] | None = None,
) -> HandlerFilter | None:
    """Return the filter ``on()`` asked for, or ``None`` when it asked for none.

    Raises:
        ConfigurationError: ``project_ids`` for a pattern whose events carry no project id, an
            id collection that is a ``str``, empty, or holds a non-``str``, or a ``where`` that
            is not a plain (non-async) callable.
    """
    if project_ids is None and company_ids is None and where is None:
        return None
    if where is not None and (not callable(where) or is_async_callable(where)):
        raise ConfigurationError(
            f"where= takes a plain function of the event returning true or false, not {where!r}"
        )
    if project_ids is not None:
        for pattern in patterns:
            _check_has_project(pattern)
    return HandlerFilter(_ids("project_ids", project_ids), _ids("company_ids", company_ids), where)


def _ids(name: str, ids: Collection[str] | None) -> frozenset[str] | None:
    if ids is None:
        return None
    if isinstance(ids, str | bytes) or not isinstance(ids, Iterable):
        raise ConfigurationError(f"{name} takes a collection of ids, e.g. {{'id-1'}}, not {ids!r}")
    try:
        found = frozenset(ids)
    except TypeError:
        raise ConfigurationError(f"{name} must hold str ids, not {ids!r}") from None
    if not found:
        raise ConfigurationError(f"{name} is empty: the handler could never run")
    for item in found:
        if not isinstance(item, str):
            raise ConfigurationError(f"{name} must hold str ids, got {item!r}")
    return found


def _check_has_project(pattern: str) -> None:
    if pattern == "*":
        return
    if pattern.endswith(".*"):
        prefix = pattern[:-2]
        family = [spec for spec in CATALOG if spec.prefix == prefix]
        if family and all(spec.project_field is None for spec in family):
            raise ConfigurationError(
                f"{pattern!r} events carry no project id, so project_ids could never match them"
            )
        return
    spec = CATALOG.get(pattern)
    if spec is not None and spec.project_field is None:
        raise ConfigurationError(
            f"{pattern!r} carries no project id (see the project id column of the events "
            "reference), so project_ids could never match it; register it without project_ids"
        )

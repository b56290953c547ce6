"""Routing: which handlers run for an event name.

``Router.on(...)`` registers handlers for exact event names (``"invoice.paid"``), family wildcards
(``"invoice.*"``) or every event (``"*"``), optionally narrowed by filters (``project_ids``,
``company_ids``, ``where``: see :mod:`cortexhooks_receiver._filters`). ``Router.resolve(name)``
returns the handlers registered for a name, in registration order (a :class:`FilteredHandlers`
when some of them have a filter); ``Router.select(event)`` (and :func:`accepted`) keeps those
whose filters accept the typed event: the one place handlers are chosen for a delivery, inline or
in a background worker. The module-level :data:`on` registers on
:data:`default_router`, which a ``Receiver`` uses when it is given no router.

``resolve`` is on the hot path of every delivery, so its answer is cached per event name. Every
registration anywhere bumps a module-wide generation counter, and a router whose cache is older
than the counter starts afresh: a handler added to an included router is seen at once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from typing import Any, Final, TypeVar

from cortexhooks_receiver._concurrency import is_async_callable
from cortexhooks_receiver._filters import HandlerFilter, build_filter
from cortexhooks_receiver._logs import receiver_logger
from cortexhooks_receiver._typed_on import TypedOn
from cortexhooks_receiver.errors import ConfigurationError
from cortexhooks_receiver.events.catalog import CATALOG

__all__ = [
    "FilteredHandlers",
    "Registration",
    "Router",
    "accepted",
    "default_router",
    "is_async_callable",
    "matches",
    "on",
]

_F = TypeVar("_F", bound=Callable[..., Any])

_MAX_CACHED_NAMES: Final = 1024
_generation = 0  # bumped by every registration or include, on any router


@dataclass(frozen=True, slots=True, eq=False)
class Registration:
    """One registered handler.

    Attributes:
        func: the handler, called with the event as its only argument.
        is_async: whether calling ``func`` returns an awaitable (computed once, at registration:
            ``async def`` functions, ``functools.partial`` of them and objects whose
            ``__call__`` is ``async def``).
        patterns: the names it was registered for (``"invoice.paid"``, ``"invoice.*"``, ``"*"``).
        event_filter: the filter built from ``project_ids``, ``company_ids`` and ``where``, or
            ``None`` when the handler runs for every event its patterns match.
    """

    func: Callable[[Any], Any]
    is_async: bool
    patterns: tuple[str, ...]
    event_filter: HandlerFilter | None = None

    def matches(self, name: str) -> bool:
        """Return whether this handler should receive an event called ``name``."""
        return matches(self.patterns, name)


class FilteredHandlers(tuple[Registration, ...]):
    """What :meth:`Router.resolve` returns when some of the handlers have a filter.

    Pass it through :func:`accepted` with the event before running it. A plain ``tuple`` from
    ``resolve`` has no filter at all: a runner tells the two apart with one type check, so
    handlers without filters cost nothing more.
    """

    __slots__ = ()


def matches(patterns: Iterable[str], name: str) -> bool:
    """Return whether event ``name`` matches one of ``patterns``. Never raises.

    A pattern is an exact name (``"invoice.paid"``), a family (``"invoice.*"``: every name that
    starts with ``invoice.``, unknown ones included) or ``"*"`` (every name). The one matcher of
    the package: the router and the emulator's subscriptions both use it.
    """
    return any(_matches(pattern, name) for pattern in patterns)


def _matches(pattern: str, name: str) -> bool:
    if pattern == "*":
        return True
    if pattern.endswith(".*"):
        return name.startswith(pattern[:-1])
    return pattern == name


def _flatten(names: tuple[str | Iterable[str], ...]) -> list[str]:
    flat: list[str] = []
    for item in names:
        if isinstance(item, str):
            flat.append(item)
        elif isinstance(item, Iterable) and not isinstance(item, bytes | bytearray):
            for name in item:
                if not isinstance(name, str):
                    raise ConfigurationError(f"event names must be strings, got {name!r}")
                flat.append(name)
        else:
            raise ConfigurationError(f"event names must be strings, got {item!r}")
    if not flat:
        raise ConfigurationError("on() needs at least one event name (or '*' for every event)")
    return flat


def _check_name(name: str, allow_unknown: bool) -> None:
    """Refuse a pattern that can never match, unless ``allow_unknown`` (typo protection)."""
    if name == "*":
        return
    if name.endswith(".*"):
        prefix = name[:-2]
        if not prefix or "*" in prefix or "." in prefix:
            raise ConfigurationError(
                f"invalid wildcard {name!r}: use a family like 'invoice.*' or '*' alone"
            )
        if prefix not in CATALOG.prefixes and not allow_unknown:
            raise ConfigurationError(
                f"unknown event family {name!r}{_suggest(prefix, CATALOG.prefixes, '.*')}; "
                "pass allow_unknown=True to register it anyway"
            )
        return
    if not name or "*" in name:
        raise ConfigurationError(
            f"invalid event name {name!r}: use an exact name, 'family.*' or '*'"
        )
    if name not in CATALOG and not allow_unknown:
        raise ConfigurationError(
            f"unknown event {name!r}{_suggest(name, CATALOG.names())}; "
            "pass allow_unknown=True to register an event this version does not know"
        )


def _patterns_and_filter(
    names: tuple[str | Iterable[str], ...], allow_unknown: bool, filters: dict[str, Any]
) -> tuple[tuple[str, ...], HandlerFilter | None]:
    """The checked, de-duplicated patterns of ``on()`` and the filter its keywords build.

    Raises:
        ConfigurationError: a bad name or a bad filter.
    """
    patterns = _flatten(names)
    for name in patterns:
        _check_name(name, allow_unknown)
    unique = tuple(dict.fromkeys(patterns))
    return unique, build_filter(unique, **filters)


def _suggest(word: str, choices: Iterable[str], suffix: str = "") -> str:
    import difflib  # only when a name is mistyped

    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {close[0] + suffix!r}?)" if close else ""


class Router(TypedOn):
    """A set of event handlers; routers can include other routers.

    Use :meth:`on` to register handlers, :meth:`include` to add another router's handlers after
    this one's, and :meth:`resolve` to get the handlers of an event name.
    """

    __slots__ = ("_cache", "_cache_generation", "_included", "_registrations", "name")

    def __init__(self, name: str | None = None) -> None:
        """Create an empty router; ``name`` only shows in its ``repr``."""
        self.name = name
        self._registrations: list[Registration] = []
        self._included: list[Router] = []
        self._cache: dict[str, tuple[Registration, ...]] = {}
        self._cache_generation = -1

    def __repr__(self) -> str:
        label = f" {self.name!r}" if self.name else ""
        counts = f"{len(self._registrations)} handlers, {len(self._included)} included"
        return f"<Router{label}: {counts}>"

    def _on(
        self, names: tuple[str | Iterable[str], ...], allow_unknown: bool, **filters: Any
    ) -> Callable[[_F], _F]:
        # Checked now, so a bad name or a filter that could never match fails at the decorator.
        patterns, event_filter = _patterns_and_filter(names, allow_unknown, filters)

        def decorator(func: _F) -> _F:
            self._register(func, patterns, event_filter)
            return func

        return decorator

    def add(
        self,
        func: Callable[[Any], Any],
        *names: str | Iterable[str],
        allow_unknown: bool = False,
        project_ids: Collection[str] | None = None,
        company_ids: Collection[str] | None = None,
        where: Callable[[Any], object] | None = None,
    ) -> Registration:
        """Register ``func`` for ``names`` (as :meth:`on` does) and return its registration.

        Raises:
            ConfigurationError: ``func`` is not callable, a name is invalid, or a filter is
                (see :meth:`on`).
        """
        filters = {"project_ids": project_ids, "company_ids": company_ids, "where": where}
        patterns, event_filter = _patterns_and_filter(names, allow_unknown, filters)
        return self._register(func, patterns, event_filter)

    def _register(
        self,
        func: Callable[[Any], Any],
        patterns: tuple[str, ...],
        event_filter: HandlerFilter | None,
    ) -> Registration:
        global _generation
        if not callable(func):
            raise ConfigurationError(f"a handler must be callable, got {func!r}")
        registration = Registration(
            func=func,
            is_async=is_async_callable(func),
            patterns=patterns,
            event_filter=event_filter,
        )
        self._registrations.append(registration)
        _generation += 1
        return registration

    def include(self, other: Router) -> None:
        """Add every handler of ``other`` (now and later) after this router's own handlers.

        Raises:
            ConfigurationError: ``other`` is not a Router, is this router, is already included,
                or includes this router (a cycle).
        """
        global _generation
        if not isinstance(other, Router):
            raise ConfigurationError(f"include() takes a Router, got {other!r}")
        if other is self or self in other._reachable():
            raise ConfigurationError("including this router would create a cycle")
        if other in self._included:
            raise ConfigurationError("this router is already included")
        self._included.append(other)
        _generation += 1

    def _reachable(self) -> list[Router]:
        seen: list[Router] = []
        stack = list(self._included)
        while stack:
            router = stack.pop()
            if router not in seen:
                seen.append(router)
                stack.extend(router._included)
        return seen

    def handler_count(self) -> int:
        """Return how many distinct handlers this router and the routers it includes hold."""
        return len(
            {id(reg) for router in (self, *self._reachable()) for reg in router._registrations}
        )

    @property
    def registrations(self) -> tuple[Registration, ...]:
        """This router's own registrations, in order (included routers' not listed)."""
        return tuple(self._registrations)

    def resolve(self, name: str) -> tuple[Registration, ...]:
        """Return the handlers of event ``name``, in registration order, included routers last.

        Exact names and wildcards are interleaved in the order they were registered; ``"*"``
        matches every name and ``"invoice.*"`` every ``invoice.`` name, unknown ones included.
        A handler registered for several matching patterns appears once. Cached per name.
        """
        if self._cache_generation == _generation:
            found = self._cache.get(name)
            if found is not None:
                return found
        return self._resolve_uncached(name)

    def select(self, event: Any) -> tuple[Registration, ...]:
        """Return the handlers that run for ``event``: :meth:`resolve` of its name, filtered.

        Raises:
            Exception: whatever a handler's ``where`` filter raises.
        """
        return accepted(self.resolve(event.event), event)

    def _resolve_uncached(self, name: str) -> tuple[Registration, ...]:
        if self._cache_generation != _generation:
            self._cache.clear()
            self._cache_generation = _generation
        found = self._collect(name)
        if any(registration.event_filter is not None for registration in found):
            found = FilteredHandlers(found)
        if len(self._cache) >= _MAX_CACHED_NAMES:
            self._cache.clear()
        self._cache[name] = found
        return found

    def _collect(self, name: str) -> tuple[Registration, ...]:
        found = [reg for reg in self._registrations if reg.matches(name)]
        for router in self._included:
            found.extend(reg for reg in router._collect(name) if reg not in found)
        return tuple(found)


def accepted(registrations: tuple[Registration, ...], event: Any) -> tuple[Registration, ...]:
    """Return those of ``registrations`` whose filters accept ``event``, in order.

    ``registrations`` are what :meth:`Router.resolve` returned for the event's name; without any
    filter among them they are returned as they are. A runner may skip the call for a plain
    ``tuple`` from ``resolve`` (see :class:`FilteredHandlers`).

    Raises:
        Exception: whatever a ``where`` filter raises: the delivery counts as a failed handler.
    """
    for registration in registrations:
        if registration.event_filter is not None:
            break
    else:
        return registrations
    kept = []
    for registration in registrations:
        event_filter = registration.event_filter
        if event_filter is None or event_filter(event):
            kept.append(registration)
    chosen = tuple(kept)
    if not chosen and receiver_logger.isEnabledFor(logging.DEBUG):
        receiver_logger.debug(
            "Every handler of %s filtered delivery %s out; acknowledged",
            event.event,
            event.delivery_id,
        )
    return chosen


default_router: Final[Router] = Router("default")
"""The router the module-level :func:`on` registers on; a ``Receiver`` uses it by default."""

on = default_router.on
"""Register a handler on :data:`default_router`: ``@on("invoice.paid")`` (see ``Router.on``)."""

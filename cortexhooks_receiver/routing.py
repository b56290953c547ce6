"""Routing: which handlers run for an event name.

``Router.on(...)`` registers handlers for exact event names (``"invoice.paid"``), family wildcards
(``"invoice.*"``) or every event (``"*"``); ``Router.resolve(name)`` returns the matching handlers
in registration order. The module-level :data:`on` registers on :data:`default_router`, which a
``Receiver`` uses when it is given no router.

``resolve`` is on the hot path of every delivery, so its answer is cached per event name. Every
registration anywhere bumps a module-wide generation counter, and a router whose cache is older
than the counter starts afresh: a handler added to an included router is seen at once.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Final, TypeVar

from cortexhooks_receiver._typed_on import TypedOn
from cortexhooks_receiver.errors import ConfigurationError
from cortexhooks_receiver.events.catalog import CATALOG

__all__ = ["Registration", "Router", "default_router", "is_async_callable", "matches", "on"]

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
    """

    func: Callable[[Any], Any]
    is_async: bool
    patterns: tuple[str, ...]

    def matches(self, name: str) -> bool:
        """Return whether this handler should receive an event called ``name``."""
        return matches(self.patterns, name)


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


def is_async_callable(func: object) -> bool:
    """Return whether calling ``func`` returns a coroutine (see :attr:`Registration.is_async`)."""
    while isinstance(func, functools.partial):
        func = func.func
    if inspect.iscoroutinefunction(func):
        return True
    if inspect.isroutine(func) or isinstance(func, type):
        return False
    call = getattr(func, "__call__", None)  # noqa: B004 - a callable instance's own __call__
    return call is not None and inspect.iscoroutinefunction(call)


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
        self, names: tuple[str | Iterable[str], ...], allow_unknown: bool
    ) -> Callable[[_F], _F]:
        patterns = _flatten(names)
        for name in patterns:
            _check_name(name, allow_unknown)
        unique = tuple(dict.fromkeys(patterns))

        def decorator(func: _F) -> _F:
            self.add(func, *unique, allow_unknown=allow_unknown)
            return func

        return decorator

    def add(
        self, func: Callable[[Any], Any], *names: str | Iterable[str], allow_unknown: bool = False
    ) -> Registration:
        """Register ``func`` for ``names`` (as :meth:`on` does) and return its registration.

        Raises:
            ConfigurationError: ``func`` is not callable, or a name is invalid (see :meth:`on`).
        """
        global _generation
        if not callable(func):
            raise ConfigurationError(f"a handler must be callable, got {func!r}")
        patterns = _flatten(names)
        for name in patterns:
            _check_name(name, allow_unknown)
        registration = Registration(
            func=func, is_async=is_async_callable(func), patterns=tuple(dict.fromkeys(patterns))
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

    def _resolve_uncached(self, name: str) -> tuple[Registration, ...]:
        if self._cache_generation != _generation:
            self._cache.clear()
            self._cache_generation = _generation
        found = self._collect(name)
        if len(self._cache) >= _MAX_CACHED_NAMES:
            self._cache.clear()
        self._cache[name] = found
        return found

    def _collect(self, name: str) -> tuple[Registration, ...]:
        found = [reg for reg in self._registrations if reg.matches(name)]
        for router in self._included:
            found.extend(reg for reg in router._collect(name) if reg not in found)
        return tuple(found)


default_router: Final[Router] = Router("default")
"""The router the module-level :func:`on` registers on; a ``Receiver`` uses it by default."""

on = default_router.on
"""Register a handler on :data:`default_router`: ``@on("invoice.paid")`` (see ``Router.on``)."""

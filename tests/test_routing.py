"""Router: exact names, wildcards, include, typo protection, async detection, cached resolve."""

from __future__ import annotations

import functools
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cortexhooks_receiver import routing
from cortexhooks_receiver.errors import ConfigurationError
from cortexhooks_receiver.routing import Router, is_async_callable


def _funcs(router: Router, name: str) -> list[Any]:
    return [reg.func for reg in router.resolve(name)]


def test_exact_and_wildcard_handlers_resolve_in_registration_order() -> None:
    router = Router()
    calls: list[str] = []

    @router.on("*")
    def every(event: Any) -> None:
        calls.append("every")

    @router.on("invoice.paid")
    def paid(event: Any) -> None:
        calls.append("paid")

    @router.on("invoice.*")
    def invoices(event: Any) -> None:
        calls.append("invoices")

    @router.on("task.completed")
    def task(event: Any) -> None:
        calls.append("task")

    assert _funcs(router, "invoice.paid") == [every, paid, invoices]
    assert _funcs(router, "invoice.sent") == [every, invoices]
    assert _funcs(router, "task.completed") == [every, task]


def test_unknown_event_names_reach_catch_all_and_matching_family_wildcards() -> None:
    router = Router()
    every = router.on("*")(lambda event: None)
    invoices = router.on("invoice.*")(lambda event: None)
    router.on("task.*")(lambda event: None)
    assert _funcs(router, "invoice.refunded") == [every, invoices]
    assert _funcs(router, "brand.new") == [every]


def test_a_handler_matching_several_patterns_is_resolved_once() -> None:
    router = Router()
    handler = router.on("invoice.paid", "invoice.*", ["*"])(lambda event: None)
    assert _funcs(router, "invoice.paid") == [handler]


def test_several_handlers_per_event_are_all_kept() -> None:
    router = Router()
    first = router.on("task.created")(lambda event: None)
    second = router.on("task.created")(lambda event: None)
    assert _funcs(router, "task.created") == [first, second]


def test_a_list_of_names_registers_each_of_them() -> None:
    router = Router()
    handler = router.on(["task.created", "task.updated"])(lambda event: None)
    assert _funcs(router, "task.created") == [handler]
    assert _funcs(router, "task.updated") == [handler]
    assert _funcs(router, "task.deleted") == []


def test_on_returns_the_decorated_function_unchanged() -> None:
    router = Router()

    def handler(event: Any) -> None:
        return None

    assert router.on("task.created")(handler) is handler


@pytest.mark.parametrize(
    ("name", "suggestion"),
    [("invoice.payed", "invoice.paid"), ("invoices.*", "invoice.*"), ("task.complete", None)],
)
def test_a_misspelt_event_name_is_refused_at_registration(
    name: str, suggestion: str | None
) -> None:
    router = Router()
    with pytest.raises(ConfigurationError, match="allow_unknown") as info:
        router.on(name)
    if suggestion:
        assert repr(suggestion) in str(info.value)
    assert router.resolve(name.rstrip("*")) == ()


def test_allow_unknown_registers_names_this_version_does_not_know() -> None:
    router = Router()
    handler = router.on("invoice.refunded", "crane.*", allow_unknown=True)(lambda event: None)
    assert _funcs(router, "invoice.refunded") == [handler]
    assert _funcs(router, "crane.moved") == [handler]


@pytest.mark.parametrize("bad", ["", "invoice*", "*.paid", "in*.paid", ".*", "a.b.*"])
def test_malformed_patterns_are_refused_even_with_allow_unknown(bad: str) -> None:
    with pytest.raises(ConfigurationError):
        Router().on(bad, allow_unknown=True)


@pytest.mark.parametrize("bad", [(), (b"invoice.paid",), ([1],), (None,)])
def test_missing_or_non_string_names_are_refused(bad: tuple[Any, ...]) -> None:
    with pytest.raises(ConfigurationError):
        Router().on(*bad)


def test_a_non_callable_handler_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="callable"):
        Router().on("task.created")(42)  # type: ignore[type-var]


def test_included_router_handlers_come_after_own_handlers() -> None:
    parent, child = Router(), Router()
    from_child = child.on("task.created")(lambda event: None)
    parent.include(child)
    from_parent = parent.on("task.*")(lambda event: None)
    assert _funcs(parent, "task.created") == [from_parent, from_child]


def test_registration_on_an_included_router_invalidates_the_cached_resolution() -> None:
    parent, child = Router(), Router()
    parent.include(child)
    assert parent.resolve("task.created") == ()
    late = child.on("task.created")(lambda event: None)
    assert _funcs(parent, "task.created") == [late]


def test_resolve_is_served_from_the_cache_until_something_is_registered() -> None:
    router = Router()
    router.on("task.created")(lambda event: None)
    first = router.resolve("task.created")
    assert router.resolve("task.created") is first
    router.on("task.updated")(lambda event: None)
    again = router.resolve("task.created")
    assert again == first
    assert again is not first


def test_including_a_router_twice_or_in_a_cycle_is_refused() -> None:
    a, b, c = Router(), Router(), Router()
    a.include(b)
    b.include(c)
    with pytest.raises(ConfigurationError):
        a.include(b)
    with pytest.raises(ConfigurationError, match="cycle"):
        c.include(a)
    with pytest.raises(ConfigurationError, match="cycle"):
        a.include(a)


def test_a_router_included_through_two_paths_contributes_each_handler_once() -> None:
    top, left, right, shared = Router(), Router(), Router(), Router()
    handler = shared.on("task.created")(lambda event: None)
    left.include(shared)
    right.include(shared)
    top.include(left)
    top.include(right)
    assert _funcs(top, "task.created") == [handler]


class _AsyncCallable:
    async def __call__(self, event: Any) -> None:
        return None


class _SyncCallable:
    def __call__(self, event: Any) -> None:
        return None


async def _async_handler(event: Any, extra: int = 0) -> None:
    return None


def _sync_handler(event: Any, extra: int = 0) -> None:
    return None


@pytest.mark.parametrize(
    ("func", "expected"),
    [
        (_async_handler, True),
        (functools.partial(_async_handler, extra=1), True),
        (functools.partial(functools.partial(_async_handler), extra=1), True),
        (_AsyncCallable(), True),
        (_sync_handler, False),
        (functools.partial(_sync_handler, extra=1), False),
        (_SyncCallable(), False),
        (print, False),
        (_AsyncCallable, False),
    ],
)
def test_async_handlers_are_detected_once_at_registration(func: Any, expected: bool) -> None:
    assert is_async_callable(func) is expected
    router = Router()
    router.on("task.created")(func)
    (registration,) = router.resolve("task.created")
    assert registration.is_async is expected
    assert registration.func is func


def test_module_level_on_registers_on_the_default_router() -> None:
    name = "cortexhooks.test.module_level_on"
    handler = routing.on(name, allow_unknown=True)(lambda event: None)
    assert handler in _funcs(routing.default_router, name)


def _naive_match(pattern: str, name: str) -> bool:
    return pattern in ("*", name) or (pattern.endswith(".*") and name.startswith(pattern[:-1]))


_PATTERNS = ["*", "invoice.*", "task.*", "invoice.paid", "task.created", "crane.*", "crane.moved"]
_NAMES = ["invoice.paid", "invoice.sent", "task.created", "crane.moved", "crane.up", "other.x"]


@settings(max_examples=200, deadline=None)
@given(
    plan=st.lists(
        st.tuples(st.integers(0, 2), st.lists(st.sampled_from(_PATTERNS), min_size=1, max_size=3)),
        max_size=12,
    ),
    lookups=st.lists(st.sampled_from(_NAMES), max_size=8),
)
def test_resolve_always_equals_a_fresh_scan_in_registration_order(
    plan: list[tuple[int, list[str]]], lookups: list[str]
) -> None:
    routers = [Router(), Router(), Router()]
    routers[0].include(routers[1])
    routers[1].include(routers[2])
    registered: list[tuple[int, Any, list[str]]] = []
    for step, (index, patterns) in enumerate(plan):
        func = routers[index].on(patterns, allow_unknown=True)(lambda event, step=step: step)
        registered.append((index, func, patterns))
        for name in lookups:  # interleave lookups with registrations: the cache must keep up
            expected = [
                handler
                for owner_index in range(3)  # own handlers first, then each included router's
                for (owner, handler, patterns_) in registered
                if owner == owner_index and any(_naive_match(p, name) for p in patterns_)
            ]
            assert _funcs(routers[0], name) == expected

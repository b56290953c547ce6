"""Handler filters: project_ids, company_ids and where= narrow the events a handler runs for.

A filtered-out delivery is still acknowledged (and remembered for dedup); a ``where`` that raises
is a failed handler (500, the claim released for the retry); ``project_ids`` reads the project id
where the catalog table says the event carries it, and is refused for events that carry none.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from options_kit import NOW_MS

import cortexhooks_receiver as ch
from cortexhooks_receiver._filters import project_id_of
from cortexhooks_receiver.events import CATALOG, decode_event
from cortexhooks_receiver.testing.factories import make_body

SECRET = "whsec_filters_test_secret"


def body(name: str = "task.completed", delivery: int = 1, **overrides: Any) -> bytes:
    overrides.setdefault("data.title", f"delivery {delivery}")  # distinct bodies: no digest dedup
    return make_body(name, timestamp=NOW_MS, **overrides)


def deliver(receiver: ch.Receiver, raw: bytes, delivery_id: str = "dlv_1") -> ch.Outcome:
    headers = ch.sign(raw, SECRET, timestamp=NOW_MS, delivery_id=delivery_id)
    return receiver.handle(raw, headers)


def new_receiver() -> ch.Receiver:
    return ch.Receiver(SECRET, router=ch.Router(), now=lambda: NOW_MS / 1000)


def test_project_filter_runs_the_handler_only_for_its_projects_and_acknowledges_the_rest() -> None:
    receiver = new_receiver()
    seen: list[str] = []
    receiver.on("task.completed", project_ids={"proj-123"})(lambda e: seen.append(e.data.id))

    mine = deliver(receiver, body(**{"data.id": "t1", "data.projectId": "proj-123"}), "dlv_1")
    other = deliver(receiver, body(**{"data.id": "t2", "data.projectId": "proj-9"}), "dlv_2")

    assert (mine.status, other.status) == (200, 200)
    assert other.body == b'{"received":true}'
    assert seen == ["t1"]


def test_a_filtered_out_delivery_is_remembered_so_its_retry_is_a_duplicate() -> None:
    receiver = new_receiver()
    receiver.on("task.completed", project_ids={"proj-123"})(lambda e: None)
    raw = body(**{"data.projectId": "proj-9"})
    assert deliver(receiver, raw).duplicate is False
    assert deliver(receiver, raw).duplicate is True


def test_project_events_are_filtered_by_the_projects_own_id() -> None:
    receiver = new_receiver()
    seen: list[str] = []
    receiver.on("project.*", project_ids={"proj-123"})(lambda e: seen.append(e.event))
    deliver(receiver, body("project.updated", **{"data.id": "proj-123"}), "dlv_1")
    deliver(receiver, body("project.deleted", data={"id": "proj-123"}), "dlv_2")
    deliver(receiver, body("project.created", 3, **{"data.id": "proj-7"}), "dlv_3")
    assert seen == ["project.updated", "project.deleted"]


def test_company_filter_reads_the_envelope_company_id() -> None:
    receiver = new_receiver()
    seen: list[str | None] = []
    receiver.on("*", company_ids={"comp-1"})(lambda e: seen.append(e.company_id))
    deliver(receiver, body(company_id="comp-1"), "dlv_1")
    deliver(receiver, body(delivery=2, company_id="comp-2"), "dlv_2")
    deliver(receiver, body(delivery=3, companyId=ch.testing.REMOVE), "dlv_3")
    assert seen == ["comp-1"]


def test_where_receives_the_typed_event() -> None:
    receiver = new_receiver()
    seen: list[str] = []
    receiver.on("invoice.paid", where=lambda e: e.data.amount > 1000)(
        lambda e: seen.append(str(e.data.amount))
    )
    deliver(receiver, body("invoice.paid", **{"data.amount": 5000}), "dlv_1")
    deliver(receiver, body("invoice.paid", 2, **{"data.amount": 10}), "dlv_2")
    assert seen == ["5000"]


def test_every_given_filter_must_accept_and_they_compose_with_lists_and_wildcards() -> None:
    receiver = new_receiver()
    seen: list[str] = []

    @receiver.on(
        ["task.completed", "invoice.*"],
        project_ids={"proj-1", "proj-2"},
        company_ids={"comp-1"},
        where=lambda e: e.user_id == "user-789",
    )
    def handler(event: Any) -> None:
        seen.append(event.delivery_id)

    cases = {
        "dlv_ok_task": body(**{"data.projectId": "proj-1"}),
        "dlv_ok_invoice": body("invoice.sent", **{"data.projectId": "proj-2"}),
        "dlv_wrong_project": body(delivery=3, **{"data.projectId": "proj-3"}),
        "dlv_wrong_company": body(delivery=4, company_id="comp-2", **{"data.projectId": "proj-1"}),
        "dlv_wrong_user": body(delivery=5, user_id="user-1", **{"data.projectId": "proj-1"}),
        "dlv_other_event": body("task.created", **{"data.projectId": "proj-1"}),
    }
    for delivery_id, raw in cases.items():
        assert deliver(receiver, raw, delivery_id).status == 200
    assert seen == ["dlv_ok_task", "dlv_ok_invoice"]


def test_unfiltered_handlers_of_the_same_event_still_run() -> None:
    receiver = new_receiver()
    seen: list[str] = []
    receiver.on("task.completed", project_ids={"proj-1"})(lambda e: seen.append("filtered"))
    receiver.on("task.*")(lambda e: seen.append("all tasks"))
    deliver(receiver, body(**{"data.projectId": "proj-2"}))
    assert seen == ["all tasks"]


@pytest.mark.parametrize("name", ["task.deleted", "user.joined", "user.*", "agent.published"])
def test_project_ids_on_events_without_a_project_is_refused_at_registration(name: str) -> None:
    router = ch.Router()
    with pytest.raises(ch.ConfigurationError, match="no project id"):
        router.on(name, project_ids={"proj-1"})


@pytest.mark.parametrize("names", [("task.*",), ("*",), ("agent.*",), ("task.completed",)])
def test_project_ids_on_a_family_where_some_events_carry_one_is_allowed(
    names: tuple[str, ...],
) -> None:
    ch.Router().on(*names, project_ids={"proj-1"})(lambda e: None)


def test_a_family_wildcard_filter_leaves_out_members_without_a_project() -> None:
    receiver = new_receiver()
    seen: list[str] = []
    receiver.on("task.*", project_ids={"proj-1"})(lambda e: seen.append(e.event))
    deliver(receiver, body("task.deleted", data={"id": "task-1"}))
    assert seen == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"project_ids": "proj-1"}, "collection of ids"),
        ({"company_ids": set()}, "empty"),
        ({"company_ids": {1}}, "str ids"),
        ({"where": "not callable"}, "plain function"),
        ({"project_ids": [["nested"]]}, "str ids"),
    ],
)
def test_bad_filters_are_refused_at_registration(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ch.ConfigurationError, match=message):
        ch.Router().on("task.completed", **kwargs)


def test_an_async_where_is_refused_because_a_filter_is_never_awaited() -> None:
    async def where(event: Any) -> bool:
        return True

    with pytest.raises(ch.ConfigurationError, match="plain function"):
        ch.Router().on("task.completed", where=where)


def test_router_add_takes_the_same_filters() -> None:
    router = ch.Router()
    registration = router.add(lambda e: None, "task.completed", project_ids=["p"])
    assert registration.event_filter is not None
    assert registration.event_filter.project_ids == frozenset({"p"})
    with pytest.raises(ch.ConfigurationError):
        router.add(lambda e: None, "task.deleted", project_ids=["p"])


def test_a_where_that_raises_fails_the_delivery_and_the_retry_runs_it_again() -> None:
    receiver = new_receiver()
    calls: list[str] = []
    broken = [True]

    def where(event: Any) -> bool:
        if broken[0]:
            raise LookupError("the allow-list service is down")
        return True

    receiver.on("task.completed", where=where)(lambda e: calls.append(e.delivery_id))
    raw = body()
    first = deliver(receiver, raw)
    assert (first.status, first.error and first.error.code) == (500, "handler_error")
    broken[0] = False
    assert deliver(receiver, raw).status == 200
    assert calls == ["dlv_1"]


def test_handle_async_applies_the_same_filters() -> None:
    receiver = new_receiver()
    seen: list[str] = []

    async def handler(event: Any) -> None:
        seen.append(event.delivery_id)

    receiver.on("task.completed", project_ids={"proj-1"})(handler)

    async def main() -> None:
        for n, project in enumerate(["proj-1", "proj-2"], start=1):
            raw = body(delivery=n, **{"data.projectId": project})
            headers = ch.sign(raw, SECRET, timestamp=NOW_MS, delivery_id=f"dlv_{n}")
            assert (await receiver.handle_async(raw, headers)).status == 200

    asyncio.run(main())
    assert seen == ["dlv_1"]


def test_router_select_is_what_a_worker_calls_to_choose_the_handlers_of_an_event() -> None:
    router = ch.Router()
    kept = router.add(lambda e: None, "invoice.paid", company_ids={"comp-1"})
    router.add(lambda e: None, "invoice.paid", company_ids={"comp-2"})
    event = decode_event(body("invoice.paid"))
    assert router.select(event) == (kept,)


def test_an_unknown_event_is_filtered_by_its_data_project_id() -> None:
    receiver = new_receiver()
    seen: list[str] = []
    receiver.on("crane.moved", "project.archived", allow_unknown=True, project_ids={"proj-1"})(
        lambda e: seen.append(e.event)
    )
    deliver(receiver, body("crane.moved", data={"id": "c1", "projectId": "proj-1"}), "dlv_1")
    deliver(receiver, body("crane.moved", data={"id": "c2", "projectId": "proj-2"}), "dlv_2")
    deliver(receiver, body("project.archived", data={"id": "proj-1"}), "dlv_3")
    assert seen == ["crane.moved", "project.archived"]


@pytest.mark.parametrize("spec", list(CATALOG), ids=lambda spec: spec.name)
def test_the_project_id_is_read_where_the_catalog_table_says(spec: Any) -> None:
    event = decode_event(
        body(spec.name, **({} if spec.project_field is None else {"data.id": "x-1"}))
    )
    expected: Callable[[], str | None]
    if spec.project_field == "id":
        expected = lambda: "x-1"  # noqa: E731
    elif spec.project_field == "project_id":
        expected = lambda: event.data.project_id  # noqa: E731
        assert expected() is not None, "the sample data should carry a project id"
    else:
        expected = lambda: None  # noqa: E731
    assert project_id_of(event) == expected()

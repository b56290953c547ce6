"""The journals' contract, one list of tests for every journal (a journal's test module runs it).

A test module imports these tests (``from journal_contract import *``) and defines the
``harness`` fixture that yields a :class:`Harness` for each of its journals: memory, SQLite and
Redis in ``tests/test_journal.py``, the Django ORM journal on SQLite and PostgreSQL in
``tests/adapters/test_django_journal.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest

from cortexhooks_receiver.errors import ConfigurationError
from cortexhooks_receiver.journal import Journal, Receipt

NOW = 1_767_225_600.0  # 2026-01-01T00:00:00Z

__all__ = [
    "Clock",
    "Harness",
    "make_receipt",
    "test_a_bad_query_is_a_configuration_error",
    "test_a_receipt_is_readable_by_another_connection_as_soon_as_recorded",
    "test_an_event_family_with_like_wildcards_is_matched_literally",
    "test_an_id_is_never_reused_after_pruning",
    "test_close_can_be_called_twice_and_the_journal_still_works",
    "test_every_field_comes_back_as_recorded",
    "test_ids_grow_and_get_returns_each_receipt",
    "test_prune_deletes_the_receipts_older_than_the_retention",
    "test_query_filters_by_code_event_and_time_newest_first",
    "test_query_pages_through_more_receipts_than_one_read",
]


class Clock:
    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass
class Harness:
    journal: Journal
    clock: Clock
    reopen: Callable[[], Journal]  # another handle on the same journal (another connection)


def make_receipt(clock: Clock, **fields: Any) -> Receipt:
    fields.setdefault("status", 200)
    return Receipt(id=0, received_at=datetime.fromtimestamp(clock(), UTC), **fields)


def test_ids_grow_and_get_returns_each_receipt(harness: Harness) -> None:
    ids = [
        harness.journal.record(make_receipt(harness.clock, delivery_id=f"d{n}")) for n in range(3)
    ]
    assert ids == sorted(ids)
    assert len(set(ids)) == 3
    for n, receipt_id in enumerate(ids):
        found = harness.journal.get(receipt_id)
        assert found is not None
        assert (found.id, found.delivery_id) == (receipt_id, f"d{n}")
    assert harness.journal.get(ids[-1] + 1000) is None


def test_every_field_comes_back_as_recorded(harness: Harness) -> None:
    original = make_receipt(
        harness.clock,
        status=500,
        code="handler_error",
        event="invoice.paid",
        delivery_id="dlv_9",
        webhook_id="wh_2",
        latency_ms=12.5,
        secret_index=1,
        error="ValueError: nope",
        client="203.0.113.1",
        duplicate=True,
        body=b'{"event":"invoice.paid"}\x00\xff',
        signature="ab" * 32,
        timestamp="1767225600000",
    )
    receipt_id = harness.journal.record(original)
    assert harness.reopen().get(receipt_id) == msgspec.structs.replace(original, id=receipt_id)


def test_a_receipt_is_readable_by_another_connection_as_soon_as_recorded(
    harness: Harness,
) -> None:
    receipt_id = harness.journal.record(make_receipt(harness.clock))
    assert [r.id for r in harness.reopen().query()] == [receipt_id]


def test_query_filters_by_code_event_and_time_newest_first(harness: Harness) -> None:
    journal, clock = harness.journal, harness.clock
    rows = [
        ("task.completed", None),
        ("invoice.paid", None),
        ("invoice.paid", "signature_mismatch"),
        ("invoice_x.paid", None),  # not in the invoice.* family
        (None, "method_not_allowed"),
        ("task.created", "handler_error"),
    ]
    ids = []
    for event, code in rows:
        ids.append(journal.record(make_receipt(clock, event=event, code=code)))
        clock.now += 60
    assert [r.id for r in journal.query()] == ids[::-1]
    assert [r.id for r in journal.query(code="signature_mismatch")] == [ids[2]]
    assert [r.id for r in journal.query(event="invoice.paid")] == [ids[2], ids[1]]
    assert [r.id for r in journal.query(event="invoice.*")] == [ids[2], ids[1]]
    assert [r.id for r in journal.query(event="*")] == [ids[5], ids[3], ids[2], ids[1], ids[0]]
    assert [r.id for r in journal.query(limit=2)] == [ids[5], ids[4]]
    # The clock is now 6 minutes after the first receipt: the last 2.5 minutes hold two.
    assert [r.id for r in journal.query(since=timedelta(seconds=150))] == [ids[5], ids[4]]
    cutoff = datetime.fromtimestamp(NOW + 120, UTC)
    assert [r.id for r in journal.query(since=cutoff, code="signature_mismatch")] == [ids[2]]
    assert [r.id for r in journal.query(since_id=ids[3])] == [ids[5], ids[4]]
    assert journal.query(code="nothing_like_it") == []


def test_an_event_family_with_like_wildcards_is_matched_literally(harness: Harness) -> None:
    journal, clock = harness.journal, harness.clock
    literal = journal.record(make_receipt(clock, event="a_b.x"))
    journal.record(make_receipt(clock, event="aXb.x"))  # "_" would match it in a bare LIKE
    assert [r.id for r in journal.query(event="a_b.*")] == [literal]


def test_query_pages_through_more_receipts_than_one_read(harness: Harness) -> None:
    journal, clock = harness.journal, harness.clock
    wanted = [
        journal.record(make_receipt(clock, code="handler_error" if n % 50 == 0 else None))
        for n in range(450)
    ]
    found = journal.query(code="handler_error", limit=100)
    assert [r.id for r in found] == [wanted[n] for n in range(400, -1, -50)]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"limit": 0}, "limit"),
        ({"since": datetime(2026, 1, 1)}, "aware"),
        ({"since": "1h"}, "datetime or a timedelta"),
        ({"code": 401}, "code must be a str"),
    ],
)
def test_a_bad_query_is_a_configuration_error(
    harness: Harness, kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        harness.journal.query(**kwargs)


def test_prune_deletes_the_receipts_older_than_the_retention(harness: Harness) -> None:
    journal, clock = harness.journal, harness.clock
    old = [journal.record(make_receipt(clock)) for _ in range(3)]
    clock.now += 3 * 86_400
    young = journal.record(make_receipt(clock))
    clock.now += 5 * 86_400  # the old ones are 8 days old, the young one 5
    assert journal.prune() == len(old)
    assert [r.id for r in journal.query()] == [young]
    assert journal.get(old[0]) is None
    assert journal.prune() == 0


def test_an_id_is_never_reused_after_pruning(harness: Harness) -> None:
    journal, clock = harness.journal, harness.clock
    first = journal.record(make_receipt(clock))
    clock.now += 8 * 86_400
    assert journal.prune() == 1
    assert journal.record(make_receipt(clock)) > first


def test_close_can_be_called_twice_and_the_journal_still_works(harness: Harness) -> None:
    harness.journal.close()
    harness.journal.close()
    receipt_id = harness.journal.record(make_receipt(harness.clock))
    assert harness.journal.get(receipt_id) is not None

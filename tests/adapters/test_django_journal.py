"""The Django ORM journal: the journals' contract on SQLite and the real PostgreSQL, the
``JOURNAL`` settings through the app's views, and the admin pages driven by Django's test client.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from conftest import SECRET, _asgi_sender, make_body, setup_django, signed_headers

from cortexhooks_receiver.errors import JournalError
from cortexhooks_receiver.journal import Receipt
from cortexhooks_receiver.receiver import Receiver
from cortexhooks_receiver.signature import now_ms

setup_django()

from django.contrib.auth import get_user_model  # noqa: E402
from django.db import transaction  # noqa: E402
from django.test import Client, override_settings  # noqa: E402
from django.urls import reverse  # noqa: E402
from journal_contract import *  # noqa: E402, F403 (the contract's tests, on the ORM journal)
from journal_contract import Clock, Harness, make_receipt  # noqa: E402

from cortexhooks_receiver.integrations.django import conf  # noqa: E402
from cortexhooks_receiver.integrations.django.checks import check_settings  # noqa: E402
from cortexhooks_receiver.integrations.django.journal import DjangoORMJournal  # noqa: E402
from cortexhooks_receiver.integrations.django.models import WebhookReceipt  # noqa: E402

PROJECT_PATH = "/project/webhooks/cortexbuild"
CHANGELIST = "admin:cortexhooks_webhookreceipt_changelist"


def _clear(alias: str) -> None:
    WebhookReceipt.objects.using(alias).all().delete()


@pytest.fixture(params=["sqlite", "postgres"])
def alias(request: pytest.FixtureRequest) -> Iterator[str]:
    """A database with the app's tables: the SQLite default, or the real PostgreSQL."""
    name = "default" if request.param == "sqlite" else request.getfixturevalue("pg_alias")
    _clear(name)
    yield name
    _clear(name)


@pytest.fixture
def harness(alias: str) -> Harness:
    clock = Clock()
    return Harness(
        DjangoORMJournal(using=alias, clock=clock),
        clock,
        lambda: DjangoORMJournal(using=alias, clock=clock),
    )


def _post(client: Client, path: str = PROJECT_PATH, **headers: Any) -> int:
    body = make_body(timestamp=now_ms())
    signed = signed_headers(body, timestamp=now_ms(), **headers)
    extra = {"HTTP_" + k.upper().replace("-", "_"): v for k, v in signed.items()}
    extra.pop("HTTP_CONTENT_TYPE")
    status: int = client.post(path, body, "application/json", **extra).status_code
    return status


# -- the settings, through the app's views ------------------------------------------------------


def test_the_journal_setting_records_every_request_in_the_database(alias: str) -> None:
    journal_url = "django-orm" if alias == "default" else f"django-orm://{alias}"
    settings = {"SECRET": SECRET, "STORE": "memory://", "JOURNAL": journal_url}
    with override_settings(CORTEXHOOKS={**settings, "JOURNAL_BODIES": True}):
        receiver = conf.get_receiver()
        assert isinstance(receiver.journal, DjangoORMJournal)
        assert receiver.journal.using == alias
        client = Client()
        statuses = [
            _post(client, delivery_id="dj_1"),
            _post(client, delivery_id="dj_1"),
            _post(client, delivery_id="dj_2", secret="whsec_wrong"),
            client.get(PROJECT_PATH).status_code,
        ]
    rows = list(WebhookReceipt.objects.using(alias).order_by("pk"))
    assert [(r.status, r.code, r.duplicate) for r in rows] == [
        (200, None, False),
        (200, None, True),
        (401, "signature_mismatch", False),
        (405, "method_not_allowed", False),
    ]
    assert statuses == [r.status for r in rows]
    assert [r.delivery_id for r in rows] == ["dj_1", "dj_1", "dj_2", None]
    assert bytes(rows[0].body).startswith(b'{"event":"task.completed"')


def test_the_async_view_journals_through_the_orm_too() -> None:
    _clear("default")
    settings = {"SECRET": SECRET, "STORE": "memory://", "JOURNAL": "django-orm"}
    with override_settings(CORTEXHOOKS=settings):
        from conftest import Req
        from django.core.asgi import get_asgi_application

        send = _asgi_sender(get_asgi_application(), "/project/async/webhooks/cortexbuild")
        body = make_body(timestamp=now_ms())
        headers = signed_headers(body, timestamp=now_ms(), delivery_id="dj_async")
        assert send(Req(headers=headers, body=body)).status == 200
    receipt = WebhookReceipt.objects.get()
    assert (receipt.status, receipt.delivery_id, receipt.event) == (
        200,
        "dj_async",
        "task.completed",
    )
    _clear("default")


def test_the_orm_journal_keeps_times_right_without_use_tz() -> None:
    _clear("default")
    journal = DjangoORMJournal(clock=Clock())
    original = make_receipt(Clock())
    with override_settings(USE_TZ=False, TIME_ZONE="America/New_York"):
        receipt_id = journal.record(original)
        found = journal.get(receipt_id)
        since = journal.query(since=original.received_at - timedelta(seconds=1))
    assert found is not None
    assert found.received_at == original.received_at
    assert [r.id for r in since] == [receipt_id]
    _clear("default")


def test_a_receipt_recorded_inside_a_transaction_is_in_a_savepoint_of_its_own() -> None:
    _clear("default")
    journal = DjangoORMJournal()
    with transaction.atomic():
        receipt_id = journal.record(make_receipt(Clock()))
        assert journal.get(receipt_id) is not None
    assert journal.get(receipt_id) is not None
    _clear("default")


def test_a_broken_database_raises_journal_error_and_never_changes_the_answer() -> None:
    journal = DjangoORMJournal(using="broken")
    with pytest.raises(JournalError, match="database error"):
        journal.record(make_receipt(Clock()))
    receiver = Receiver(SECRET, journal=journal)
    body = make_body(timestamp=now_ms())
    answer = receiver.handle(body, signed_headers(body, timestamp=now_ms()))
    assert answer.status == 200


def test_the_checks_report_a_bad_journal_setting() -> None:
    with override_settings(CORTEXHOOKS={"SECRET": SECRET, "JOURNAL": "nope://"}):
        assert [m.id for m in check_settings()] == ["cortexhooks.E004"]
    with override_settings(CORTEXHOOKS={"SECRET": SECRET, "JOURNAL_BODIES": True}):
        assert [m.id for m in check_settings()] == ["cortexhooks.E004"]
    with override_settings(CORTEXHOOKS={"SECRET": SECRET, "JOURNAL": "django-orm"}):
        assert check_settings() == []


def test_the_journal_urls_name_the_orm_journal() -> None:
    journal = conf.open_django_journal("django-orm://pg")
    assert isinstance(journal, DjangoORMJournal)
    assert journal.using == "pg"
    assert conf.open_django_journal("memory://") == "memory://"
    assert conf.open_django_journal(None) is None


# -- the admin ----------------------------------------------------------------------------------


@pytest.fixture
def admin_client() -> Iterator[Client]:
    _clear("default")
    user_model = get_user_model()
    user_model.objects.filter(username="journal-admin").delete()
    user = user_model.objects.create_superuser("journal-admin", "admin@example.com", "pw")
    client = Client()
    client.force_login(user)
    yield client
    user.delete()
    _clear("default")


@pytest.fixture
def receipts() -> dict[str, Receipt]:
    """Receipts of a morning and of the day before, written by a receiver through the journal."""
    clock = Clock(datetime(2026, 3, 9, 9, 0, tzinfo=UTC).timestamp())
    journal = DjangoORMJournal(clock=clock)
    written = {}

    def write(name: str, **fields: Any) -> None:
        receipt = make_receipt(clock, **fields)
        written[name] = Receipt(**{**_fields(receipt), "id": journal.record(receipt)})

    write("yesterday", event="task.created", delivery_id="dlv_yesterday")
    clock.now += 86_400
    write("paid", event="invoice.paid", delivery_id="dlv_paid")
    write(
        "forged",
        event="invoice.paid",
        delivery_id="dlv_forged",
        status=401,
        code="signature_mismatch",
    )
    write(
        "failed",
        event="task.completed",
        delivery_id="dlv_failed",
        status=500,
        code="handler_error",
        error="ValueError: no customer",
        body=b'{"event":"task.completed","data":{"note":"<script>x</script>"}}',
    )
    return written


def _fields(receipt: Receipt) -> dict[str, Any]:
    return {name: getattr(receipt, name) for name in receipt.__struct_fields__}


def _listed(client: Client, query: str = "") -> str:
    response = client.get(reverse(CHANGELIST) + query)
    assert response.status_code == 200
    return response.content.decode()


def test_the_admin_lists_the_newest_receipts_first(
    admin_client: Client, receipts: dict[str, Receipt]
) -> None:
    page = _listed(admin_client)
    positions = [page.index(f"dlv_{name}") for name in ("failed", "forged", "paid", "yesterday")]
    assert positions == sorted(positions)


@pytest.mark.parametrize(
    ("query", "shown"),
    [
        ("?code=signature_mismatch", {"forged"}),
        ("?code=handler_error", {"failed"}),
        ("?code__isnull=True", {"paid", "yesterday"}),
        ("?event=invoice.paid", {"paid", "forged"}),
        ("?status=500", {"failed"}),
        ("?received_at__year=2026&received_at__month=3&received_at__day=9", {"yesterday"}),
        ("?received_at__gte=2026-03-10+00:00:00%2B00:00", {"paid", "forged", "failed"}),
        ("?q=dlv_paid", {"paid"}),
        ("?q=dlv_pa", set()),  # the search is an exact id match (indexed), not a scan
    ],
)
def test_the_admin_filters_by_code_event_status_date_and_delivery_id(
    admin_client: Client, receipts: dict[str, Receipt], query: str, shown: set[str]
) -> None:
    page = _listed(admin_client, query)
    assert {name for name in receipts if f"dlv_{name}<" in page} == shown


def test_the_admin_shows_a_receipt_read_only_with_its_body_escaped(
    admin_client: Client, receipts: dict[str, Receipt]
) -> None:
    failed = receipts["failed"]
    url = reverse("admin:cortexhooks_webhookreceipt_change", args=[failed.id])
    response = admin_client.get(url)
    page = response.content.decode()
    assert response.status_code == 200
    assert "ValueError: no customer" in page
    assert "&lt;script&gt;x&lt;/script&gt;" in page  # the body, shown as text
    assert "<script>x</script>" not in page
    assert 'name="_save"' not in page  # nothing to save: the page is read-only
    assert admin_client.post(url, {"status": "200"}).status_code == 403


def test_receipts_cannot_be_added_or_deleted_in_the_admin(
    admin_client: Client, receipts: dict[str, Receipt]
) -> None:
    add = admin_client.get(reverse("admin:cortexhooks_webhookreceipt_add"))
    delete = admin_client.get(
        reverse("admin:cortexhooks_webhookreceipt_delete", args=[receipts["paid"].id])
    )
    assert (add.status_code, delete.status_code) == (403, 403)
    assert WebhookReceipt.objects.count() == len(receipts)


def test_the_admin_needs_a_staff_login(receipts: dict[str, Receipt]) -> None:
    response = Client().get(reverse(CHANGELIST))
    assert response.status_code == 302
    assert "/login/" in response["Location"]


def test_an_async_receiver_with_the_orm_journal_answers_like_the_sync_one() -> None:
    _clear("default")
    receiver = Receiver(SECRET, journal=DjangoORMJournal())
    body = make_body(timestamp=now_ms())
    headers = signed_headers(body, timestamp=now_ms())
    sync = receiver.handle(body, headers)
    again = asyncio.run(receiver.handle_async(body, headers))
    assert (sync.status, again.status, again.duplicate) == (200, 200, True)
    assert [r.duplicate for r in receiver.journal.query()] == [True, False]  # type: ignore[union-attr]
    _clear("default")

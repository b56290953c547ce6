"""The receipt journal in the project's database: rows of :class:`~.models.WebhookReceipt`.

``CORTEXHOOKS = {"JOURNAL": "django-orm"}`` (or ``"django-orm://<db alias>"``) makes the
project's receiver write one row per request; run ``manage.py migrate`` for the table, and the
admin lists, filters and shows them. Recording is one ``INSERT``. Inside a transaction (a project
with ``ATOMIC_REQUESTS``) it runs in a savepoint of its own, so a failed write rolls back only
the receipt: a journal that fails never changes the answer (the receiver logs it).

Times are stored as Django stores them: aware UTC with ``USE_TZ = True``, naive in
``TIME_ZONE`` otherwise; receipts always come back aware.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.db import DatabaseError, transaction
from django.utils import timezone

from cortexhooks_receiver.errors import ConfigurationError, JournalError
from cortexhooks_receiver.journal.base import (
    DEFAULT_RETENTION,
    BaseJournal,
    Receipt,
    ReceiptFilter,
    utc,
)

__all__ = ["DjangoORMJournal"]


def _to_db(moment: datetime) -> datetime:
    """``moment`` (aware) as the database expects it under the project's ``USE_TZ``."""
    from django.conf import settings

    if settings.USE_TZ:
        return moment
    naive: datetime = timezone.make_naive(moment, timezone.get_default_timezone())
    return naive


def _from_db(moment: datetime) -> datetime:
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment, timezone.get_default_timezone())
    return utc(moment.timestamp())


def _receipt(row: Any) -> Receipt:
    body = row.body
    return Receipt(
        id=row.pk,
        received_at=_from_db(row.received_at),
        status=row.status,
        code=row.code,
        event=row.event,
        delivery_id=row.delivery_id,
        webhook_id=row.webhook_id,
        latency_ms=row.latency_ms,
        secret_index=row.secret_index,
        error=row.error,
        client=row.client,
        duplicate=row.duplicate,
        body=None if body is None else bytes(body),
        signature=row.signature,
        timestamp=row.timestamp,
    )


class DjangoORMJournal(BaseJournal):
    """A receipt journal in the project's database (see the module docs).

    Args:
        using: the database alias.
        retention: seconds a receipt is kept (:meth:`prune`); default a week.
        prune_every: delete the expired receipts once every this many records (per process);
            0 never.
        clock: Unix seconds for ``retention`` and ``query(since=timedelta)``; default
            :func:`time.time`.

    Raises:
        ConfigurationError: a negative ``retention`` or ``prune_every``.
    """

    def __init__(
        self,
        using: str = "default",
        *,
        retention: float = DEFAULT_RETENTION,
        prune_every: int = 1000,
        clock: Callable[[], float] | None = None,
    ) -> None:
        if retention < 0 or prune_every < 0:
            raise ConfigurationError("retention and prune_every must not be negative.")
        self.using = using
        self.retention = float(retention)
        self.prune_every = prune_every
        self._clock: Callable[[], float] = time.time if clock is None else clock
        self._records = 0

    def __repr__(self) -> str:
        return f"DjangoORMJournal(using={self.using!r})"

    def _objects(self) -> Any:
        from .models import WebhookReceipt

        return WebhookReceipt.objects.using(self.using)

    def record(self, receipt: Receipt) -> int:
        """Insert ``receipt`` as one row and return its id.

        Raises:
            JournalError: the database failed.
        """
        fields = {
            name: getattr(receipt, name) for name in receipt.__struct_fields__ if name != "id"
        }
        fields["received_at"] = _to_db(receipt.received_at)
        try:
            if transaction.get_connection(self.using).in_atomic_block:
                with transaction.atomic(using=self.using):  # a savepoint: only this rolls back
                    row = self._objects().create(**fields)
            else:
                row = self._objects().create(**fields)
        except DatabaseError as exc:
            raise JournalError(f"database error recording a receipt: {type(exc).__name__}") from exc
        self._records += 1
        if self.prune_every and self._records % self.prune_every == 0:
            self.prune()
        receipt_id: int = row.pk
        return receipt_id

    def _select(self, wanted: ReceiptFilter) -> list[Receipt]:
        rows = self._objects()
        if wanted.since_id is not None:
            rows = rows.filter(pk__gt=wanted.since_id)
        if wanted.code is not None:
            rows = rows.filter(code=wanted.code)
        match = wanted.event_match()
        if match is not None:
            kind, value = match
            if kind == "exact":
                rows = rows.filter(event=value)
            elif kind == "prefix":
                rows = rows.filter(event__startswith=value)
            else:
                rows = rows.filter(event__isnull=False)
        if wanted.since is not None:
            rows = rows.filter(received_at__gte=_to_db(utc(wanted.since)))
        try:
            return [_receipt(row) for row in rows.order_by("-pk")[: wanted.limit]]
        except DatabaseError as exc:
            raise JournalError(f"database error querying receipts: {type(exc).__name__}") from exc

    def get(self, receipt_id: int) -> Receipt | None:
        """Return the receipt with this id, or ``None``.

        Raises:
            JournalError: the database failed.
        """
        try:
            row = self._objects().filter(pk=receipt_id).first()
        except DatabaseError as exc:
            raise JournalError(f"database error reading a receipt: {type(exc).__name__}") from exc
        return None if row is None else _receipt(row)

    def prune(self) -> int:
        """Delete the receipts older than :attr:`retention`; return how many.

        Raises:
            JournalError: the database failed.
        """
        cutoff = _to_db(utc(self._clock() - self.retention))
        try:
            deleted, _ = self._objects().filter(received_at__lt=cutoff).delete()
        except DatabaseError as exc:
            raise JournalError(
                f"database error deleting expired receipts: {type(exc).__name__}"
            ) from exc
        return int(deleted)

    def close(self) -> None:
        """Nothing to release: Django manages database connections."""

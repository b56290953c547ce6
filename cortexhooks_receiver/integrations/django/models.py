"""The app's models: the ORM dedup store's keys, and the receipt journal's receipts."""

from __future__ import annotations

from django.db import models

__all__ = ["DeliveryClaim", "WebhookReceipt"]


class DeliveryClaim(models.Model):  # type: ignore[misc]
    """A claimed (``done=False``) or completed (``done=True``) dedup key until ``expires_at``.

    ``expires_at`` is Unix seconds (wall clock, shared by every worker process); expired rows are
    ignored by claims and deleted by :meth:`DjangoORMStore.prune`.
    """

    key = models.CharField(max_length=200, primary_key=True)
    done = models.BooleanField(default=False)
    token = models.CharField(max_length=100)
    expires_at = models.FloatField(db_index=True)

    class Meta:
        db_table = "cortexhooks_delivery_claim"
        verbose_name = "webhook delivery claim"

    def __str__(self) -> str:
        return f"{self.key} ({'done' if self.done else 'claimed'})"


class WebhookReceipt(models.Model):  # type: ignore[misc]
    """A receipt of the journal (``CORTEXHOOKS["JOURNAL"] = "django-orm"``): one request answered.

    The fields are those of :class:`cortexhooks_receiver.journal.Receipt`; the admin shows them
    read-only. ``body``, ``signature`` and ``timestamp`` are kept only with
    ``CORTEXHOOKS["JOURNAL_BODIES"] = True``.
    """

    received_at = models.DateTimeField(db_index=True)
    status = models.PositiveSmallIntegerField()
    code = models.CharField(max_length=64, null=True, blank=True, db_index=True)
    event = models.CharField(max_length=200, null=True, blank=True, db_index=True)
    delivery_id = models.CharField(
        "delivery id", max_length=200, null=True, blank=True, db_index=True
    )
    webhook_id = models.CharField("webhook id", max_length=200, null=True, blank=True)
    latency_ms = models.FloatField("latency (ms)")
    secret_index = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.TextField(null=True, blank=True)
    client = models.CharField(max_length=200, null=True, blank=True)
    duplicate = models.BooleanField(default=False)
    body = models.BinaryField(null=True, blank=True)
    signature = models.CharField(max_length=200, null=True, blank=True)
    timestamp = models.CharField(max_length=200, null=True, blank=True)

    class Meta:
        db_table = "cortexhooks_receipt"
        ordering = ["-id"]
        verbose_name = "webhook receipt"

    def __str__(self) -> str:
        what = self.code or ("duplicate" if self.duplicate else "accepted")
        return f"#{self.pk} {self.status} {what} {self.event or ''}".rstrip()

"""The model of the ORM dedup store: one row per dedup key (delivery id or signed-body digest)."""

from __future__ import annotations

from django.db import models

__all__ = ["DeliveryClaim"]


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

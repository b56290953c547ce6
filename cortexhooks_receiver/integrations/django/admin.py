"""The admin of the receipt journal: every request the receiver answered, read-only.

Imported by ``django.contrib.admin``'s autodiscovery when the project uses the admin. The list
shows the newest receipts first and filters them by code, event, status and date (with a date
drill-down); the search box finds a delivery or webhook id (exact match, indexed). A receipt's
page shows every field and, when bodies are journaled, the body as text. Nothing can be added,
changed or deleted here: receipts are a record, pruned by the journal's retention.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html

from .models import WebhookReceipt

__all__ = ["WebhookReceiptAdmin"]

_FIELDS = (
    "id",
    "received_at",
    "status",
    "code",
    "event",
    "delivery_id",
    "webhook_id",
    "latency_ms",
    "secret_index",
    "duplicate",
    "error",
    "client",
    "signature",
    "timestamp",
    "payload",
)


@admin.register(WebhookReceipt)
class WebhookReceiptAdmin(admin.ModelAdmin):  # type: ignore[misc]
    """Lists, filters and shows the journal's receipts; never changes them."""

    # The list: who sent what and how it went; the page of a receipt has every field.
    list_display = (*_FIELDS[:6], "duplicate", "latency", "client")
    list_display_links = ("id", "received_at")
    list_filter = ("code", "event", "status", "duplicate", "received_at")
    date_hierarchy = "received_at"
    search_fields = ("=delivery_id", "=webhook_id")
    ordering = ("-id",)
    fields = _FIELDS
    readonly_fields = _FIELDS
    show_full_result_count = False  # a COUNT(*) of a large journal on every page costs

    @admin.display(description="latency", ordering="latency_ms")  # type: ignore[untyped-decorator]
    def latency(self, receipt: WebhookReceipt) -> str:
        """The latency in milliseconds, rounded for reading."""
        return f"{receipt.latency_ms:.1f} ms"

    @admin.display(description="body")  # type: ignore[untyped-decorator]
    def payload(self, receipt: WebhookReceipt) -> Any:
        """The stored body as (pretty) text, escaped; a dash when bodies are not journaled."""
        if receipt.body is None:
            return "-"
        text = bytes(receipt.body).decode("utf-8", "replace")
        with contextlib.suppress(ValueError):  # not JSON: shown as it came
            text = json.dumps(json.loads(text), indent=2, ensure_ascii=False)
        return format_html("<pre>{}</pre>", text)

    def has_add_permission(self, request: HttpRequest) -> bool:
        """Receipts are written by the receiver only."""
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """Receipts are a record: their page is read-only."""
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """Receipts go by the journal's retention (``prune``), not by hand."""
        return False

"""Rebuild a journaled request, so that a receiver can run it again (``Receiver.rerun``).

Only a receipt written with ``journal_bodies=True`` holds what it takes: the body and the
signature header as received. The stored timestamp header is replaced by the current time: it
is unsigned, so an old one proves nothing, and what keeps a body from running twice applies to
a rerun as to any request (the signed body timestamp must be younger than the retention, and the
dedup store remembers the delivery id and the body).
"""

from __future__ import annotations

from cortexhooks_receiver.errors import JournalError

from .base import Journal

__all__ = ["rerun_request"]


def rerun_request(
    journal: Journal | None, receipt_id: int, now_ms: int
) -> tuple[bytes, dict[str, str]]:
    """Return ``(body, headers)`` of the request journaled as ``receipt_id``, timestamped now.

    Raises:
        JournalError: there is no journal, no receipt with this id (never recorded, or pruned),
            or the receipt has no stored body (it was written without ``journal_bodies=True``,
            or the request was refused before its body was read).
    """
    if journal is None:
        raise JournalError("This receiver has no journal: pass journal=... to the Receiver.")
    receipt = journal.get(receipt_id)
    if receipt is None:
        raise JournalError(f"There is no receipt {receipt_id} in the journal (or it was pruned).")
    if receipt.body is None:
        raise JournalError(
            f"Receipt {receipt_id} has no stored body, so it cannot be rerun: bodies are kept "
            "only when the receiver has journal_bodies=True (and not for a request refused "
            "before its body was read)."
        )
    headers = {"Content-Type": "application/json", "X-CortexBuild-Timestamp": str(now_ms)}
    for name, value in (
        ("X-CortexBuild-Signature", receipt.signature),
        ("X-CortexBuild-Event", receipt.event),
        ("X-CortexBuild-Delivery-Id", receipt.delivery_id),
        ("X-CortexBuild-Webhook-Id", receipt.webhook_id),
    ):
        if value is not None:
            headers[name] = value
    return receipt.body, headers

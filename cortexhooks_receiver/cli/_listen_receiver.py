"""The receiver behind ``cortexhooks listen``: an ordinary Receiver that describes every answer.

:class:`ListenReceiver` is a :class:`~cortexhooks_receiver.Receiver` with the defaults a real
endpoint has (memory dedup store, ``max_body_bytes``, the body-age check) and no handlers. It is
served by the WSGI adapter like any receiver, so listen answers exactly what a receiver with the
same secrets would answer. Like any receiver given ``journal=``, it writes a receipt of every
request to its journal, here a memory journal with the bodies (``receiver.journal``, which a
reader can follow live). After each answer it hands a :class:`Record` to a callback (listen's
console): the receipt's facts, plus what listen alone shows, the pretty payload, the diagnosis
of a refusal (``cortexhooks verify``'s :func:`~.diagnose.diagnose`, from the stored body and
headers) and the forwarding.

With ``forward_to``, every verified delivery (duplicates included, so that the app behind does its
own dedup) is passed on with its body and CortexBuild headers, and the app's answer is listen's.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, Final

import msgspec

from cortexhooks_receiver._concurrency import to_thread
from cortexhooks_receiver._headers import Headers, header_view
from cortexhooks_receiver.errors import VerificationError, WebhookError
from cortexhooks_receiver.inspector import Check
from cortexhooks_receiver.journal import MemoryJournal, Receipt
from cortexhooks_receiver.receiver import (
    DEFAULT_RETENTION,
    Outcome,
    Receiver,
    _Action,
    _Delivery,
)
from cortexhooks_receiver.routing import Router
from cortexhooks_receiver.signature import DEFAULT_TOLERANCE

from .diagnose import Diagnosis, diagnose

__all__ = ["ListenReceiver", "Record"]

_FORWARDED: Final = ("content-type", "user-agent")
_FORWARD_TIMEOUT: Final = 10.0
_HEADER_PROBLEMS: Final = frozenset({"missing_signature", "malformed_signature"})
_TIMESTAMP_PROBLEMS: Final = frozenset(
    {"missing_timestamp", "invalid_timestamp", "timestamp_in_seconds", "clock_skew"}
)
_HMAC_PROBLEMS: Final = frozenset(
    {"secret_whitespace", "secret_prefix", "body_reserialised", "wrong_secret_or_body"}
)
_STEPS: Final = {
    "method_not_allowed": "Method",
    "unsupported_media_type": "Content type",
    "payload_too_large": "Body size",
    "invalid_content_length": "Body size",
    "unknown_webhook": "Webhook id",
    "rate_limited": "Rate limit",
    "event_too_old": "Event age",
    "invalid_payload": "Payload",
    "invalid_delivery_id": "Delivery id",
}
JOURNAL_SIZE: Final = 500
"""How many receipts (with their bodies) listen's memory journal keeps."""


class Record(msgspec.Struct, frozen=True, kw_only=True):
    """What listen says about one request its receiver answered: its receipt, and more.

    Attributes:
        received_at: when the request arrived (aware, UTC).
        status: the HTTP status answered (the app's, when forwarded).
        code: the receiver's refusal code; ``None`` when it accepted the delivery.
        event: the verified event's name; for a refusal, the unsigned ``X-CortexBuild-Event``
            header, if any.
        delivery_id: the ``X-CortexBuild-Delivery-Id`` header, if any.
        webhook_id: the ``X-CortexBuild-Webhook-Id`` header, if any.
        duplicate: the receiver had already processed this delivery.
        payload: the accepted body, parsed (``None`` for a refusal).
        problem: for a refusal, the diagnosed cause (the code when there is no diagnosis).
        message: for a refusal, the explanation in one sentence.
        findings: facts worth reading about a refusal.
        notes: facts that only matter when digging deeper (``--verbose``).
        forwarded_to: the URL the delivery was forwarded to, if it was.
        receipt_id: the receipt's id in the receiver's journal.
        client: the sender's address (``inspector-resend:ID`` for a re-send from the page).
        headers: the request's headers, lower-case names, as received.
        body: the raw body, when the journal kept it.
        answer: the body of the answer sent.
        checks: the signature check step by step, for the inspector (no secret, no expected
            signature: only whether it matched, and which secret did).
        typed: the verified, typed event (``None`` for a refusal).
    """

    received_at: datetime
    status: int
    code: str | None
    event: str | None
    delivery_id: str | None
    webhook_id: str | None
    duplicate: bool = False
    payload: Any = None
    problem: str | None = None
    message: str | None = None
    findings: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    forwarded_to: str | None = None
    receipt_id: int = 0
    client: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes | None = None
    answer: bytes = b""
    checks: tuple[Check, ...] = ()
    typed: Any = None

    @property
    def accepted(self) -> bool:
        """``True`` when the receiver accepted the delivery (new or duplicate)."""
        return self.code is None


class ListenReceiver(Receiver):
    """A :class:`~cortexhooks_receiver.Receiver` that reports a :class:`Record` of every answer.

    Its journal (``self.journal``) is a :class:`~cortexhooks_receiver.journal.MemoryJournal`
    of the last :data:`JOURNAL_SIZE` receipts, bodies included.

    Args:
        secrets: the webhook secrets, newest first (ignored with ``tenants``).
        on_record: called with the record of each request, after its answer is decided and
            before it is sent; it runs in the request's thread and should not raise.
        tolerance: seconds, as for the Receiver.
        retention: seconds, as for the Receiver (dedup memory and the maximum body age).
        forward_to: a URL that receives every verified delivery; its answer is relayed.
        now: a clock returning Unix seconds, for tests; default :func:`time.time`.
        tenants: webhook id -> its secret(s): one endpoint for many webhooks (the Receiver's
            ``secret_for``), instead of ``secrets``.

    Raises:
        ConfigurationError: what the Receiver raises for these settings.
        ImportError: ``forward_to`` is given and httpx (the ``cli`` extra) is missing.
    """

    def __init__(
        self,
        secrets: Sequence[str],
        on_record: Callable[[Record], None],
        *,
        tolerance: float = DEFAULT_TOLERANCE,
        retention: float = DEFAULT_RETENTION,
        forward_to: str | None = None,
        now: Callable[[], float] | None = None,
        tenants: Mapping[str, str | Sequence[str]] | None = None,
    ) -> None:
        super().__init__(
            secrets=None if tenants is not None else secrets,
            secret_for=None if tenants is None else tenants.get,
            tolerance=tolerance,
            retention=retention,
            router=Router(),
            now=now,
            journal=MemoryJournal(JOURNAL_SIZE, clock=now),
            journal_bodies=True,
        )
        if forward_to is not None:
            import httpx  # noqa: F401 (missing, it must stop the command, not fail each delivery)
        self._secrets = tuple(secrets)  # for the diagnosis; never printed
        self._tenants = tenants
        self.on_record = on_record
        self.forward_to = forward_to

    def resend(self, body: bytes, headers: Mapping[str, str], client: str) -> Outcome:
        """Run a delivery again with a fresh timestamp (same body, same delivery id).

        Only the CortexBuild headers and the content type are kept. Its record is reported
        like any request's (and it is forwarded, when listen forwards).

        Raises:
            What :meth:`~cortexhooks_receiver.Receiver.handle` raises.
        """
        kept = {
            name: value
            for name, value in headers.items()
            if name.startswith("x-cortexbuild-") or name in _FORWARDED
        }
        kept["x-cortexbuild-timestamp"] = str(self._now_ms())
        return self.handle(body, kept, client=client)

    # Both drivers end here, for handle() and refuse() alike: the receipt is written by then.

    def _drive(self, delivery: _Delivery, steps: Iterator[_Action] | None = None) -> Outcome:
        return self._answered(delivery, super()._drive(delivery, steps))

    async def _drive_async(self, delivery: _Delivery) -> Outcome:
        # Forwarding and the console block: a worker thread, never the event loop.
        return await to_thread(self._answered, delivery, await super()._drive_async(delivery))

    def _answered(self, delivery: _Delivery, outcome: Outcome) -> Outcome:
        """Forward a verified delivery if asked, report the record, return the answer to send."""
        receipt: Receipt = delivery.receipt
        error = outcome.error
        verdict = self._diagnosis(receipt)
        if error is not None:
            problem, message, findings, notes = self._explain(error, verdict)
            record = _record(
                receipt, problem=problem, message=message, findings=findings, notes=notes
            )
        else:
            if self.forward_to is not None:
                outcome = _forward(self.forward_to, receipt, delivery.headers, outcome)
            record = _record(
                receipt,
                status=outcome.status,
                payload=json.loads(receipt.body or b"null"),  # the receiver decoded it
                forwarded_to=self.forward_to,
                typed=outcome.event,
                findings=() if verdict is None else tuple(verdict.findings),
            )
        record = msgspec.structs.replace(
            record,
            receipt_id=receipt.id,
            client=receipt.client,
            headers=tuple(_named_headers(delivery.headers).items()),
            body=receipt.body,
            answer=outcome.body,
            checks=self._checks(receipt, error, verdict),
        )
        self.on_record(record)
        return outcome

    def _diagnosis(self, receipt: Receipt) -> Diagnosis | None:
        """``verify``'s diagnosis of the stored body and headers; ``None`` without either."""
        secrets = self._diagnosed_secrets(receipt.webhook_id)
        if receipt.body is None or not secrets:
            return None
        return diagnose(
            receipt.body,
            receipt.signature,
            receipt.timestamp,
            secrets,
            now_ms=int(receipt.received_at.timestamp() * 1000),
            tolerance=self.tolerance,
        )

    @staticmethod
    def _explain(
        error: WebhookError, verdict: Diagnosis | None
    ) -> tuple[str, str, tuple[str, ...], tuple[str, ...]]:
        """Return ``(problem, message, findings, notes)`` about a refusal.

        A signature or timestamp refusal gets ``verify``'s diagnosis of the stored body and
        headers when it reaches the same verdict; any other refusal is explained in the
        receiver's own words and hint.
        """
        if (
            isinstance(error, VerificationError)
            and verdict is not None
            and verdict.error == error.code
            and verdict.problem is not None
        ):
            return (
                verdict.problem,
                verdict.message,
                tuple(verdict.findings),
                tuple(verdict.notes),
            )
        return error.code, error.message, (error.hint,) if error.hint else (), ()

    def _checks(
        self, receipt: Receipt, error: WebhookError | None, verdict: Diagnosis | None
    ) -> tuple[Check, ...]:
        """The signature check step by step, in the receiver's order, for the inspector."""
        checks: list[Check] = []
        explained = False
        if verdict is not None:
            problem = verdict.problem
            explained = error is not None and verdict.error == error.code
            header_ok = problem not in _HEADER_PROBLEMS
            checks.append(
                Check(
                    "Signature header",
                    header_ok,
                    "present: 64 hex digits" if header_ok else verdict.message,
                )
            )
            if problem in _TIMESTAMP_PROBLEMS:
                checks.append(Check("Timestamp", False, verdict.message))
            else:
                told = [f for f in verdict.findings if f.startswith("the timestamp is")]
                checks.append(
                    Check(
                        "Timestamp",
                        verdict.timestamp_valid,
                        f"{told[0]}, within the ±{self.tolerance:g} s tolerance"
                        if verdict.timestamp_valid and told
                        else "not within the tolerance",
                    )
                )
            which = self._which_secret(receipt)
            if verdict.signature_valid:
                hmac_check = Check("HMAC-SHA256 of the raw body", True, f"matched {which}")
            elif not header_ok:
                hmac_check = Check(
                    "HMAC-SHA256 of the raw body", None, "not checked: no signature to check"
                )
            else:
                hmac_check = Check(
                    "HMAC-SHA256 of the raw body",
                    False,
                    verdict.message if problem in _HMAC_PROBLEMS else f"did not match {which}",
                )
            checks.append(hmac_check)
        if error is not None and not explained:
            checks.append(Check(_STEPS.get(error.code, "Request"), False, error.message))
        elif error is None:
            checks.append(
                Check(
                    "Delivery id (dedup)",
                    True,
                    "already processed: answered 200, nothing ran again"
                    if receipt.duplicate
                    else "a new delivery: processed",
                )
            )
        return tuple(checks)

    def _which_secret(self, receipt: Receipt) -> str:
        """Which secret the signature matched, in words (never the secret itself)."""
        count = len(self._diagnosed_secrets(receipt.webhook_id))
        owner = "" if self._tenants is None else f" of webhook {receipt.webhook_id}"
        index = receipt.secret_index
        if count <= 1:
            return f"the secret{owner}"
        if index is None:
            return f"one of the {count} secrets{owner}"
        age = "the newest" if index == 0 else "an older one: the sender has not rotated yet"
        return f"secret #{index + 1} of {count}{owner} ({age})"

    def _diagnosed_secrets(self, webhook_id: str | None) -> tuple[str, ...]:
        """The secrets a refusal is diagnosed with: with ``tenants``, the webhook's own (none for
        an unknown webhook, which is explained in the receiver's words)."""
        if self._tenants is None:
            return self._secrets
        found = self._tenants.get(webhook_id or "", ())
        return (found,) if isinstance(found, str) else tuple(found)


def _record(receipt: Receipt, **listen_only: Any) -> Record:
    """The record of ``receipt``: its facts, plus the fields listen alone fills in."""
    fields: dict[str, Any] = {
        "received_at": receipt.received_at,
        "status": receipt.status,
        "code": receipt.code,
        "event": receipt.event,
        "delivery_id": receipt.delivery_id,
        "webhook_id": receipt.webhook_id,
        "duplicate": receipt.duplicate,
    }
    fields.update(listen_only)
    return Record(**fields)


def _named_headers(headers: Headers) -> dict[str, str]:
    """Return the request's headers by lower-case HTTP name (a WSGI environ's CGI names too)."""
    if isinstance(headers, Mapping) and "wsgi.version" in headers:
        named = {
            key[5:].replace("_", "-").lower(): value
            for key, value in headers.items()
            if key.startswith("HTTP_") and isinstance(value, str)
        }
        content_type = headers.get("CONTENT_TYPE")
        if isinstance(content_type, str) and content_type:
            named["content-type"] = content_type
        return named
    return {key: value for key, value in header_view(headers).items() if isinstance(value, str)}


def _forward(url: str, receipt: Receipt, headers: Headers, verified: Outcome) -> Outcome:
    """Pass a verified delivery to ``url`` unchanged; return its answer in place of ours.

    A JSON answer is relayed byte for byte; any other is summarised as ``{"forwardedStatus": n}``.
    An app that cannot be reached is answered 502 ``forward_failed``. Never raises.
    """
    import httpx

    named = _named_headers(headers)
    passed = {k: v for k, v in named.items() if k.startswith("x-cortexbuild-") or k in _FORWARDED}
    try:
        response = httpx.post(
            url,
            content=receipt.body,
            headers=passed,
            timeout=_FORWARD_TIMEOUT,
            follow_redirects=False,
        )
    except httpx.HTTPError as exc:
        failed = {"error": "forward_failed", "message": type(exc).__name__}
        return msgspec.structs.replace(verified, status=502, body=msgspec.json.encode(failed))
    answer = response.content
    try:
        json.loads(answer)
    except ValueError:
        answer = msgspec.json.encode({"forwardedStatus": response.status_code})
    return msgspec.structs.replace(verified, status=response.status_code, body=answer)

"""The receiver behind ``cortexhooks listen``: an ordinary Receiver that describes every answer.

:class:`ListenReceiver` is a :class:`~cortexhooks_receiver.Receiver` with the defaults a real
endpoint has (memory dedup store, ``max_body_bytes``, the body-age check) and no handlers. It is
served by the WSGI adapter like any receiver, so listen answers exactly what a receiver with the
same secrets would answer. After each answer it hands a :class:`Record` of the request to a
callback (listen's console): a refusal's record explains the refusal with the diagnosis of
``cortexhooks verify`` (:func:`~.diagnose.diagnose`, the receiver's own checks).

With ``forward_to``, every verified delivery (duplicates included, so that the app behind does its
own dedup) is passed on with its body and CortexBuild headers, and the app's answer is listen's.

The record is built in one place, :meth:`ListenReceiver._answered`. Its first fields are those of
the receipt journal's ``Receipt``; once the receiver writes receipts itself (``journal=
"memory://"``), that method takes them from the receipt of this request and adds only what listen
alone knows (the diagnosis, the pretty payload, the forwarding).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final

import msgspec

from cortexhooks_receiver._headers import Headers, header_view
from cortexhooks_receiver.errors import VerificationError, WebhookError
from cortexhooks_receiver.receiver import DEFAULT_RETENTION, Outcome, Receiver
from cortexhooks_receiver.routing import Router
from cortexhooks_receiver.signature import DEFAULT_TOLERANCE, Body

from .diagnose import diagnose

__all__ = ["ListenReceiver", "Record"]

_FORWARDED: Final = ("content-type", "user-agent")
_FORWARD_TIMEOUT: Final = 10.0


class Record(msgspec.Struct, frozen=True, kw_only=True):
    """What listen says about one request its receiver answered.

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

    @property
    def accepted(self) -> bool:
        """``True`` when the receiver accepted the delivery (new or duplicate)."""
        return self.code is None


class ListenReceiver(Receiver):
    """A :class:`~cortexhooks_receiver.Receiver` that reports a :class:`Record` of every answer.

    Args:
        secrets: the webhook secrets, newest first.
        on_record: called with the record of each request, after its answer is decided and
            before it is sent; it runs in the request's thread and should not raise.
        tolerance: seconds, as for the Receiver.
        retention: seconds, as for the Receiver (dedup memory and the maximum body age).
        forward_to: a URL that receives every verified delivery; its answer is relayed.
        now: a clock returning Unix seconds, for tests; default :func:`time.time`.

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
    ) -> None:
        super().__init__(
            secrets=secrets, tolerance=tolerance, retention=retention, router=Router(), now=now
        )
        if forward_to is not None:
            import httpx  # noqa: F401 (missing, it must stop the command, not fail each delivery)
        self._secrets = tuple(secrets)  # for the diagnosis; never printed
        self.on_record = on_record
        self.forward_to = forward_to

    def handle(
        self, body: Body, headers: Headers, method: str = "POST", *, client: str | None = None
    ) -> Outcome:
        """Answer as the Receiver does (or relay the forwarded app's answer); report the record.

        Raises:
            BodyTypeError: ``body`` is not the raw bytes.
        """
        received_at = self._now()
        outcome = super().handle(body, headers, method, client=client)
        return self._answered(received_at, body, headers, outcome)

    async def handle_async(
        self, body: Body, headers: Headers, method: str = "POST", *, client: str | None = None
    ) -> Outcome:
        """Coroutine form of :meth:`handle` (forwarding and reporting run in a worker thread).

        Raises:
            BodyTypeError: ``body`` is not the raw bytes.
        """
        from asyncio import to_thread

        received_at = self._now()
        outcome = await super().handle_async(body, headers, method, client=client)
        return await to_thread(self._answered, received_at, body, headers, outcome)

    def refuse(self, error: WebhookError, *, client: str | None = None) -> Outcome:
        """Answer an adapter's refusal (a bad or too large ``Content-Length``); report it.

        Never raises.
        """
        received_at = self._now()
        return self._answered(received_at, b"", {}, super().refuse(error, client=client))

    def _answered(
        self, received_at: float, body: Body, headers: Headers, outcome: Outcome
    ) -> Outcome:
        """Forward a verified delivery if asked, report the record, return the answer to send."""
        named = _named_headers(headers)
        raw = bytes(body)
        when = datetime.fromtimestamp(received_at, UTC)
        error = outcome.error
        if error is not None:
            problem, message, findings, notes = self._explain(
                error, raw, named, int(received_at * 1000)
            )
            event = outcome.event
            record = Record(
                received_at=when,
                status=outcome.status,
                code=error.code,
                event=event.event if event is not None else named.get("x-cortexbuild-event"),
                delivery_id=named.get("x-cortexbuild-delivery-id"),
                webhook_id=named.get("x-cortexbuild-webhook-id"),
                problem=problem,
                message=message,
                findings=findings,
                notes=notes,
            )
        else:
            verified = outcome.event
            assert verified is not None  # every accepted answer carries its event
            if self.forward_to is not None:
                outcome = _forward(self.forward_to, raw, named, outcome)
            record = Record(
                received_at=when,
                status=outcome.status,
                code=None,
                event=verified.event,
                delivery_id=verified.delivery_id,
                webhook_id=verified.webhook_id,
                duplicate=outcome.duplicate,
                payload=json.loads(raw),  # the receiver decoded it: a JSON object
                forwarded_to=self.forward_to,
            )
        self.on_record(record)
        return outcome

    def _explain(
        self, error: WebhookError, body: bytes, headers: Mapping[str, str], now_ms: int
    ) -> tuple[str, str, tuple[str, ...], tuple[str, ...]]:
        """Return ``(problem, message, findings, notes)`` about a refusal.

        A signature or timestamp refusal gets ``verify``'s diagnosis when it reaches the same
        verdict; any other refusal is explained in the receiver's own words and hint.
        """
        if isinstance(error, VerificationError):
            verdict = diagnose(
                body,
                headers.get("x-cortexbuild-signature"),
                headers.get("x-cortexbuild-timestamp"),
                self._secrets,
                now_ms=now_ms,
                tolerance=self.tolerance,
            )
            if verdict.error == error.code and verdict.problem is not None:
                return (
                    verdict.problem,
                    verdict.message,
                    tuple(verdict.findings),
                    tuple(verdict.notes),
                )
        return error.code, error.message, (error.hint,) if error.hint else (), ()


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


def _forward(url: str, body: bytes, headers: Mapping[str, str], verified: Outcome) -> Outcome:
    """Pass a verified delivery to ``url`` unchanged; return its answer in place of ours.

    A JSON answer is relayed byte for byte; any other is summarised as ``{"forwardedStatus": n}``.
    An app that cannot be reached is answered 502 ``forward_failed``. Never raises.
    """
    import httpx

    passed = {k: v for k, v in headers.items() if k.startswith("x-cortexbuild-") or k in _FORWARDED}
    try:
        response = httpx.post(
            url, content=body, headers=passed, timeout=_FORWARD_TIMEOUT, follow_redirects=False
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

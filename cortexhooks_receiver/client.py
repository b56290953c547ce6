"""A typed client for CortexBuild's webhook management API (and the local emulator's extras).

The guide documents ``POST /api/webhooks`` (register), ``GET /api/webhooks`` (list),
``PUT /api/webhooks/:id`` (update), ``DELETE /api/webhooks/:id`` and
``POST /api/webhooks/:id/test``, all with ``Authorization: Bearer <token>``. Results are msgspec
Structs; every failure (an error status, a connection problem, an unreadable answer) raises
:class:`ManagementAPIError` with the status and the server's message.

The emulator (``cortexhooks serve``) also answers ``POST /api/events`` (emit an event) and
``GET /api/webhooks/:id/deliveries`` (delivery logs): :meth:`ManagementClient.emit` and
:meth:`ManagementClient.deliveries`. Needs httpx (the ``sender`` or ``cli`` extra), imported lazily.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

import msgspec

from cortexhooks_receiver.errors import CortexHooksError
from cortexhooks_receiver.management import (
    AttemptRecord,
    CreatedWebhook,
    DeliveryRecord,
    EmitResult,
    QueuedDelivery,
    TestResult,
    Webhook,
)

if TYPE_CHECKING:
    import httpx

__all__ = [
    "AttemptRecord",
    "CreatedWebhook",
    "DeliveryRecord",
    "EmitResult",
    "ManagementAPIError",
    "ManagementClient",
    "QueuedDelivery",
    "TestResult",
    "Webhook",
]

_T = TypeVar("_T")


class _Envelope(msgspec.Struct, rename="camel"):
    webhooks: list[Webhook] | None = None
    webhook: Webhook | None = None
    deliveries: list[DeliveryRecord] | None = None


class ManagementAPIError(CortexHooksError):
    """A management call failed.

    Attributes:
        status: the HTTP status, or ``None`` when no answer arrived (connection failure).
        code: the server's error code (e.g. ``"unauthorized"``), or ``None``.
        message: the server's message or a description of the failure.
    """

    def __init__(self, status: int | None, message: str, code: str | None = None) -> None:
        self.status = status
        self.code = code
        self.message = message
        prefix = f"HTTP {status}" if status is not None else "no answer"
        super().__init__(f"{prefix}: {message}" + (f" ({code})" if code else ""))


class ManagementClient:
    """Calls the webhook management API with a bearer token.

    Args:
        base_url: e.g. ``"http://localhost:3001"`` (the guide's API host) or the emulator's URL.
        token: the bearer token (a JWT for CortexBuild; the emulator's ``--token``).
        timeout: seconds per call.
        transport: an httpx transport (e.g. ``httpx.WSGITransport(app=emulator.app)`` in tests).

    Raises:
        ValueError: an empty ``base_url`` or ``token``.
    """

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        import httpx

        if not base_url or not token:
            raise ValueError("base_url and token are required")
        self.base_url = base_url.rstrip("/")
        self._client = httpx.Client(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            timeout=timeout,
            transport=transport,
            follow_redirects=False,
        )

    def __repr__(self) -> str:
        return f"ManagementClient({self.base_url!r}, token=<hidden>)"

    def __enter__(self) -> ManagementClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()

    def register(
        self, url: str, events: Sequence[str], description: str | None = None
    ) -> CreatedWebhook:
        """Register ``url`` for ``events``; return the webhook id and its secret.

        Raises:
            ManagementAPIError: the API refused (e.g. 400 for an invalid URL or event name).
        """
        body: dict[str, Any] = {"url": url, "events": list(events)}
        if description is not None:
            body["description"] = description
        return self._call("POST", "/api/webhooks", CreatedWebhook, json=body)

    def list(self) -> builtins.list[Webhook]:
        """Return every registered webhook.

        Raises:
            ManagementAPIError: the call failed.
        """
        envelope = self._call("GET", "/api/webhooks", _Envelope)
        return list(envelope.webhooks or [])

    def update(
        self,
        webhook_id: str,
        *,
        url: str | None = None,
        events: Sequence[str] | None = None,
        description: str | None = None,
        active: bool | None = None,
    ) -> Webhook:
        """Change a webhook's fields (only those given); ``active=True`` re-enables it.

        Raises:
            ManagementAPIError: 404 for an unknown id, 400 for invalid fields.
        """
        body: dict[str, Any] = {}
        if url is not None:
            body["url"] = url
        if events is not None:
            body["events"] = list(events)
        if description is not None:
            body["description"] = description
        if active is not None:
            body["active"] = active
        envelope = self._call("PUT", self._path(webhook_id), _Envelope, json=body)
        if envelope.webhook is None:
            raise ManagementAPIError(200, "the answer has no webhook")
        return envelope.webhook

    def delete(self, webhook_id: str) -> None:
        """Delete a webhook.

        Raises:
            ManagementAPIError: 404 for an unknown id.
        """
        self._call("DELETE", self._path(webhook_id), None)

    def test(self, webhook_id: str) -> TestResult:
        """Send a test event to the webhook now and return how the attempt went.

        Raises:
            ManagementAPIError: 404 for an unknown id.
        """
        return self._call("POST", self._path(webhook_id) + "/test", TestResult)

    def emit(
        self,
        event: str,
        data: dict[str, Any] | None = None,
        *,
        company_id: str | None = None,
        user_id: str | None = None,
    ) -> EmitResult:
        """Emulator only: emit ``event`` (sample data when ``data`` is None) to subscribed webhooks.

        Raises:
            ManagementAPIError: 400 for an unknown event name.
        """
        body: dict[str, Any] = {"event": event}
        if data is not None:
            body["data"] = data
        if company_id is not None:
            body["companyId"] = company_id
        if user_id is not None:
            body["userId"] = user_id
        return self._call("POST", "/api/events", EmitResult, json=body)

    def deliveries(self, webhook_id: str) -> builtins.list[DeliveryRecord]:
        """Emulator only: the delivery log of a webhook, oldest first.

        Raises:
            ManagementAPIError: 404 for an unknown id.
        """
        envelope = self._call("GET", self._path(webhook_id) + "/deliveries", _Envelope)
        return list(envelope.deliveries or [])

    @staticmethod
    def _path(webhook_id: str) -> str:
        return "/api/webhooks/" + quote(webhook_id, safe="")

    def _call(self, method: str, path: str, into: type[_T] | None, **kwargs: Any) -> _T:
        import httpx

        try:
            response = self._client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise ManagementAPIError(None, f"{type(exc).__name__}: {exc}") from None
        if not 200 <= response.status_code < 300:
            code, message = _error_details(response)
            raise ManagementAPIError(response.status_code, message, code)
        if into is None:
            return None  # type: ignore[return-value]
        try:
            return msgspec.json.decode(response.content, type=into)
        except msgspec.DecodeError as exc:
            raise ManagementAPIError(
                response.status_code, f"unexpected answer from the API: {exc}"
            ) from None


def _error_details(response: httpx.Response) -> tuple[str | None, str]:
    try:
        data = msgspec.json.decode(response.content)
    except msgspec.DecodeError:
        data = None
    if isinstance(data, dict):
        code = data.get("error")
        message = data.get("message") or (code if isinstance(code, str) else None)
        if isinstance(message, str):
            return (code if isinstance(code, str) else None), message
    reason = response.reason_phrase or "error"
    return None, f"{reason} (no JSON error body)"

"""The emulator's HTTP API as a plain WSGI app (served by wsgiref; testable with httpx).

Routes (all under bearer auth except ``GET /`` and the dashboard's files):

=======  ==================================  ==============================================
POST     /api/webhooks                        register ``{url, events, description?}`` (201)
GET      /api/webhooks                        list ``{success, webhooks: [...]}``
GET      /api/webhooks/:id                    one ``{success, webhook}``
PUT      /api/webhooks/:id                    update ``{url?, events?, description?, active?}``
DELETE   /api/webhooks/:id                    delete
POST     /api/webhooks/:id/test               one ``webhook.test`` attempt now
GET      /api/webhooks/:id/deliveries         the delivery log with every attempt
POST     /api/events                          emit ``{event, data?, companyId?, userId?}`` (202)
GET      /api/events                          the event catalog
=======  ==================================  ==============================================

``GET /`` from a browser (``Accept: text/html``) is the dashboard
(:mod:`cortexhooks_receiver.inspector.dashboard`), a page over this same API that asks for the
bearer token; any other client gets the emulator's description as JSON.

Errors are JSON ``{"success": false, "error": code, "message": ...}`` with a 4xx status: 400 for
bad input, 401 without a valid token, 404, 405 (with ``Allow``), 413 over 1 MiB, 415 for a
non-JSON body. Secrets appear only in the registration answer.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Final, NoReturn

import msgspec

from cortexhooks_receiver._http import status_line
from cortexhooks_receiver.events import CATALOG
from cortexhooks_receiver.inspector.dashboard import serve_dashboard

from .errors import EmulatorError
from .samples import sample_data

if TYPE_CHECKING:
    from wsgiref.types import StartResponse, WSGIEnvironment

    from .core import Emulator

__all__ = ["MAX_BODY_BYTES", "EmulatorApp"]

MAX_BODY_BYTES: Final = 1_048_576
_WEBHOOK: Final = re.compile(r"^/api/webhooks/([^/]+)(/test|/deliveries)?/?$")

_Reply = tuple[int, Any, list[tuple[str, str]]]


class EmulatorApp:
    """WSGI app over an :class:`~.core.Emulator`; never answers 500 for bad input."""

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        self._token = emulator.token.encode("utf-8")

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        page = serve_dashboard(environ, start_response)
        if page is not None:
            return page
        try:
            status, body, headers = self._dispatch(environ)
        except EmulatorError as exc:
            status, headers = exc.status, []
            if exc.status == 401:
                headers.append(("WWW-Authenticate", 'Bearer realm="cortexhooks-emulator"'))
            if isinstance(exc, _MethodNotAllowed):
                headers.append(("Allow", exc.allow))
            body = {"success": False, "error": exc.code, "message": exc.message}
        except Exception:  # a bug: answer without details, never crash the server
            status, headers = 500, []
            body = {"success": False, "error": "internal_error", "message": "internal error"}
        payload = msgspec.json.encode(body)
        start_response(
            status_line(status),
            [
                ("Content-Type", "application/json"),
                ("Content-Length", str(len(payload))),
                *headers,
            ],
        )
        return [payload]

    def _dispatch(self, environ: WSGIEnvironment) -> _Reply:
        method = str(environ.get("REQUEST_METHOD", "GET")).upper()
        path = str(environ.get("PATH_INFO", "/")) or "/"
        if path in ("/", ""):
            sender = self.emulator.sender
            about = {
                "name": "cortexhooks emulator",
                "api": "/api/webhooks",
                "dashboard": "/",
                "retrySchedule": list(sender.schedule),
                "autoDisableAfter": sender.disable_after,
                "timeScale": self.emulator.dispatcher.time_scale,
            }
            return 200, about, []
        if not path.startswith("/api/"):
            raise EmulatorError(404, "not_found", f"no route {path}")
        self._authorize(environ)
        emu = self.emulator
        if path.rstrip("/") == "/api/webhooks":
            if method == "GET":
                return 200, {"success": True, "webhooks": emu.webhooks()}, []
            if method == "POST":
                body = _json_object(environ)
                webhook, secret = emu.register(
                    body.get("url"), body.get("events"), body.get("description")
                )
                return (
                    201,
                    {
                        "success": True,
                        "webhookId": webhook.id,
                        "secret": secret,
                        "message": "Webhook registered successfully",
                    },
                    [("Location", f"/api/webhooks/{webhook.id}")],
                )
            return _not_allowed("GET, POST")
        if path.rstrip("/") == "/api/events":
            if method == "GET":
                catalog = [
                    {
                        "name": s.name,
                        "family": s.family,
                        "description": s.description,
                        "sample": sample_data(s.name),
                    }
                    for s in CATALOG
                ]
                return 200, {"success": True, "events": catalog}, []
            if method == "POST":
                body = _json_object(environ)
                queued = emu.emit(
                    body.get("event"),
                    body.get("data"),
                    company_id=body.get("companyId"),
                    user_id=body.get("userId"),
                )
                return 202, {"success": True, "event": body["event"], "deliveries": queued}, []
            return _not_allowed("GET, POST")
        match = _WEBHOOK.match(path)
        if match is None:
            raise EmulatorError(404, "not_found", f"no route {path}")
        webhook_id, action = match.group(1), match.group(2)
        if action == "/test":
            if method != "POST":
                return _not_allowed("POST")
            return 200, emu.test(webhook_id), []
        if action == "/deliveries":
            if method != "GET":
                return _not_allowed("GET")
            return 200, {"success": True, "deliveries": emu.deliveries(webhook_id)}, []
        if method == "GET":
            return 200, {"success": True, "webhook": emu.webhook(webhook_id)}, []
        if method == "PUT":
            webhook = emu.update(webhook_id, _json_object(environ))
            return 200, {"success": True, "webhook": webhook}, []
        if method == "DELETE":
            emu.delete(webhook_id)
            return 200, {"success": True, "message": "Webhook deleted"}, []
        return _not_allowed("GET, PUT, DELETE")

    def _authorize(self, environ: WSGIEnvironment) -> None:
        header = str(environ.get("HTTP_AUTHORIZATION", ""))
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise EmulatorError(
                401, "unauthorized", "missing bearer token (Authorization: Bearer <token>)"
            )
        if not hmac.compare_digest(token.strip().encode("utf-8"), self._token):
            raise EmulatorError(401, "unauthorized", "invalid bearer token")


def _not_allowed(allow: str) -> NoReturn:
    raise _MethodNotAllowed(allow)


class _MethodNotAllowed(EmulatorError):
    def __init__(self, allow: str) -> None:
        super().__init__(405, "method_not_allowed", f"method not allowed here (use {allow})")
        self.allow = allow


def _json_object(environ: WSGIEnvironment) -> dict[str, Any]:
    content_type = str(environ.get("CONTENT_TYPE", "")).split(";", 1)[0].strip().lower()
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise EmulatorError(400, "invalid_request", "invalid Content-Length") from None
    if length > MAX_BODY_BYTES:
        raise EmulatorError(413, "payload_too_large", "the body is larger than 1 MiB")
    raw = environ["wsgi.input"].read(length) if length > 0 else b""
    if (
        raw
        and content_type
        and not (content_type == "application/json" or content_type.endswith("+json"))
    ):
        raise EmulatorError(415, "unsupported_media_type", "send Content-Type: application/json")
    try:
        body = msgspec.json.decode(raw or b"{}")
    except msgspec.DecodeError:
        raise EmulatorError(400, "invalid_json", "the body is not valid JSON") from None
    if not isinstance(body, dict):
        raise EmulatorError(400, "invalid_json", "the body must be a JSON object")
    return body

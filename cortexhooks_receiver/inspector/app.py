"""The inspector page as a WSGI app: `/` and `/_inspector/...`; any other path to the receiver.

Routes:

=======  ====================================  =============================================
GET      /                                     the page (``static/inspector.html``)
GET      /_inspector/static/NAME               its script and style sheet
GET      /_inspector/api/info                  what the page shows in its header
GET      /_inspector/api/entries?after=ID      entries newer than ID, newest first (summaries)
GET      /_inspector/api/entries/ID            one entry, with its ``curl`` and pytest forms
POST     /_inspector/api/entries/ID/resend     re-send it to the forward target
GET      /_inspector/api/export                the session as JSON lines (a download)
=======  ====================================  =============================================

The page polls ``entries?after=`` for what is new. Requests whose ``Host`` is not this server's
are refused (403), and the one request that acts (``resend``) must carry the
``X-Cortexhooks-Inspector`` header, which a form or a page on another origin cannot send without
this server's consent (it never gives it): another site can neither read the session nor
re-send a delivery.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Final

import msgspec

from ._web import host_allowed, respond, respond_json, static_file
from .session import Entry, Session
from .snippets import as_curl, as_pytest

if TYPE_CHECKING:
    from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

__all__ = ["ACTION_HEADER", "PREFIX", "InspectorApp", "Resend"]

PREFIX: Final = "/_inspector/"
"""Where the inspector's own files and API live; the page itself is at ``/``."""
ACTION_HEADER: Final = "X-Cortexhooks-Inspector"
"""The header a request that acts (a re-send) must carry."""

Resend = Callable[[Entry], Entry]
"""Sends an entry again and returns the entry of the new request."""

_ENTRY: Final = re.compile(r"^/_inspector/api/entries/([0-9]{1,18})(/resend)?$")
_STATIC: Final = "/_inspector/static/"


def _summary(entry: Entry) -> Entry:
    return msgspec.structs.replace(entry, checks=(), headers=(), body=None, fields=(), answer="")


class InspectorApp:
    """WSGI app: the inspector over ``session``, in front of the webhook app (if any).

    Args:
        session: the entries the page shows.
        webhook_app: answers every path the inspector does not own (listen's receiver);
            ``None``: those are answered 404.
        bound_host: the interface the server listens on, for the ``Host`` check.
        webhook_url: where the ``curl`` form sends a request (listen's own URL, or the forward
            target).
        resend: re-sends an entry; ``None`` when there is nowhere to re-send to.
        forward_to: shown on the page: where verified deliveries go.
        source: shown on the page: the file a loaded session came from.
    """

    def __init__(
        self,
        session: Session,
        *,
        webhook_app: WSGIApplication | None = None,
        bound_host: str = "127.0.0.1",
        webhook_url: str = "",
        resend: Resend | None = None,
        forward_to: str | None = None,
        source: str | None = None,
    ) -> None:
        self.session = session
        self.webhook_app = webhook_app
        self.bound_host = bound_host
        self.webhook_url = webhook_url
        self.resend = resend
        self.forward_to = forward_to
        self.source = source

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = str(environ.get("PATH_INFO") or "/")
        if path != "/" and not path.startswith(PREFIX):
            if self.webhook_app is not None:
                return self.webhook_app(environ, start_response)
            return respond_json(
                start_response, 404, {"error": "not_found", "message": f"no page at {path}"}
            )
        if not host_allowed(environ, self.bound_host):
            return respond_json(
                start_response,
                403,
                {
                    "error": "forbidden_host",
                    "message": "open the inspector by its loopback address",
                },
            )
        method = str(environ.get("REQUEST_METHOD") or "GET").upper()
        return self._route(method, path, environ, start_response)

    def _route(
        self, method: str, path: str, environ: WSGIEnvironment, start_response: StartResponse
    ) -> list[bytes]:
        if path == "/" or path.startswith(_STATIC):
            if method != "GET":
                return _refuse(start_response, 405, "method_not_allowed", "use GET here")
            found = static_file("inspector.html" if path == "/" else path[len(_STATIC) :])
            if found is None:
                return _refuse(start_response, 404, "not_found", f"no file at {path}")
            return respond(start_response, 200, *found)
        if path == "/_inspector/api/info":
            if method != "GET":
                return _refuse(start_response, 405, "method_not_allowed", "use GET here")
            return respond_json(start_response, 200, self._info())
        if path == "/_inspector/api/entries":
            if method != "GET":
                return _refuse(start_response, 405, "method_not_allowed", "use GET here")
            after = _after(str(environ.get("QUERY_STRING") or ""))
            entries = [_summary(entry) for entry in self.session.entries(after)]
            return respond_json(start_response, 200, {"entries": entries})
        if path == "/_inspector/api/export":
            if method != "GET":
                return _refuse(start_response, 405, "method_not_allowed", "use GET here")
            return respond(
                start_response,
                200,
                self.session.export(),
                "application/x-ndjson",
                [("Content-Disposition", 'attachment; filename="cortexhooks-session.jsonl"')],
            )
        match = _ENTRY.match(path)
        if match is None:
            return _refuse(start_response, 404, "not_found", f"no page at {path}")
        entry = self.session.get(int(match.group(1)))
        if entry is None:
            return _refuse(start_response, 404, "not_found", "no such request in this session")
        if match.group(2) is None:
            if method != "GET":
                return _refuse(start_response, 405, "method_not_allowed", "use GET here")
            return respond_json(start_response, 200, self._detail(entry))
        if method != "POST":
            return _refuse(start_response, 405, "method_not_allowed", "use POST here")
        refusal = self._refusal_of_resend(entry, environ)
        if refusal is not None:
            return _refuse(start_response, *refusal)
        assert self.resend is not None  # the refusal said so otherwise
        return respond_json(start_response, 200, {"entry": self.resend(entry)})

    def _info(self) -> dict[str, Any]:
        return {
            "webhookUrl": self.webhook_url or None,
            "forwardTo": self.forward_to,
            "canResend": self.resend is not None,
            "source": self.source,
        }

    def _detail(self, entry: Entry) -> dict[str, Any]:
        return {
            "entry": entry,
            "curl": as_curl(entry, self.forward_to or self.webhook_url or "http://127.0.0.1:3000"),
            "pytest": as_pytest(entry),
            "canResend": self.resend is not None and _resendable(entry),
        }

    def _refusal_of_resend(
        self, entry: Entry, environ: WSGIEnvironment
    ) -> tuple[int, str, str] | None:
        """Why ``entry`` cannot be re-sent now (status, code, message), or ``None``."""
        if not environ.get("HTTP_" + ACTION_HEADER.upper().replace("-", "_")):
            return 403, "missing_header", f"a re-send must carry {ACTION_HEADER}"
        if self.resend is None:
            return 409, "no_forward_target", "start cortexhooks listen with --forward-to to re-send"
        if not _resendable(entry):
            return 409, "not_resendable", "only an accepted delivery with its body can be re-sent"
        return None


def _resendable(entry: Entry) -> bool:
    return entry.accepted and entry.body is not None and entry.delivery_id is not None


def _refuse(start_response: StartResponse, status: int, code: str, message: str) -> list[bytes]:
    return respond_json(start_response, status, {"error": code, "message": message})


def _after(query: str) -> int:
    for part in query.split("&"):
        name, _, value = part.partition("=")
        if name == "after" and value.isdigit() and len(value) <= 18:
            return int(value)
    return 0

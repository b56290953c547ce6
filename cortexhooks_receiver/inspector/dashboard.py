"""The emulator's dashboard: a page over the emulator's own API, served at ``/`` of ``serve``.

The page holds no data of its own: it asks for the bearer token and calls the management API
with it (``/api/webhooks``, ``/api/webhooks/:id/deliveries``, ``/api/events``...), like any
client. It shows the registered webhooks (active, or auto-disabled and why), each delivery
with its attempts on the retry schedule and the next retry time, a form to emit any event with
its sample payload (editable), and a button to send ``webhook.test``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from ._web import respond, respond_json, static_file

if TYPE_CHECKING:
    from wsgiref.types import StartResponse, WSGIEnvironment

__all__ = ["DASHBOARD_STATIC", "serve_dashboard"]

DASHBOARD_STATIC: Final = "/_dashboard/static/"
"""Where the dashboard's script and style sheet are served."""


def serve_dashboard(environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes] | None:
    """Answer a request for the dashboard, or return ``None`` when it is not one.

    The dashboard is ``GET /`` from a browser (``Accept`` names ``text/html``) and the files
    under :data:`DASHBOARD_STATIC`. Never raises.
    """
    path = str(environ.get("PATH_INFO") or "/")
    method = str(environ.get("REQUEST_METHOD") or "GET").upper()
    if path == "/":
        if method != "GET" or "text/html" not in str(environ.get("HTTP_ACCEPT") or ""):
            return None
        found = static_file("dashboard.html")
    elif path.startswith(DASHBOARD_STATIC):
        if method != "GET":
            return respond_json(
                start_response,
                405,
                {"success": False, "error": "method_not_allowed", "message": "use GET here"},
                [("Allow", "GET")],
            )
        found = static_file(path[len(DASHBOARD_STATIC) :])
    else:
        return None
    if found is None:
        return respond_json(
            start_response,
            404,
            {"success": False, "error": "not_found", "message": f"no file at {path}"},
        )
    return respond(start_response, 200, *found)

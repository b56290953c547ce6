"""What both local pages share: their security headers, static files and the loopback check.

The pages are plain HTML, CSS and JavaScript files inside this package (``static/``), served as
they are: no build step, nothing fetched from the network. Every answer carries a strict
Content-Security-Policy (scripts, styles and requests only from the page's own origin; no inline
script, no frames, no plugins), ``X-Content-Type-Options: nosniff`` and no referrer.
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib import resources
from typing import TYPE_CHECKING, Final

import msgspec

from cortexhooks_receiver._http import status_line

if TYPE_CHECKING:
    from wsgiref.types import StartResponse, WSGIEnvironment

__all__ = [
    "CONTENT_SECURITY_POLICY",
    "SECURITY_HEADERS",
    "host_allowed",
    "respond",
    "respond_json",
    "static_file",
]

CONTENT_SECURITY_POLICY: Final = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
"""The policy of every answer of the pages: nothing inline, nothing from another origin."""

SECURITY_HEADERS: Final = (
    ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "no-referrer"),
    ("Cross-Origin-Resource-Policy", "same-origin"),
    ("Cache-Control", "no-store"),
)

_TYPES: Final = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
}
_LOOPBACK: Final = frozenset({"127.0.0.1", "localhost", "::1"})
_ANY: Final = frozenset({"", "0.0.0.0", "::"})


def static_file(name: str) -> tuple[bytes, str] | None:
    """Return ``(content, content type)`` of the packaged static file ``name``, or ``None``.

    Only plain names of the files shipped in ``static/`` are served (no directories, no dot
    files). Never raises.
    """
    suffix = name[name.rfind(".") :] if "." in name else ""
    if "/" in name or "\\" in name or name.startswith(".") or suffix not in _TYPES:
        return None
    try:
        content = resources.files(__package__).joinpath("static", name).read_bytes()
    except OSError:
        return None
    return content, _TYPES[suffix]


def host_allowed(environ: WSGIEnvironment, bound: str) -> bool:
    """Whether the request's ``Host`` names this server: a loopback name, or the bound host.

    A page on another site cannot read the pages' data through a DNS name it points at the
    loopback address (DNS rebinding): such a request carries that name as its Host. A server
    bound to every interface (``0.0.0.0``) accepts any Host. Never raises.
    """
    if bound in _ANY:
        return True
    host = str(environ.get("HTTP_HOST") or environ.get("SERVER_NAME") or "")
    if host.startswith("["):
        name = host[1 : host.find("]")] if "]" in host else host[1:]
    else:
        name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    name = name.lower()
    return name in _LOOPBACK or name == bound.strip("[]").lower()


def respond(
    start_response: StartResponse,
    status: int,
    body: bytes,
    content_type: str,
    headers: Iterable[tuple[str, str]] = (),
) -> list[bytes]:
    """Start a WSGI answer with the security headers and return its body. Never raises."""
    start_response(
        status_line(status),
        [
            ("Content-Type", content_type),
            ("Content-Length", str(len(body))),
            *SECURITY_HEADERS,
            *headers,
        ],
    )
    return [body]


def respond_json(
    start_response: StartResponse,
    status: int,
    value: object,
    headers: Iterable[tuple[str, str]] = (),
) -> list[bytes]:
    """Answer ``value`` as JSON (see :func:`respond`). Never raises for msgspec-encodable values."""
    return respond(start_response, status, msgspec.json.encode(value), "application/json", headers)

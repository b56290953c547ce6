"""HTTP constants shared by the WSGI and ASGI adapters and the emulator's API, defined once."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

__all__ = ["NOT_FOUND_BODY", "REASONS", "status_line"]

REASONS: Final[Mapping[int, str]] = MappingProxyType(
    {
        200: "OK",
        201: "Created",
        202: "Accepted",
        400: "Bad Request",
        401: "Unauthorized",
        403: "Forbidden",
        404: "Not Found",
        405: "Method Not Allowed",
        409: "Conflict",
        413: "Content Too Large",
        415: "Unsupported Media Type",
        429: "Too Many Requests",
        500: "Internal Server Error",
        502: "Bad Gateway",
        503: "Service Unavailable",
    }
)
"""The reason phrase (RFC 9110) of every status the package answers with."""

NOT_FOUND_BODY: Final = b'{"error":"not_found","message":"No webhook endpoint at this path."}'
"""The JSON answer of an adapter given a ``path`` to a request for another path (404)."""

# Built once: a WSGI answer needs the whole status line on every request.
_STATUS_LINES: Final = {status: f"{status} {reason}" for status, reason in REASONS.items()}


def status_line(status: int) -> str:
    """Return the WSGI status line of ``status``, e.g. ``"404 Not Found"``. Never raises."""
    return _STATUS_LINES.get(status) or f"{status} Status"

"""Case-insensitive header lookup over whatever header container a framework hands us.

Accepted: a plain ``dict`` (any casing), case-insensitive mappings (Werkzeug, Starlette, Django's
``request.headers``), a WSGI environ or Django ``request.META`` (``HTTP_X_CORTEXBUILD_SIGNATURE``),
and ASGI's raw list of ``(bytes, bytes)`` pairs. A name present several times is joined with
``", "`` exactly as frameworks do, which the format checks then refuse.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

__all__ = [
    "CONTENT_ENCODING",
    "CONTENT_LENGTH",
    "CONTENT_TYPE",
    "DELIVERY_ID",
    "EVENT",
    "SIGNATURE",
    "TIMESTAMP",
    "WEBHOOK_ID",
    "HeaderName",
    "Headers",
    "get_header",
]

Headers = Mapping[str, Any] | Iterable[tuple[Any, Any]]


class HeaderName:
    """One header name in every spelling we look it up by, computed once."""

    __slots__ = ("canonical", "lower", "wsgi")

    def __init__(self, canonical: str) -> None:
        self.canonical: Final = canonical
        self.lower: Final = canonical.lower()
        upper = canonical.upper().replace("-", "_")
        # WSGI puts Content-Type and Content-Length in the environ without the HTTP_ prefix.
        self.wsgi: Final = upper if upper in ("CONTENT_TYPE", "CONTENT_LENGTH") else "HTTP_" + upper


SIGNATURE: Final = HeaderName("X-CortexBuild-Signature")
TIMESTAMP: Final = HeaderName("X-CortexBuild-Timestamp")
EVENT: Final = HeaderName("X-CortexBuild-Event")
WEBHOOK_ID: Final = HeaderName("X-CortexBuild-Webhook-Id")
DELIVERY_ID: Final = HeaderName("X-CortexBuild-Delivery-Id")
CONTENT_TYPE: Final = HeaderName("Content-Type")
CONTENT_LENGTH: Final = HeaderName("Content-Length")
CONTENT_ENCODING: Final = HeaderName("Content-Encoding")


def _text(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("latin-1")
    if isinstance(value, list | tuple):
        # Multi-value containers (e.g. a dict of lists) are joined the way proxies join them.
        # One level only: nested (or self-containing) lists are not header values.
        parts = [p for p in (_scalar_text(v) for v in value) if p is not None]
        return ", ".join(parts) if parts else None
    return None


def _scalar_text(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("latin-1")
    return None


def get_header(headers: Headers, name: HeaderName) -> str | None:
    """Return the value of header ``name`` in ``headers``, or ``None`` when it is absent.

    Never raises for a container of an unexpected shape: anything unreadable counts as absent.
    """
    if type(headers) is dict:
        # The fast path: exact spellings first, a scan only when none of them is present.
        value = headers.get(name.lower)
        if value is None:
            value = headers.get(name.canonical)
            if value is None:
                value = headers.get(name.wsgi)
        if value is not None:
            return value if type(value) is str else _text(value)
        return _scan(headers.items(), name)
    if isinstance(headers, Mapping):
        try:
            getlist = getattr(headers, "getlist", None)
            if getlist is not None:
                # Multi-value headers (Starlette): get() would return only the first value.
                values = getlist(name.lower)
                if values:
                    return _text(list(values))
            value = headers.get(name.lower)
            if value is None:
                value = headers.get(name.wsgi)
            if value is not None:
                return _text(value)
            return _scan(headers.items(), name)
        except Exception:
            return None
    return _scan(headers, name)


def _scan(pairs: Iterable[Any], name: HeaderName) -> str | None:
    found: list[str] = []
    try:
        for pair in pairs:
            if not isinstance(pair, tuple | list) or len(pair) != 2:
                continue
            key = _text(pair[0])
            if key is None:
                continue
            folded = key.lower()
            if folded == name.lower or folded == name.wsgi.lower():
                text = _text(pair[1])
                if text is not None:
                    found.append(text)
    except Exception:
        return None
    if not found:
        return None
    return found[0] if len(found) == 1 else ", ".join(found)

"""Case-insensitive header lookup over whatever header container a framework hands us.

Accepted: a plain ``dict`` (any casing), case-insensitive mappings (Werkzeug, Starlette, Django's
``request.headers``), a WSGI environ or Django ``request.META`` (``HTTP_X_CORTEXBUILD_SIGNATURE``:
the only containers read by CGI names), and ASGI's raw list of ``(bytes, bytes)`` pairs. A name
present several times is joined with ``", "`` exactly as frameworks do, which the format checks
then refuse.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

__all__ = [
    "ID_CHARS",
    "HeaderView",
    "Headers",
    "header_values",
    "header_view",
    "plain_headers",
    "signature_headers",
    "webhook_headers",
]

Headers = Mapping[str, Any] | Iterable[tuple[Any, Any]]

ID_CHARS: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-")
"""The characters of a plausible delivery or webhook id header (1-128 of them)."""


class HeaderView(dict[str, Any]):
    """Headers already keyed by lower-cased name with duplicates joined (an adapter built it).

    :func:`header_view` returns such a dict as it is, so an adapter that reads the request's
    headers anyway (ASGI) saves the receiver a second pass.
    """

    __slots__ = ()


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


def header_view(headers: Headers) -> dict[str, Any]:
    """Return the request's headers as one dict keyed by lower-cased name, built in a single pass.

    A name present several times (in any casing) has its values joined with ``", "``. Values may
    still be bytes or lists: the readers below convert them. Never raises: a container that cannot
    be read yields what could be read, or nothing.
    """
    if type(headers) is HeaderView:
        return headers
    if type(headers) is dict:
        # The common case in one comprehension; a key that is not a str (str.lower refuses it)
        # or two casings of one name (the view comes out shorter) take the careful pass.
        lower = str.lower
        try:
            view = {lower(k): v for k, v in headers.items()}
        except (AttributeError, TypeError):
            return _collect(headers.items())
        if len(view) == len(headers):
            return view
        return _collect(headers.items())
    if isinstance(headers, Mapping):
        try:
            return _collect(headers.items())
        except Exception:
            return {}
    return _collect(headers)


def _str(value: Any) -> str | None:
    return value if value is None or type(value) is str else _text(value)


def _is_environ(headers: Headers) -> bool:
    # A WSGI environ, or Django's request.META (which has no wsgi.version under ASGI): the only
    # containers whose header names are CGI names.
    return type(headers) is dict and ("wsgi.version" in headers or "REQUEST_METHOD" in headers)


def webhook_headers(
    headers: Headers,
) -> tuple[str | None, str | None, str | None, str | None, str | None, str | None]:
    """Read every header the receiver needs in one pass over ``headers``.

    Returns ``(content_type, content_encoding, signature, timestamp, delivery_id, webhook_id)``,
    each ``None`` when absent. Only an environ is read by CGI names (``HTTP_X_CORTEXBUILD_...``);
    in any other container such a name is just an unknown header, so a header a proxy would
    filter under its HTTP name cannot slip in under its CGI spelling. Never raises.
    """
    if type(headers) is dict:
        # A dict whose every key is one of ours in its canonical casing, each with a str value
        # (what ch.sign returns and CortexBuild sends) cannot hold a name twice: no scan needed.
        # (An environ never passes this test: it holds REQUEST_METHOD and the server's keys.)
        get = headers.get
        content_type = get("Content-Type")
        encoding = get("Content-Encoding")
        signature = get("X-CortexBuild-Signature")
        timestamp = get("X-CortexBuild-Timestamp")
        delivery_id = get("X-CortexBuild-Delivery-Id")
        webhook_id = get("X-CortexBuild-Webhook-Id")
        if len(headers) == (
            (type(content_type) is str)
            + (type(encoding) is str)
            + (type(signature) is str)
            + (type(timestamp) is str)
            + (type(delivery_id) is str)
            + (type(webhook_id) is str)
            + (type(get("X-CortexBuild-Event")) is str)
        ):
            return content_type, encoding, signature, timestamp, delivery_id, webhook_id
    if _is_environ(headers):
        # CGI names are normalised (upper case, the server joins duplicates): each header has
        # exactly one spelling and no scan is needed.
        environ = headers.get  # type: ignore[union-attr]
        return (
            _str(environ("CONTENT_TYPE")),
            _str(environ("HTTP_CONTENT_ENCODING")),
            _str(environ("HTTP_X_CORTEXBUILD_SIGNATURE")),
            _str(environ("HTTP_X_CORTEXBUILD_TIMESTAMP")),
            _str(environ("HTTP_X_CORTEXBUILD_DELIVERY_ID")),
            _str(environ("HTTP_X_CORTEXBUILD_WEBHOOK_ID")),
        )
    view = header_view(headers)
    get = view.get
    return (
        _str(get("content-type")),
        _str(get("content-encoding")),
        _str(get("x-cortexbuild-signature")),
        _str(get("x-cortexbuild-timestamp")),
        _str(get("x-cortexbuild-delivery-id")),
        _str(get("x-cortexbuild-webhook-id")),
    )


# The names plain_headers reads, in its order, in a WSGI environ and in a HeaderView.
_ENVIRON_NAMES: Final = (
    "CONTENT_TYPE",
    "HTTP_X_CORTEXBUILD_SIGNATURE",
    "HTTP_X_CORTEXBUILD_TIMESTAMP",
    "HTTP_X_CORTEXBUILD_DELIVERY_ID",
    "HTTP_X_CORTEXBUILD_WEBHOOK_ID",
    "HTTP_CONTENT_ENCODING",
)
_VIEW_NAMES: Final = (
    "content-type",
    "x-cortexbuild-signature",
    "x-cortexbuild-timestamp",
    "x-cortexbuild-delivery-id",
    "x-cortexbuild-webhook-id",
    "content-encoding",
)


def plain_headers(headers: Headers) -> tuple[str, str, str, str | None] | None:
    """Read a plainly sent delivery's headers: ``(signature, timestamp, delivery_id, webhook_id)``.

    Plain: ``Content-Type`` exactly ``application/json``, no ``Content-Encoding``, and the
    signature, timestamp and delivery id each present as a ``str`` (the webhook id absent or a
    ``str``), in a container where a name has one spelling: a WSGI environ or a
    :class:`HeaderView`. (The receiver's straight path reads a dict in CortexBuild's own casing
    itself.) ``None`` for anything else, which :func:`webhook_headers` then reads with every
    rule. Never raises.
    """
    kind = type(headers)
    if kind is dict:
        if not ("wsgi.version" in headers or "REQUEST_METHOD" in headers):
            return None
        names = _ENVIRON_NAMES  # CGI names are normalised: each header has one spelling
    elif kind is HeaderView:
        names = _VIEW_NAMES
    else:
        return None
    content_type, signature, timestamp, delivery_id, webhook_id, encoding = map(
        headers.get,  # type: ignore[union-attr]
        names,
    )
    if (
        content_type == "application/json"
        and encoding is None
        and type(signature) is str
        and type(timestamp) is str
        and type(delivery_id) is str
        and (webhook_id is None or type(webhook_id) is str)
    ):
        return signature, timestamp, delivery_id, webhook_id
    return None


def header_values(headers: Headers, names: tuple[str, ...]) -> tuple[str | None, ...]:
    """Read the headers ``names`` (lower-case HTTP names) in one pass; ``None`` when absent.

    Only an environ (a WSGI environ, Django's ``request.META``) is read by CGI names. Off the hot
    path (the journal's receipts of refused requests). Never raises.
    """
    if _is_environ(headers):
        get = headers.get  # type: ignore[union-attr]
        return tuple(_str(get("HTTP_" + name.upper().replace("-", "_"))) for name in names)
    view = header_view(headers)
    return tuple(_str(view.get(name)) for name in names)


def signature_headers(headers: Headers) -> tuple[str | None, str | None]:
    """Read ``(signature, timestamp)`` from ``headers`` in one pass; ``None`` when absent.

    Names are read as :func:`webhook_headers` reads them. Never raises.
    """
    if _is_environ(headers):
        get = headers.get  # type: ignore[union-attr]
        return _str(get("HTTP_X_CORTEXBUILD_SIGNATURE")), _str(get("HTTP_X_CORTEXBUILD_TIMESTAMP"))
    view = header_view(headers)
    return _str(view.get("x-cortexbuild-signature")), _str(view.get("x-cortexbuild-timestamp"))


def _collect(pairs: Iterable[Any]) -> dict[str, Any]:
    view: dict[str, Any] = {}
    try:
        for pair in pairs:
            if not isinstance(pair, tuple | list) or len(pair) != 2:
                continue
            key = _scalar_text(pair[0])
            value = _text(pair[1])
            if key is None or value is None:
                continue
            key = key.lower()
            previous = view.get(key)
            view[key] = value if previous is None else f"{previous}, {value}"
    except Exception:
        return view
    return view

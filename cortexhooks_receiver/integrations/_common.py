"""Helpers shared by every framework adapter: the body cap, and the adapter-level refusals.

Adapters stay thin: they read the raw body (never more than ``max_body_bytes + 1`` bytes) and the
headers, call :meth:`Receiver.handle` / :meth:`Receiver.handle_async` and write the
:class:`~cortexhooks_receiver.receiver.Outcome` back. The only decisions taken here are the ones the
core cannot take because they happen *before* the body exists:

===========================================  ======  ==========================
situation                                     status  code
===========================================  ======  ==========================
``Content-Length`` is not a decimal integer   400     ``invalid_content_length``
``Content-Length`` above the cap (no read)    413     ``payload_too_large``
chunked body longer than the cap (stops at    413     ``payload_too_large``
cap + 1 bytes read)
the framework already consumed the body       500     ``body_already_consumed``
===========================================  ======  ==========================

Everything else (405, 415, 401, 400, dedup, 503, 500, 200) is the core's answer.

Adapters import their framework lazily, on first use, through :func:`require`: importing an
adapter module never imports a framework.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from types import ModuleType
from typing import Any, Final

from cortexhooks_receiver.errors import (
    BodyAlreadyConsumed,
    InvalidContentLength,
    PayloadTooLarge,
    WebhookError,
)
from cortexhooks_receiver.receiver import DEFAULT_PATH, Receiver
from cortexhooks_receiver.stores import MemoryStore

__all__ = [
    "CHUNK_SIZE",
    "DEFAULT_PATH",
    "note_wsgi_server",
    "parse_content_length",
    "precheck",
    "read_capped",
    "require",
]

CHUNK_SIZE: Final = 65_536


def require(module: str, extra: str) -> ModuleType:
    """Import and return ``module``, the web framework an adapter needs (imported on first use).

    Raises:
        ImportError: ``module`` (or one of its dependencies) cannot be imported; the message
            names the pip extra that installs it, ``pip install 'cortexhooks-receiver[extra]'``.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(
            f"cortexhooks_receiver.integrations.{extra} needs {module.partition('.')[0]}, "
            f"which could not be imported ({exc}). Install it with: "
            f"pip install 'cortexhooks-receiver[{extra}]'",
            name=exc.name,
        ) from exc


def note_wsgi_server(receiver: Receiver, environ: Mapping[str, Any]) -> None:
    """Warn once when a WSGI server with several processes serves a memory-store receiver.

    WSGI servers say so in ``environ["wsgi.multiprocess"]`` (gunicorn with ``--workers`` > 1,
    uWSGI with several processes). Never raises.
    """
    if environ.get("wsgi.multiprocess") and type(receiver.store) is MemoryStore:
        receiver.store.warn_multiprocess("the WSGI server runs several worker processes")


def parse_content_length(value: str | None) -> int | None:
    """Return the ``Content-Length`` header as an int, or ``None`` when absent or empty.

    Raises:
        InvalidContentLength: the value is not plain ASCII decimal digits.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if not (text.isascii() and text.isdigit()) or len(text) > 19:
        raise InvalidContentLength
    return int(text)


def precheck(
    method: str, content_length: str | None, receiver: Receiver
) -> tuple[WebhookError | None, int | None]:
    """Decide what an adapter may do before reading the body (the cap is the receiver's).

    ``content_length`` is the raw header value, or ``None`` when absent. Returns
    ``(refusal, length)``: ``refusal`` is the error to answer without reading anything (an
    invalid or too large length; pass it to :meth:`Receiver.refuse` or ``refuse_async``), else
    ``None``; ``length`` is the declared length (``None`` for a chunked or length-less body).
    Non-POST requests are never refused here: the adapter passes an empty body and the core
    answers 405.

    Never raises.
    """
    if method != "POST":
        return None, 0
    try:
        length = parse_content_length(content_length)
    except InvalidContentLength as exc:
        return exc, None
    if length is not None and length > receiver.max_body_bytes:
        return PayloadTooLarge(), length
    return None, length


def read_capped(read: Callable[[int], bytes], cap: int, length: int | None) -> bytes:
    """Read a body with ``read(n)``: ``length`` bytes when declared, else until EOF or cap + 1.

    A body longer than ``cap`` comes back as exactly ``cap + 1`` bytes, which the receiver refuses
    with 413; nothing past that is read.

    Raises:
        BodyAlreadyConsumed: fewer than the declared ``length`` bytes were left to read.
        OSError: the client disconnected (propagated from ``read``).
    """
    want = cap + 1 if length is None else min(length, cap + 1)
    if want == 0:
        return b""
    first = read(want)
    if len(first) == want:
        return first
    parts = [first]
    got = len(first)
    while got < want:
        chunk = read(min(CHUNK_SIZE, want - got))
        if not chunk:
            break
        parts.append(chunk)
        got += len(chunk)
    if length is not None and got < length:
        raise BodyAlreadyConsumed
    return b"".join(parts)

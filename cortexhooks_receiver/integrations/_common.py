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
the body ended part way through its declared  400     ``incomplete_body``
length (the client stopped sending)
the framework already consumed the body       500     ``body_already_consumed``
(nothing of a declared length is left)
===========================================  ======  ==========================

Everything else (405, 415, 401, 400, dedup, 503, 500, 200) is the core's answer.

Every adapter passes the peer address it knows to the receiver as ``client=`` (WSGI's
``REMOTE_ADDR``, the ASGI scope's ``client``, a framework's own ``remote`` attribute): the
address of the TCP peer, never a header such as ``X-Forwarded-For``, which any sender can write.

Adapters import their framework lazily, on first use, through :func:`require`: importing an
adapter module never imports a framework.
"""

from __future__ import annotations

import importlib
from collections.abc import (
    AsyncIterable,
    Awaitable,
    Callable,
    Generator,
    Mapping,
    MutableMapping,
)
from types import ModuleType
from typing import Any, Final

from cortexhooks_receiver._headers import Headers, HeaderView
from cortexhooks_receiver.errors import (
    BodyAlreadyConsumed,
    IncompleteBody,
    InvalidContentLength,
    PayloadTooLarge,
    WebhookError,
)
from cortexhooks_receiver.receiver import DEFAULT_PATH, Outcome, Receiver
from cortexhooks_receiver.stores import MemoryStore

__all__ = [
    "CHUNK_SIZE",
    "DEFAULT_PATH",
    "asgi_client",
    "closes_connection",
    "lowercase_headers",
    "note_wsgi_server",
    "parse_content_length",
    "precheck",
    "read_capped",
    "read_capped_async",
    "read_chunks_capped",
    "require",
    "serve",
    "serve_async",
    "short_body",
    "wsgi_client",
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


def closes_connection(outcome: Outcome) -> bool:
    """Whether an ASGI answer should say ``Connection: close``: a 413, sent with the rest of the
    body unread (refused by ``Content-Length``, or reading stopped at the cap).

    The server must then close the connection; some (hypercorn) do so without saying it, and a
    client that reuses the connection loses its next request. WSGI apps may not send the
    hop-by-hop ``Connection`` header: WSGI servers decide alone. Never raises.
    """
    return outcome.status == 413


def lowercase_headers(headers: Mapping[Any, Any]) -> HeaderView:
    """Return ``headers`` keyed by lower-cased name, for a framework's own header mapping.

    A name present several times (a multi-dict's repeated items, a list of values, or two
    spellings of one name) keeps every value, joined with ``", "``, which the signature format
    check then refuses. Names that are not ``str`` and values that are neither ``str`` nor a list
    of ``str`` are left out. Never raises.
    """
    try:
        # The common case in one comprehension: every name once, every value a str.
        view = HeaderView({name.lower(): value for name, value in headers.items()})
    except (AttributeError, TypeError):
        pass
    else:
        if len(view) == len(headers):
            for value in view.values():
                if type(value) is not str:
                    break
            else:
                return view
    view = HeaderView()
    for name, value in headers.items():
        if not isinstance(name, str):
            continue
        for one in value if isinstance(value, list) else (value,):
            if isinstance(one, str):
                key = name.lower()
                previous = view.get(key)
                view[key] = one if previous is None else previous + ", " + one
    return view


def wsgi_client(environ: Mapping[str, Any]) -> str | None:
    """Return the peer address of a WSGI request (``REMOTE_ADDR``), or ``None``. Never raises."""
    address = environ.get("REMOTE_ADDR")
    return address if isinstance(address, str) and address else None


def asgi_client(scope: MutableMapping[str, Any]) -> str | None:
    """Return the peer host of an ASGI scope (``scope["client"][0]``), or ``None``. Never raises.

    The ASGI spec makes ``client`` any two-item iterable; one that is not a list or a tuple (an
    iterator, which reading consumes) is put back in the scope as a tuple, for the app to read.
    """
    client = scope.get("client")
    if not client:
        return None
    if not isinstance(client, list | tuple):
        try:
            client = scope["client"] = tuple(client)
        except TypeError:
            return None
    host = client[0] if client else None
    return host if isinstance(host, str) and host else None


def _capped_reads(cap: int, length: int | None) -> Generator[int, bytes, bytes]:
    # The body cap as steps, written once for the sync and the async readers: it yields how many
    # bytes to read next, is sent what the read returned, and returns the body.
    want = cap + 1 if length is None else min(length, cap + 1)
    if want == 0:
        return b""
    first = yield want
    if len(first) == want:
        return first
    parts = [first]
    got = len(first)
    while got < want:
        chunk = yield min(CHUNK_SIZE, want - got)
        if not chunk:
            break
        parts.append(chunk)
        got += len(chunk)
    if length is not None and got < length:
        raise short_body(got)
    return b"".join(parts)


def short_body(got: int) -> WebhookError:
    """The refusal for a body that ended before its declared length, after ``got`` bytes.

    Some of it arrived: the client stopped sending (:class:`IncompleteBody`, 400). None of it is
    left: something read it before the view (:class:`BodyAlreadyConsumed`, 500). Never raises.
    """
    return IncompleteBody() if got else BodyAlreadyConsumed()


def serve(
    receiver: Receiver,
    method: str,
    headers: Headers,
    content_length: str | None,
    read: Callable[[int | None], bytes],
    client: str | None,
) -> Outcome:
    """Answer one request the way every sync adapter does: precheck, read, run the receiver.

    ``content_length`` is the raw header value; ``read(length)`` returns the raw body (called
    only for a POST whose declared length is not 0; ``length`` is ``None`` for a chunked body)
    and may raise a :class:`WebhookError` (``BodyAlreadyConsumed``...). Refusals go through
    :meth:`Receiver.refuse`, everything else through :meth:`Receiver.handle`, each with
    ``client``. Never raises for any request.
    """
    refused, length = precheck(method, content_length, receiver)
    if refused is not None:
        return receiver.refuse(refused, client=client)
    body = b""
    if method == "POST" and length != 0:
        try:
            body = read(length)
        except WebhookError as exc:
            return receiver.refuse(exc, client=client)
    return receiver.handle(body, headers, method, client=client)


async def serve_async(
    receiver: Receiver,
    method: str,
    headers: Headers,
    content_length: str | None,
    read: Callable[[int | None], Awaitable[bytes]],
    client: str | None,
) -> Outcome:
    """The async twin of :func:`serve` (``await read(length)``, ``handle_async``). Never raises."""
    refused, length = precheck(method, content_length, receiver)
    if refused is not None:
        return await receiver.refuse_async(refused, client=client)
    body = b""
    if method == "POST" and length != 0:
        try:
            body = await read(length)
        except WebhookError as exc:
            return await receiver.refuse_async(exc, client=client)
    return await receiver.handle_async(body, headers, method, client=client)


def read_capped(read: Callable[[int], bytes], cap: int, length: int | None) -> bytes:
    """Read a body with ``read(n)``: ``length`` bytes when declared, else until EOF or cap + 1.

    A body longer than ``cap`` comes back as exactly ``cap + 1`` bytes, which the receiver refuses
    with 413; nothing past that is read.

    Raises:
        IncompleteBody: the body ended after some but fewer than the declared ``length`` bytes.
        BodyAlreadyConsumed: nothing of the declared ``length`` was left to read.
        OSError: the client disconnected (propagated from ``read``).
    """
    steps = _capped_reads(cap, length)
    try:
        size = next(steps)
        while True:
            size = steps.send(read(size))
    except StopIteration as done:
        body: bytes = done.value
        return body


async def read_capped_async(
    read: Callable[[int], Awaitable[bytes]], cap: int, length: int | None
) -> bytes:
    """The async twin of :func:`read_capped`: ``await read(n)`` returns at most ``n`` bytes.

    Raises:
        IncompleteBody: the body ended after some but fewer than the declared ``length`` bytes.
        BodyAlreadyConsumed: nothing of the declared ``length`` was left to read.
        Whatever ``read`` raises when the client disconnects.
    """
    steps = _capped_reads(cap, length)
    try:
        size = next(steps)
        while True:
            size = steps.send(await read(size))
    except StopIteration as done:
        body: bytes = done.value
        return body


async def read_chunks_capped(chunks: AsyncIterable[bytes], cap: int, length: int | None) -> bytes:
    """Read a body that a framework hands out as chunks of its choosing: stop after cap + 1 bytes.

    A body longer than ``cap`` comes back as exactly ``cap + 1`` bytes (the receiver refuses it
    with 413); no chunk past the one that crossed the cap is asked for.

    Raises:
        IncompleteBody: the chunks ended part way through the declared ``length``.
        BodyAlreadyConsumed: there were no chunks at all for a declared ``length``.
        Whatever the iteration raises when the client disconnects.
    """
    parts: list[bytes] = []
    got = 0
    async for chunk in chunks:
        parts.append(chunk)
        got += len(chunk)
        if got > cap:
            break
    body = b"".join(parts) if len(parts) != 1 else parts[0]
    if length is not None and len(body) < min(length, cap + 1):
        raise short_body(len(body))
    return body[: cap + 1]

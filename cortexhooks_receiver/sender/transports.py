"""How the sender's POST reaches a receiver: real HTTP, or an in-process WSGI/ASGI app for tests.

Every transport posts once, never follows a redirect, reads at most :data:`MAX_RESPONSE_BYTES` of
the answer, and reports failures as :class:`NoResponseError` (``kind`` ``"timeout"`` or
``"connection"``). httpx is imported lazily, when a transport is created.

:class:`HTTPTransport` connects to the address the :class:`~.urlpolicy.URLPolicy` vetted (the
``Host`` header and TLS server name stay the URL's host), so a DNS answer that changes between the
check and the connection cannot redirect the request to a refused address.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, Final, Protocol

import msgspec

from cortexhooks_receiver._concurrency import run_sync
from cortexhooks_receiver._types import ASGIApp

from .errors import NoResponseError
from .urlpolicy import Target, URLPolicy

if TYPE_CHECKING:
    from wsgiref.types import WSGIApplication

    import httpx

__all__ = [
    "MAX_RESPONSE_BYTES",
    "ASGIAppTransport",
    "HTTPTransport",
    "Response",
    "Transport",
    "WSGIAppTransport",
    "default_policy",
]

MAX_RESPONSE_BYTES: Final = 65_536
"""The most of a receiver's answer that is read and kept in the delivery log."""


class Response(msgspec.Struct, frozen=True):
    """A receiver's answer: status, headers and (at most 64 KiB of) body."""

    status: int
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""

    def header(self, name: str) -> str | None:
        """Return the first header called ``name`` (case-insensitive), or ``None``."""
        lowered = name.lower()
        for key, value in self.headers:
            if key.lower() == lowered:
                return value
        return None


class Transport(Protocol):
    """Posts one request and returns the answer; raises :class:`NoResponseError` without one.

    A transport may set ``in_process = True`` when it calls an app in this process and dials
    nothing: the default URL policy then allows loopback URLs (they reach no local service).
    """

    def post(
        self, target: Target, body: bytes, headers: Mapping[str, str], timeout: float
    ) -> Response:
        """POST ``body`` with ``headers`` to ``target`` within ``timeout`` seconds."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


def _collect(response: httpx.Response) -> Response:
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size >= MAX_RESPONSE_BYTES:
            break
    return Response(
        status=response.status_code,
        headers=tuple((k, v) for k, v in response.headers.items()),
        body=b"".join(chunks)[:MAX_RESPONSE_BYTES],
    )


def _error(exc: Exception) -> NoResponseError:
    import httpx

    if isinstance(exc, httpx.TimeoutException):
        return NoResponseError("timeout", f"no answer in time ({type(exc).__name__})")
    return NoResponseError("connection", f"{type(exc).__name__}: {exc}")


class HTTPTransport:
    """Real HTTP(S) with httpx, connecting to the policy-vetted address.

    Args:
        verify: TLS verification (``True``, a CA bundle path or an ``ssl.SSLContext``).
        client: an ``httpx.Client`` to use instead of a new one (its redirects stay off).
    """

    in_process: Final = False

    def __init__(self, *, verify: Any = True, client: httpx.Client | None = None) -> None:
        import httpx

        self._client = client or httpx.Client(verify=verify, trust_env=False)
        self._own = client is None

    def post(
        self, target: Target, body: bytes, headers: Mapping[str, str], timeout: float
    ) -> Response:
        """POST to the first vetted address that accepts a connection.

        Raises:
            NoResponseError: timeout, or no address accepted the connection.
        """
        import httpx

        url = httpx.URL(target.url)
        literal = _is_ip(target.host)
        default_port = 443 if target.scheme == "https" else 80
        host_header = _bracket(target.host) + (
            "" if target.port == default_port else f":{target.port}"
        )
        last: NoResponseError | None = None
        for address in target.addresses or (target.host,):
            request_headers = dict(headers)
            request_headers["Host"] = host_header
            extensions: dict[str, Any] = {}
            if target.scheme == "https" and not literal:
                extensions["sni_hostname"] = target.host
            pinned = url.copy_with(host=address.split("%", 1)[0])
            try:
                with self._client.stream(
                    "POST",
                    pinned,
                    content=body,
                    headers=request_headers,
                    timeout=timeout,
                    follow_redirects=False,
                    extensions=extensions,
                ) as response:
                    return _collect(response)
            except httpx.TimeoutException as exc:
                raise _error(exc) from None
            except httpx.HTTPError as exc:
                last = _error(exc)
        assert last is not None
        raise last

    def close(self) -> None:
        """Close the httpx client if this transport created it."""
        if self._own:
            self._client.close()


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _bracket(host: str) -> str:
    return f"[{host}]" if ":" in host else host


class WSGIAppTransport:
    """Posts to a WSGI app in this process (httpx's ``WSGITransport``); for tests and demos.

    The URL's host only fills the WSGI environ; nothing touches the network.
    """

    in_process: Final = True  # dials nothing: a loopback URL reaches no local service

    def __init__(self, app: WSGIApplication) -> None:
        import httpx

        self._client = httpx.Client(transport=httpx.WSGITransport(app=app))

    def post(
        self, target: Target, body: bytes, headers: Mapping[str, str], timeout: float
    ) -> Response:
        """Call the app with the request and return its answer.

        Raises:
            NoResponseError: the app raised (a crashed receiver is a connection failure).
        """
        import httpx

        try:
            with self._client.stream(
                "POST",
                target.url,
                content=body,
                headers=dict(headers),
                follow_redirects=False,
            ) as response:
                return _collect(response)
        except httpx.HTTPError as exc:
            raise _error(exc) from None
        except Exception as exc:  # the app itself blew up
            raise NoResponseError("connection", f"the app raised {type(exc).__name__}") from None

    def close(self) -> None:
        """Close the client."""
        self._client.close()


class ASGIAppTransport:
    """Posts to an ASGI app in this process (httpx's ``ASGITransport``); for tests and demos.

    Each post runs the app on a fresh event loop (in a helper thread when the calling thread
    already runs one), so the synchronous sender can drive Starlette/FastAPI apps directly.
    """

    in_process: Final = True  # dials nothing: a loopback URL reaches no local service

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    def post(
        self, target: Target, body: bytes, headers: Mapping[str, str], timeout: float
    ) -> Response:
        """Call the app with the request and return its answer.

        Raises:
            NoResponseError: the app raised or did not answer within ``timeout``.
        """

        async def call() -> Response:
            import httpx

            transport = httpx.ASGITransport(app=self._app)
            async with httpx.AsyncClient(transport=transport) as client:
                response = await client.post(
                    target.url, content=body, headers=dict(headers), follow_redirects=False
                )
                return Response(
                    status=response.status_code,
                    headers=tuple((k, v) for k, v in response.headers.items()),
                    body=response.content[:MAX_RESPONSE_BYTES],
                )

        async def bounded() -> Response:
            return await asyncio.wait_for(call(), timeout)

        try:
            return _run(bounded)
        except TimeoutError:
            raise NoResponseError("timeout", "the app did not answer in time") from None
        except NoResponseError:
            raise
        except Exception as exc:
            raise NoResponseError("connection", f"the app raised {type(exc).__name__}") from None

    def close(self) -> None:
        """Nothing to release."""


def _run(factory: Callable[[], Awaitable[Response]]) -> Response:
    return run_sync(factory())


def default_policy(transport: object | None) -> URLPolicy:
    """The URL policy of a sender (or emulator) given none: loopback only for in-process apps.

    A real HTTP transport (``None`` means one) refuses loopback unless the caller's policy says
    ``allow_loopback=True``; an in-process transport reaches nothing on this machine. Never
    raises.
    """
    return URLPolicy(allow_loopback=bool(getattr(transport, "in_process", False)))

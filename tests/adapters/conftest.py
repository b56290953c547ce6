"""Adapter test kit: signed requests, one client per adapter, the in-process Django.

Every adapter is driven through its own framework's test client (Flask ``test_client()``,
Starlette/FastAPI ``TestClient``, Django ``Client(enforce_csrf_checks=True)`` and Django's real
ASGI handler, Werkzeug's client for plain WSGI and the WSGI middleware, httpx ``ASGITransport``
for plain ASGI and the ASGI middleware, aiohttp's ``TestClient`` (a real aiohttp server on
loopback), Litestar's ``TestClient``, Quart's ``test_client()``, Falcon's ``TestClient`` for its
WSGI and ASGI apps, the Functions Framework's Flask app for Google Cloud Functions) and the
Lambda handler through the events AWS documents for each source (``_lambda_events.py``), behind
one small interface: a :class:`Client`, ``client(Req) -> Resp``, which also says what peer
address the adapter must pass to the receiver.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import io
import json
import os
import shutil
import sys
import tempfile
import threading
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

import cortexhooks_receiver as ch
from cortexhooks_receiver.receiver import DEFAULT_PATH, Receiver
from cortexhooks_receiver.stores import ClaimState, StoreError

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

SECRET = "whsec_K2Fj8sL3mN9pQ4rT7vX1yZ5bC6dE8fG"
PEER = "203.0.113.7"
"""The peer address the test clients report, where a test client lets the test choose it."""
NOW = 1_700_000_000.0
NOW_MS = int(NOW * 1000)


def make_body(
    event: str = "task.completed", *, timestamp: int = NOW_MS, task_id: str = "task-1"
) -> bytes:
    """A compact webhook body as CortexBuild sends it."""
    payload = {
        "event": event,
        "timestamp": timestamp,
        "data": {"id": task_id, "title": "Pour slab", "status": "completed"},
        "companyId": "company-1",
        "userId": "user-1",
    }
    return json.dumps(payload, separators=(",", ":")).encode()


def signed_headers(
    body: bytes,
    *,
    secret: str = SECRET,
    timestamp: int = NOW_MS,
    delivery_id: str | None = "dlv_1",
    event: str = "task.completed",
) -> dict[str, str]:
    headers = ch.sign(body, secret, timestamp=timestamp, event=event, delivery_id=delivery_id)
    if delivery_id is None:
        headers = {k: v for k, v in headers.items() if k.lower() != "x-cortexbuild-delivery-id"}
    headers["Content-Type"] = "application/json"
    return headers


@dataclass
class Req:
    """One request: ``chunked`` sends the body without Content-Length; ``repeated`` are header
    lines sent in addition to ``headers`` (a name sent twice)."""

    method: str = "POST"
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    chunked: bool = False
    content_length: str | None = None  # overrides the header's value when set
    repeated: tuple[tuple[str, str], ...] = ()
    path: str | None = None  # the request target, when not the adapter's own path

    def header_lines(self) -> list[tuple[str, str]]:
        return [*self.headers.items(), *self.repeated]


@dataclass
class Resp:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def signed_req(body: bytes | None = None, **kwargs: Any) -> Req:
    body = make_body() if body is None else body
    return Req(headers=signed_headers(body, **kwargs), body=body)


def _lower(items: Any) -> dict[str, str]:
    return {str(k).lower(): str(v) for k, v in items}


@dataclass
class Client:
    """One adapter behind its test client: ``client(req)`` sends ``req`` to the webhook path.

    ``peer``: the address the adapter must pass to the receiver as ``client=``.
    ``repeats_headers``: the test client (and, for Lambda, the event source) carries a header
    sent twice to the adapter. ``parses_http``: a real HTTP server parses the request first, so
    a malformed ``Content-Length`` is refused by the server before the adapter runs.
    """

    send: Callable[[Req], Resp]
    peer: str | None = PEER
    repeats_headers: bool = True
    parses_http: bool = False

    def __call__(self, req: Req) -> Resp:
        return self.send(req)


SESSION_CLEANUP = contextlib.ExitStack()
"""What builders called without a test's own ``cleanup`` start: stopped at the end of the run."""

Builder = Callable[..., Client]
"""``builder(receiver, cleanup=SESSION_CLEANUP) -> Client``: an adapter serving ``receiver``;
what it starts (a server, a loop) is stopped by ``cleanup``."""


# -- clients ----------------------------------------------------------------------------------


def _werkzeug_sender(client: Any, path: str = DEFAULT_PATH) -> Callable[[Req], Resp]:
    def send(req: Req) -> Resp:
        overrides: dict[str, Any] = {}
        if req.chunked:
            overrides.update(
                {
                    "CONTENT_LENGTH": "",
                    "wsgi.input_terminated": True,
                    "HTTP_TRANSFER_ENCODING": "chunked",
                }
            )
        if req.content_length is not None:
            overrides["CONTENT_LENGTH"] = req.content_length
        overrides["REMOTE_ADDR"] = PEER
        r = client.open(
            req.path or path,
            method=req.method,
            data=req.body,
            headers=req.header_lines(),
            environ_overrides=overrides,
        )
        return Resp(r.status_code, _lower(r.headers.items()), r.get_data())

    return send


def _httpx_request_args(req: Req, *, async_body: bool) -> dict[str, Any]:
    headers = req.header_lines()
    if req.content_length is not None:
        headers.append(("Content-Length", req.content_length))
    content: Any = req.body
    if req.chunked:
        half = len(req.body) // 2
        parts = [req.body[:half], req.body[half:]]
        if async_body:

            async def agen() -> AsyncIterator[bytes]:
                for part in parts:
                    yield part

            content = agen()
        else:

            def gen() -> Iterator[bytes]:
                yield from parts

            content = gen()
    return {"method": req.method, "content": content, "headers": headers}


def _testclient_sender(app: Any, path: str = DEFAULT_PATH) -> Callable[[Req], Resp]:
    from starlette.testclient import TestClient

    client = TestClient(app, client=(PEER, 50000))

    def send(req: Req) -> Resp:
        r = client.request(url=req.path or path, **_httpx_request_args(req, async_body=False))
        return Resp(r.status_code, _lower(r.headers.items()), r.content)

    return send


def _asgi_sender(app: Any, path: str = DEFAULT_PATH) -> Callable[[Req], Resp]:
    import httpx

    async def go(req: Req) -> Resp:
        transport = httpx.ASGITransport(app=app, client=(PEER, 123))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            r = await c.request(url=req.path or path, **_httpx_request_args(req, async_body=True))
            return Resp(r.status_code, _lower(r.headers.items()), r.content)

    def send(req: Req) -> Resp:
        return asyncio.run(go(req))

    return send


def build_flask(receiver: Receiver, cleanup: contextlib.ExitStack = SESSION_CLEANUP) -> Client:
    from flask import Flask

    from cortexhooks_receiver.integrations.flask import CortexHooks

    app = Flask("adapter_tests")
    CortexHooks(app, receiver)
    return Client(_werkzeug_sender(app.test_client()))


def build_fastapi(receiver: Receiver, cleanup: contextlib.ExitStack = SESSION_CLEANUP) -> Client:
    from fastapi import FastAPI

    from cortexhooks_receiver.integrations.fastapi import webhook_router

    app = FastAPI()
    app.include_router(webhook_router(receiver))
    return Client(_testclient_sender(app))


def build_starlette_route(
    receiver: Receiver, cleanup: contextlib.ExitStack = SESSION_CLEANUP
) -> Client:
    from starlette.applications import Starlette

    from cortexhooks_receiver.integrations.starlette import webhook_route

    return Client(_testclient_sender(Starlette(routes=[webhook_route(receiver)])))


def build_starlette_middleware(
    receiver: Receiver, cleanup: contextlib.ExitStack = SESSION_CLEANUP
) -> Client:
    from starlette.applications import Starlette
    from starlette.middleware import Middleware

    from cortexhooks_receiver.integrations.starlette import CortexHooksMiddleware

    app = Starlette(middleware=[Middleware(CortexHooksMiddleware, receiver=receiver)])
    return Client(_testclient_sender(app))


def build_wsgi(receiver: Receiver, cleanup: contextlib.ExitStack = SESSION_CLEANUP) -> Client:
    from werkzeug.test import Client as WerkzeugClient

    from cortexhooks_receiver.integrations.wsgi import WebhookApp

    return Client(_werkzeug_sender(WerkzeugClient(WebhookApp(receiver))))


def wsgi_app_behind(body: bytes = b"the wrapped app") -> Callable[..., Any]:
    """A WSGI app answering 200 ``body`` to anything: what a middleware wraps in the tests."""

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [body]

    return app


async def asgi_app_behind(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """An ASGI app answering 200 ``the wrapped app`` to any HTTP request."""
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"the wrapped app"})


def build_wsgi_middleware(
    receiver: Receiver, cleanup: contextlib.ExitStack = SESSION_CLEANUP
) -> Client:
    from werkzeug.test import Client as WerkzeugClient

    from cortexhooks_receiver.integrations.wsgi import WebhookMiddleware

    app = WebhookMiddleware(wsgi_app_behind(), receiver)
    return Client(_werkzeug_sender(WerkzeugClient(app)))


def build_asgi(receiver: Receiver, cleanup: contextlib.ExitStack = SESSION_CLEANUP) -> Client:
    from cortexhooks_receiver.integrations.asgi import WebhookApp

    return Client(_asgi_sender(WebhookApp(receiver)))


def build_asgi_middleware(
    receiver: Receiver, cleanup: contextlib.ExitStack = SESSION_CLEANUP
) -> Client:
    from cortexhooks_receiver.integrations.asgi import WebhookMiddleware

    return Client(_asgi_sender(WebhookMiddleware(asgi_app_behind, receiver)))


class LoopThread:
    """An event loop running in a thread of its own; ``run(coro)`` waits for its result."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(
            target=self.loop.run_forever, name="adapter-tests-loop", daemon=True
        )
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, Any], timeout: float = 30) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


def build_aiohttp(receiver: Receiver, cleanup: contextlib.ExitStack = SESSION_CLEANUP) -> Client:
    from aiohttp import web
    from aiohttp.test_utils import TestClient, TestServer

    from cortexhooks_receiver.integrations.aiohttp import setup

    app = web.Application()
    setup(app, receiver)
    loop = LoopThread()
    cleanup.callback(loop.close)

    async def start() -> TestClient[Any, Any]:
        client: TestClient[Any, Any] = TestClient(TestServer(app, host="127.0.0.1"))
        await client.start_server()
        return client

    client = loop.run(start())
    cleanup.callback(lambda: loop.run(client.close()))

    async def go(req: Req) -> Resp:
        from multidict import CIMultiDict

        if req.content_length is not None or req.repeated:
            # aiohttp's client refuses a bad length, and sends a header repeated with the same
            # value once: raw bytes say exactly what the test means.
            return await raw_http(client.host, client.port, req, req.path or DEFAULT_PATH)
        headers: CIMultiDict[str] = CIMultiDict(req.header_lines())
        # aiohttp warns about a large bytes body (it could block a loop): a stream has no limit.
        data: Any = io.BytesIO(req.body) if len(req.body) > 65_536 else req.body
        if req.chunked:
            half = len(req.body) // 2

            async def chunks() -> AsyncIterator[bytes]:
                yield req.body[:half]
                yield req.body[half:]

            data = chunks()
        async with client.request(
            req.method,
            req.path or DEFAULT_PATH,
            data=data,
            headers=headers,
            skip_auto_headers=["Content-Type"],
        ) as r:
            return Resp(r.status, _lower(r.headers.items()), await r.read())

    return Client(lambda req: loop.run(go(req)), peer="127.0.0.1", parses_http=True)


async def raw_http(host: str, port: int, req: Req, path: str = DEFAULT_PATH) -> Resp:
    """Send ``req`` as raw HTTP/1.1 bytes (whatever its headers say) and read the answer."""
    lines = [f"{req.method} {path} HTTP/1.1", f"Host: {host}", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in req.header_lines()]
    if req.content_length is not None or req.body:
        lines.append(f"Content-Length: {req.content_length or len(req.body)}")
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + req.body)
        await writer.drain()
        answer = await reader.read()
    finally:
        writer.close()
        await writer.wait_closed()
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = _lower(line.split(":", 1) for line in header_lines)
    return Resp(int(status_line.split()[1]), {k: v.strip() for k, v in headers.items()}, body)


def build_litestar(receiver: Receiver, cleanup: contextlib.ExitStack = SESSION_CLEANUP) -> Client:
    from litestar import Litestar
    from litestar.testing import TestClient

    from cortexhooks_receiver.integrations.litestar import webhook_route

    client = TestClient(Litestar(route_handlers=[webhook_route(receiver)]))

    def send(req: Req) -> Resp:
        r = client.request(
            url=req.path or DEFAULT_PATH, **_httpx_request_args(req, async_body=False)
        )
        return Resp(r.status_code, _lower(r.headers.items()), r.content)

    return Client(send, peer="testclient")  # Litestar's test client reports no other


def build_quart(receiver: Receiver, cleanup: contextlib.ExitStack = SESSION_CLEANUP) -> Client:
    from quart import Quart
    from werkzeug.datastructures import Headers

    from cortexhooks_receiver.integrations.quart import CortexHooks

    app = Quart("adapter_tests")
    CortexHooks(app, receiver)
    scope = {"client": (PEER, 40000)}

    async def go(req: Req) -> Resp:
        client = app.test_client()
        headers = Headers(req.header_lines())
        if req.content_length is not None:
            headers["Content-Length"] = req.content_length
        elif req.body and not req.chunked:  # what an HTTP client sends, and Quart's does not
            headers["Content-Length"] = str(len(req.body))
        if req.chunked:
            half = len(req.body) // 2
            async with client.request(
                req.path or DEFAULT_PATH, method=req.method, headers=headers, scope_base=scope
            ) as connection:
                await connection.send(req.body[:half])
                await connection.send(req.body[half:])
                await connection.send_complete()
            r = await connection.as_response()
        else:
            r = await client.open(
                req.path or DEFAULT_PATH,
                method=req.method,
                data=req.body,
                headers=headers,
                scope_base=scope,
            )
        return Resp(r.status_code, _lower(r.headers.items()), await r.get_data())

    return Client(lambda req: asyncio.run(go(req)))


def build_falcon_wsgi(
    receiver: Receiver, cleanup: contextlib.ExitStack = SESSION_CLEANUP
) -> Client:
    # Werkzeug's WSGI client, not Falcon's simulator: that one derives CONTENT_LENGTH from the
    # body and validates the environ, so it cannot send a chunked body nor a malformed length
    # (test_falcon.py drives the simulator too).
    import falcon
    from werkzeug.test import Client as WerkzeugClient

    from cortexhooks_receiver.integrations.falcon import WebhookResource

    app = falcon.App()
    app.add_route(DEFAULT_PATH, WebhookResource(receiver))
    return Client(_werkzeug_sender(WerkzeugClient(app)))


def build_falcon_asgi(
    receiver: Receiver, cleanup: contextlib.ExitStack = SESSION_CLEANUP
) -> Client:
    # httpx's ASGI transport, not Falcon's simulator: that one rewrites Content-Length from the
    # body and runs every call on one module-wide event loop, so it cannot send a malformed
    # length nor be called from several threads at once (test_falcon.py drives it too).
    import falcon.asgi

    from cortexhooks_receiver.integrations.falcon import WebhookResource

    app = falcon.asgi.App()
    app.add_route(DEFAULT_PATH, WebhookResource(receiver))
    return Client(_asgi_sender(app))


def build_gcp(receiver: Receiver, cleanup: contextlib.ExitStack = SESSION_CLEANUP) -> Client:
    import _gcp_target
    from functions_framework import create_app

    from cortexhooks_receiver.integrations.gcp import cloud_function

    _gcp_target.function = cloud_function(receiver)
    app = create_app(target="handler", source=str(HERE / "_gcp_main.py"))
    return Client(_werkzeug_sender(app.test_client()))


def _build_lambda(source: str, *, b64: bool = False) -> Builder:
    def build(receiver: Receiver, cleanup: contextlib.ExitStack = SESSION_CLEANUP) -> Client:
        import _lambda_events as events

        from cortexhooks_receiver.integrations.aws_lambda import lambda_handler

        handler = lambda_handler(receiver)

        def send(req: Req) -> Resp:
            return events.response(source, handler(events.event(source, req, b64=b64), None))

        # Without multi-value headers an ALB passes only the last value of a repeated header.
        return Client(send, peer=events.PEERS[source], repeats_headers=source != "alb")

    return build


_django_ready = False
REDIS_URL = os.environ.get("CORTEXHOOKS_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
POSTGRES_DSN = os.environ.get(
    "CORTEXHOOKS_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test"
)
PG_DATABASE = "cortexhooks_adapters"
_pg = urlsplit(POSTGRES_DSN)
DJANGO_DIR = Path(tempfile.mkdtemp(prefix="cortexhooks-django-"))
atexit.register(shutil.rmtree, DJANGO_DIR, True)


def setup_django() -> None:
    """Configure and set up the in-process Django (once per test process)."""
    global _django_ready
    if _django_ready:
        return
    import django
    from django.conf import settings

    settings.configure(
        DEBUG=False,
        SECRET_KEY="adapter-tests-not-secret",
        ALLOWED_HOSTS=["*"],
        ROOT_URLCONF="_django_urls",
        INSTALLED_APPS=[
            "django.contrib.contenttypes",
            "django.contrib.auth",
            "django.contrib.sessions",
            "django.contrib.messages",
            "django.contrib.admin",  # the journal's admin pages
            "cortexhooks_receiver.integrations.django",
        ],
        MIDDLEWARE=[
            "django.middleware.common.CommonMiddleware",
            "django.contrib.sessions.middleware.SessionMiddleware",
            "django.middleware.csrf.CsrfViewMiddleware",
            "django.contrib.auth.middleware.AuthenticationMiddleware",
            "django.contrib.messages.middleware.MessageMiddleware",
        ],
        TEMPLATES=[
            {
                "BACKEND": "django.template.backends.django.DjangoTemplates",
                "APP_DIRS": True,
                "OPTIONS": {
                    "context_processors": [
                        "django.template.context_processors.request",
                        "django.contrib.auth.context_processors.auth",
                        "django.contrib.messages.context_processors.messages",
                    ]
                },
            }
        ],
        DATABASES={
            "default": {
                "ENGINE": "django.db.backends.sqlite3",
                "NAME": str(DJANGO_DIR / "default.sqlite3"),
            },
            "pg": {
                "ENGINE": "django.db.backends.postgresql",
                "NAME": PG_DATABASE,
                "HOST": _pg.hostname or "127.0.0.1",
                "PORT": _pg.port or 5432,
                "USER": _pg.username or "postgres",
                "PASSWORD": _pg.password or "",
            },
            "broken": {
                "ENGINE": "django.db.backends.sqlite3",
                "NAME": str(DJANGO_DIR / "missing-dir" / "db.sqlite3"),
            },
        },
        CACHES={
            "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
            "redis": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": REDIS_URL,
            },
            "broken_redis": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": "redis://127.0.0.1:1/0",
                "OPTIONS": {"socket_connect_timeout": 1},
            },
        },
        CORTEXHOOKS={"SECRET": SECRET, "STORE": "memory://"},
        USE_TZ=True,
    )
    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    _django_ready = True


def build_django_sync(
    receiver: Receiver, cleanup: contextlib.ExitStack = SESSION_CLEANUP
) -> Client:
    setup_django()
    import io

    from _django_urls import Holder
    from django.test import Client as DjangoClient

    Holder.receiver = receiver
    client = DjangoClient(enforce_csrf_checks=True)

    def send(req: Req) -> Resp:
        extra: dict[str, Any] = {}
        content_type = "application/octet-stream"
        for name, value in req.headers.items():
            if name.lower() == "content-type":
                content_type = value
            else:
                extra["HTTP_" + name.upper().replace("-", "_")] = value
        if req.chunked:
            extra.update(
                {
                    "CONTENT_LENGTH": "",
                    "wsgi.input": io.BytesIO(req.body),
                    "wsgi.input_terminated": True,
                    "HTTP_TRANSFER_ENCODING": "chunked",
                }
            )
        if req.content_length is not None:
            extra["CONTENT_LENGTH"] = req.content_length
        extra["REMOTE_ADDR"] = PEER
        r = client.generic(req.method, req.path or DEFAULT_PATH, req.body, content_type, **extra)
        return Resp(r.status_code, _lower(r.headers.items()), r.content)

    # Django's test client keeps one value per header (a dict of META keys).
    return Client(send, repeats_headers=False)


def build_django_async(
    receiver: Receiver, cleanup: contextlib.ExitStack = SESSION_CLEANUP
) -> Client:
    setup_django()
    from _django_urls import Holder
    from django.core.asgi import get_asgi_application

    Holder.receiver = receiver
    asgi = _asgi_sender(get_asgi_application(), "/async" + DEFAULT_PATH)
    return Client(lambda req: asgi(replace(req, path=req.path and "/async" + req.path)))


ADAPTERS: dict[str, Builder] = {
    "flask": build_flask,
    "fastapi": build_fastapi,
    "starlette_route": build_starlette_route,
    "starlette_middleware": build_starlette_middleware,
    "django_sync": build_django_sync,
    "django_async": build_django_async,
    "wsgi": build_wsgi,
    "wsgi_middleware": build_wsgi_middleware,
    "asgi": build_asgi,
    "asgi_middleware": build_asgi_middleware,
    "aiohttp": build_aiohttp,
    "litestar": build_litestar,
    "quart": build_quart,
    "falcon_wsgi": build_falcon_wsgi,
    "falcon_asgi": build_falcon_asgi,
    "gcp": build_gcp,
    "lambda_rest": _build_lambda("rest"),
    "lambda_http_api": _build_lambda("http", b64=True),
    "lambda_function_url": _build_lambda("url"),
    "lambda_alb": _build_lambda("alb", b64=True),
    "lambda_alb_multi_value": _build_lambda("alb_multi"),
}


@pytest.fixture(scope="session", autouse=True)
def _stop_what_builders_started() -> Iterator[None]:
    with SESSION_CLEANUP:
        yield


@pytest.fixture(params=sorted(ADAPTERS))
def adapter(request: pytest.FixtureRequest) -> Iterator[Callable[[Receiver], Client]]:
    """Each adapter's builder: ``adapter(receiver)`` returns its :class:`Client`; whatever the
    adapter started (a server, a loop) is stopped after the test."""
    with contextlib.ExitStack() as cleanup:
        yield lambda receiver: ADAPTERS[request.param](receiver, cleanup)


@pytest.fixture
def clock() -> Callable[[], float]:
    return lambda: NOW


@pytest.fixture
def pg_alias(postgres_dsn: str) -> Iterator[str]:
    """The Django alias of the real PostgreSQL (its database created, the app migrated)."""
    import psycopg

    setup_django()
    from django.core.management import call_command
    from django.db import connections

    with psycopg.connect(postgres_dsn, autocommit=True) as admin:
        exists = admin.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (PG_DATABASE,)
        ).fetchone()
        if not exists:
            admin.execute(f'CREATE DATABASE "{PG_DATABASE}"')
    call_command("migrate", "cortexhooks", database="pg", verbosity=0)
    yield "pg"
    connections["pg"].close()


class StaticStore:
    """A dedup store whose every claim answers ``state`` (another worker holds the delivery)."""

    def __init__(self, state: ClaimState) -> None:
        self.state = state

    def claim(self, keys: Sequence[str], lease: float, token: str) -> ClaimState:
        return self.state

    def complete(self, keys: Sequence[str], retention: float, token: str) -> None:
        return None

    def release(self, keys: Sequence[str], token: str) -> None:
        return None

    def close(self) -> None:
        return None


class DownStore(StaticStore):
    """A dedup store whose service is unreachable."""

    def claim(self, keys: Sequence[str], lease: float, token: str) -> ClaimState:
        raise StoreError("connection refused")

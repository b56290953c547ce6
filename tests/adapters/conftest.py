"""Adapter test kit: signed requests, one client per adapter, the in-process Django.

Every adapter is driven through its own framework's test client (Flask ``test_client()``,
Starlette/FastAPI ``TestClient``, Django ``Client(enforce_csrf_checks=True)`` and Django's real
ASGI handler, Werkzeug's client for plain WSGI, httpx ``ASGITransport`` for plain ASGI), behind
one small interface: ``send(Req) -> Resp``.
"""

from __future__ import annotations

import asyncio
import atexit
import json
import os
import shutil
import sys
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

import cortexhooks_receiver as ch
from cortexhooks_receiver.receiver import DEFAULT_PATH, Receiver

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

SECRET = "whsec_K2Fj8sL3mN9pQ4rT7vX1yZ5bC6dE8fG"
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
    """One request: ``chunked`` sends the body without Content-Length."""

    method: str = "POST"
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    chunked: bool = False
    content_length: str | None = None  # overrides the header's value when set


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
        r = client.open(
            path,
            method=req.method,
            data=req.body,
            headers=req.headers,
            environ_overrides=overrides,
        )
        return Resp(r.status_code, _lower(r.headers.items()), r.get_data())

    return send


def _httpx_request_args(req: Req, *, async_body: bool) -> dict[str, Any]:
    headers = dict(req.headers)
    if req.content_length is not None:
        headers["Content-Length"] = req.content_length
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

    client = TestClient(app)

    def send(req: Req) -> Resp:
        r = client.request(url=path, **_httpx_request_args(req, async_body=False))
        return Resp(r.status_code, _lower(r.headers.items()), r.content)

    return send


def _asgi_sender(app: Any, path: str = DEFAULT_PATH) -> Callable[[Req], Resp]:
    import httpx

    async def go(req: Req) -> Resp:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            r = await c.request(url=path, **_httpx_request_args(req, async_body=True))
            return Resp(r.status_code, _lower(r.headers.items()), r.content)

    def send(req: Req) -> Resp:
        return asyncio.run(go(req))

    return send


def build_flask(receiver: Receiver) -> Callable[[Req], Resp]:
    from flask import Flask

    from cortexhooks_receiver.integrations.flask import CortexHooks

    app = Flask("adapter_tests")
    CortexHooks(app, receiver)
    return _werkzeug_sender(app.test_client())


def build_fastapi(receiver: Receiver) -> Callable[[Req], Resp]:
    from fastapi import FastAPI

    from cortexhooks_receiver.integrations.fastapi import webhook_router

    app = FastAPI()
    app.include_router(webhook_router(receiver))
    return _testclient_sender(app)


def build_starlette_route(receiver: Receiver) -> Callable[[Req], Resp]:
    from starlette.applications import Starlette

    from cortexhooks_receiver.integrations.starlette import webhook_route

    return _testclient_sender(Starlette(routes=[webhook_route(receiver)]))


def build_starlette_middleware(receiver: Receiver) -> Callable[[Req], Resp]:
    from starlette.applications import Starlette
    from starlette.middleware import Middleware

    from cortexhooks_receiver.integrations.starlette import CortexHooksMiddleware

    app = Starlette(middleware=[Middleware(CortexHooksMiddleware, receiver=receiver)])
    return _testclient_sender(app)


def build_wsgi(receiver: Receiver) -> Callable[[Req], Resp]:
    from werkzeug.test import Client

    from cortexhooks_receiver.integrations.wsgi import WebhookApp

    return _werkzeug_sender(Client(WebhookApp(receiver)))


def build_asgi(receiver: Receiver) -> Callable[[Req], Resp]:
    from cortexhooks_receiver.integrations.asgi import WebhookApp

    return _asgi_sender(WebhookApp(receiver))


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


def build_django_sync(receiver: Receiver) -> Callable[[Req], Resp]:
    setup_django()
    import io

    from _django_urls import Holder
    from django.test import Client

    Holder.receiver = receiver
    client = Client(enforce_csrf_checks=True)

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
        r = client.generic(req.method, DEFAULT_PATH, req.body, content_type, **extra)
        return Resp(r.status_code, _lower(r.headers.items()), r.content)

    return send


def build_django_async(receiver: Receiver) -> Callable[[Req], Resp]:
    setup_django()
    from _django_urls import Holder
    from django.core.asgi import get_asgi_application

    Holder.receiver = receiver
    return _asgi_sender(get_asgi_application(), "/async" + DEFAULT_PATH)


ADAPTERS: dict[str, Callable[[Receiver], Callable[[Req], Resp]]] = {
    "flask": build_flask,
    "fastapi": build_fastapi,
    "starlette_route": build_starlette_route,
    "starlette_middleware": build_starlette_middleware,
    "django_sync": build_django_sync,
    "django_async": build_django_async,
    "wsgi": build_wsgi,
    "asgi": build_asgi,
}


@pytest.fixture(params=sorted(ADAPTERS))
def adapter(request: pytest.FixtureRequest) -> Callable[[Receiver], Callable[[Req], Resp]]:
    """Each adapter's builder: ``adapter(receiver)`` returns its ``send(Req) -> Resp``."""
    return ADAPTERS[request.param]


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

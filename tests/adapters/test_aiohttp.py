"""aiohttp specifics: the body is read from request.content with the receiver's cap."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from conftest import SECRET, make_body, signed_headers

from cortexhooks_receiver import Receiver
from cortexhooks_receiver.integrations.aiohttp import setup
from cortexhooks_receiver.signature import now_ms

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def _post(app: web.Application, body: bytes, headers: dict[str, str]) -> tuple[int, Any]:
    async with (
        TestClient(TestServer(app)) as client,
        client.post("/webhooks/cortexbuild", data=io.BytesIO(body), headers=headers) as response,
    ):
        return response.status, await response.json()


def test_a_body_above_aiohttps_client_max_size_but_within_the_cap_is_received() -> None:
    # aiohttp's request.read() refuses more than client_max_size (1 MiB by default) with HTML.
    app = web.Application()
    setup(app, Receiver(SECRET, max_body_bytes=2 * 1024 * 1024))
    body = make_body(timestamp=now_ms(), task_id="x" * 1_200_000)
    status, answer = asyncio.run(_post(app, body, signed_headers(body, timestamp=now_ms())))
    assert (status, answer) == (200, {"received": True})


def test_a_middleware_that_read_the_body_first_gets_body_already_consumed() -> None:
    @web.middleware
    async def greedy(request: web.Request, handler: Handler) -> web.StreamResponse:
        await request.read()
        return await handler(request)

    app = web.Application(middlewares=[greedy])
    setup(app, Receiver(SECRET))
    body = make_body(timestamp=now_ms())
    status, answer = asyncio.run(_post(app, body, signed_headers(body, timestamp=now_ms())))
    assert status == 500
    assert answer["error"] == "body_already_consumed"

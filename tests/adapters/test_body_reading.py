"""The shared body readers: the cap stops reading at cap + 1 bytes; no hang on a drained channel."""

from __future__ import annotations

import asyncio
import io
from typing import Any

import pytest
from conftest import SECRET, make_body, signed_headers
from werkzeug.test import Client

from cortexhooks_receiver import Receiver
from cortexhooks_receiver.integrations import (
    BodyAlreadyConsumed,
    IncompleteBody,
    InvalidContentLength,
)
from cortexhooks_receiver.integrations._common import parse_content_length, read_capped
from cortexhooks_receiver.integrations.asgi import read_body
from cortexhooks_receiver.integrations.wsgi import WebhookApp


class CountingStream(io.BytesIO):
    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.requested = 0

    def read(self, size: int | None = -1, /) -> bytes:
        data = super().read(size)
        self.requested += len(data)
        return data


def test_chunked_read_stops_at_cap_plus_one_byte() -> None:
    stream = CountingStream(b"x" * 10_000)
    body = read_capped(stream.read, 100, None)
    assert len(body) == 101
    assert stream.requested == 101


def test_declared_length_with_nothing_left_means_the_body_was_consumed() -> None:
    with pytest.raises(BodyAlreadyConsumed):
        read_capped(io.BytesIO(b"").read, 100, 10)


def test_a_body_ending_part_way_through_its_declared_length_is_incomplete_not_a_500() -> None:
    # The client stopped sending (a real server hands over what arrived, then EOF): a bad
    # request (400), not the application's fault.
    with pytest.raises(IncompleteBody) as caught:
        read_capped(io.BytesIO(b"abc").read, 100, 10)
    assert (caught.value.status, caught.value.code) == (400, "incomplete_body")


def test_asgi_client_disconnecting_mid_body_is_incomplete_not_a_500() -> None:
    messages = [
        {"type": "http.request", "body": b"x" * 10, "more_body": True},
        {"type": "http.disconnect"},
    ]

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    with pytest.raises(IncompleteBody):
        asyncio.run(read_body(receive, 100, 50))


@pytest.mark.parametrize("value", ["-1", "1e3", "12abc", "\uff10\uff11", "9" * 30])
def test_invalid_content_length_is_refused(value: str) -> None:
    with pytest.raises(InvalidContentLength):
        parse_content_length(value)


def test_asgi_read_stops_receiving_after_the_cap() -> None:
    received = 0

    async def receive() -> dict[str, Any]:
        nonlocal received
        received += 1
        return {"type": "http.request", "body": b"x" * 50, "more_body": True}

    body = asyncio.run(read_body(receive, 120, None))
    assert len(body) == 121
    assert received == 3


def test_asgi_drained_channel_answers_body_already_consumed_instead_of_hanging() -> None:
    async def receive() -> dict[str, Any]:
        await asyncio.Event().wait()  # a channel someone else drained: nothing ever comes
        raise AssertionError("unreachable")

    with pytest.raises(BodyAlreadyConsumed):
        asyncio.run(read_body(receive, 100, 20, timeout=0.05))


def test_wsgi_body_without_length_or_terminated_input_is_not_read() -> None:
    # Reading a WSGI input with no Content-Length and no wsgi.input_terminated could block
    # forever; the adapter reads nothing and the core refuses the empty body.
    body = make_body()
    client = Client(WebhookApp(Receiver(SECRET)))
    response = client.post(
        "/webhooks/cortexbuild",
        data=body,
        headers=signed_headers(body),
        environ_overrides={"CONTENT_LENGTH": ""},
    )
    assert response.status_code == 401


def test_wsgi_app_with_a_path_answers_404_elsewhere() -> None:
    client = Client(WebhookApp(Receiver(SECRET), path="/webhooks/cortexbuild"))
    response = client.post("/other")
    assert response.status_code == 404
    assert response.get_json()["error"] == "not_found"


def test_importing_the_package_imports_no_framework() -> None:
    import subprocess
    import sys

    code = (
        "import sys, cortexhooks_receiver, cortexhooks_receiver.integrations;"
        "fw = ('flask', 'django', 'fastapi', 'starlette', 'werkzeug');"
        "bad = [m for m in fw if m in sys.modules];"
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)

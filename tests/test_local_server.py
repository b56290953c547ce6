"""The local WSGI server behind listen, serve and demo: a stop lets the request in flight finish."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import httpx

from cortexhooks_receiver._server import serve_in_thread


def test_stop_returns_only_once_the_request_in_flight_is_answered() -> None:
    # listen --max-events N stops its server as soon as the N-th request is recorded, which is
    # before that request's answer is written, and then the process exits: stop() must return
    # only after that answer went out.
    inside, finished = threading.Event(), threading.Event()
    server = serve_in_thread(lambda environ, start_response: _Answer(server, start_response))

    class _Answer:
        def __init__(self, running: Any, start_response: Callable[..., Any]) -> None:
            inside.set()
            running._thread.join(10)  # answer only once the server stopped accepting
            start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "4")])

        def __iter__(self) -> Iterator[bytes]:
            yield b"done"

        def close(self) -> None:  # wsgiref calls it once the answer is written
            finished.set()

    answers: list[httpx.Response] = []
    client = threading.Thread(target=lambda: answers.append(httpx.get(server.url, timeout=10)))
    client.start()
    assert inside.wait(10)
    server.stop(timeout=10)
    assert finished.is_set()
    client.join(10)
    assert [(a.status_code, a.content) for a in answers] == [(200, b"done")]


def test_stop_does_not_wait_forever_for_a_stalled_request() -> None:
    release = threading.Event()

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        release.wait(10)
        start_response("200 OK", [("Content-Length", "0")])
        return [b""]

    server = serve_in_thread(app)
    client = threading.Thread(target=lambda: _get_quietly(server.url))
    client.start()
    try:
        stopper = threading.Thread(target=server.stop, kwargs={"timeout": 0.2})
        stopper.start()
        stopper.join(5)
        assert not stopper.is_alive()
    finally:
        release.set()
        client.join(10)


def _get_quietly(url: str) -> None:
    with contextlib.suppress(httpx.HTTPError):
        httpx.get(url, timeout=10)

"""The adversarial matrix (``adversarial_cases.py``) against every real app under its real server.

Each app of ``integrations/`` runs under its production server (the catalogue of
``integrations/servers.py``: gunicorn, uvicorn, hypercorn, aiohttp's own, the Functions
Framework) with one worker and the memory store, started once for this module and reused by
every case. Requests are written as raw bytes on a socket (``socket.create_connection`` to the
loopback port), so that what a test client cannot send goes on the wire as the case says it:
chunked with and without ``Content-Length``, ``Content-Length`` lies, bodies in pieces, two
requests on one connection, HTTP/1.0 without ``Host``, a header of 100 KB.

The answer is read until the server closes the connection (every request asks it to), under a
socket timeout: a server that neither answers nor closes fails the case as a hang. Its status
line and the JSON body's code must be what the list says for that server; whether a handler ran
is read from the log file every app appends one line to per handled delivery.
"""

from __future__ import annotations

import json
import socket
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from adversarial_cases import (
    CASES,
    FAILING_EVENT,
    NO_ANSWER,
    SERVER_FAMILIES,
    Case,
    Ctx,
    Expect,
    Request,
    on_servers,
    server_answers,
    server_family,
)

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from integrations import servers  # noqa: E402

pytestmark = pytest.mark.e2e

HOST = "127.0.0.1"
READ_TIMEOUT = 15.0
"""Seconds a socket waits for the server: past it, the case fails as a hang."""
PIECE_PAUSE = 0.02
"""Seconds between the pieces of a slow body: a delivery pace, never an assertion."""
ACKS = {
    "received": {"received": True},
    "duplicate": {"received": True, "duplicate": True},
    "queued": {"received": True, "queued": True},
}


def test_every_real_server_belongs_to_a_published_family() -> None:
    assert {server_family(spec.name) for spec in servers.SERVERS} == set(SERVER_FAMILIES)


@dataclass
class Running:
    spec: servers.ServerSpec
    port: int
    log: Path

    @property
    def family(self) -> str:
        return server_family(self.spec.name)

    def handled(self) -> int:
        """How many deliveries the app's handlers have run so far."""
        return len(self.log.read_bytes().splitlines()) if self.log.exists() else 0


@pytest.fixture(scope="module", params=servers.SERVERS, ids=[spec.name for spec in servers.SERVERS])
def running(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Running]:
    spec: servers.ServerSpec = request.param
    workdir = tmp_path_factory.mktemp(spec.name)
    port = servers.free_port()
    log = workdir / "handled.log"
    output = workdir / "server.out"
    proc = servers.start(
        spec,
        port,
        workdir,
        store="memory://",
        workers=1,  # one process: the memory store sees every request
        env={
            "CORTEXHOOKS_HANDLED_LOG": str(log),
            "CORTEXHOOKS_FAILING_EVENT": FAILING_EVENT,
            "PYTHONUNBUFFERED": "1",
        },
        output=output,
    )
    try:
        try:
            servers.wait_ready(proc, port)
        except servers.ServerError as exc:
            pytest.fail(f"{spec.name}: {exc}:\n{output.read_text()[-3000:]}")
        yield Running(spec, port, log)
        assert proc.poll() is None, f"{spec.name} died:\n{output.read_text()[-3000:]}"
    finally:
        servers.stop(proc)


# -- the wire ---------------------------------------------------------------------------------


def _chunks(body: bytes, pieces: int) -> list[bytes]:
    size = max(1, -(-len(body) // max(pieces, 1)))
    parts = [body[i : i + size] for i in range(0, len(body), size)]
    return [b"%x\r\n%s\r\n" % (len(part), part) for part in parts] + [b"0\r\n\r\n"]


def encode(req: Request, *, close: bool) -> list[bytes]:
    """``req`` as the byte strings to write, in order (one per piece of a slow body)."""
    lines = [f"{req.method} {req.target} {req.version}"]
    if req.host:
        lines.append(f"Host: {HOST}")
    lines += [f"{name}: {value}" for name, value in req.headers]
    if close and req.version == "HTTP/1.1":
        lines.append("Connection: close")
    length = req.content_length if req.content_length is not None else str(len(req.body))
    with_body = req.body or req.content_length is not None or req.method in {"POST", "PUT"}
    if req.framing in {"length", "chunked+length"} and with_body:
        lines.append(f"Content-Length: {length}")
    if req.framing in {"chunked", "chunked+length"}:
        lines.append("Transfer-Encoding: chunked")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    if req.framing in {"chunked", "chunked+length"}:
        body = _chunks(req.body, req.pieces)
        if req.pieces <= 1:
            body = [b"".join(body)]
    elif req.pieces > 1:
        size = -(-len(req.body) // req.pieces)
        body = [req.body[i : i + size] for i in range(0, len(req.body), size)]
    else:
        body = [req.body]
    return [head + body[0], *body[1:]]


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def code(self) -> str | None:
        """The JSON body's ``error`` (or ``received``/``duplicate``/``queued``), else None."""
        try:
            data = json.loads(self.body)
        except ValueError:
            return None
        if not isinstance(data, dict):
            return None
        for name, ack in ACKS.items():
            if data == ack:
                return name
        error = data.get("error")
        return error if isinstance(error, str) else None


def _read_until_closed(sock: socket.socket) -> bytes:
    data = bytearray()
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break  # what was read before the reset stands
        except TimeoutError:
            message = f"no end of answer within {READ_TIMEOUT}s: {bytes(data)[:200]!r}"
            raise AssertionError(message) from None  # the hang is the failure
        if not chunk:
            break
        data += chunk
    return bytes(data)


def parse(data: bytes, methods: list[str]) -> list[Answer]:
    """The answers in ``data``, one per request method in ``methods`` at most (1xx skipped)."""
    answers: list[Answer] = []
    while data and len(answers) < len(methods):
        head, sep, rest = data.partition(b"\r\n\r\n")
        assert sep, f"an incomplete answer: {data[:300]!r}"
        status_line, *lines = head.decode("latin-1").split("\r\n")
        status = int(status_line.split()[1])
        headers: dict[str, str] = {}
        for line in lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if 100 <= status < 200:
            data = rest
            continue
        if methods[len(answers)] == "HEAD":
            body, data = b"", rest
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            body_parts = []
            while True:
                size_line, _, rest = rest.partition(b"\r\n")
                size = int(size_line.split(b";")[0], 16)
                if size == 0:
                    _, _, rest = rest.partition(b"\r\n")
                    break
                body_parts.append(rest[:size])
                rest = rest[size + 2 :]
            body, data = b"".join(body_parts), rest
        elif "content-length" in headers:
            size = int(headers["content-length"])
            body, data = rest[:size], rest[size:]
        else:
            body, data = rest, b""
        answers.append(Answer(status, headers, body))
    return answers


def exchange(port: int, requests: list[Request]) -> list[Answer]:
    """Write ``requests`` on one connection (the last asks to close it), read every answer."""
    writes: list[tuple[bytes, bool]] = []
    for n, req in enumerate(requests):
        pieces = encode(req, close=n == len(requests) - 1)
        writes += [(piece, i > 0) for i, piece in enumerate(pieces)]
    half_close = requests[-1].half_close
    with socket.create_connection((HOST, port), timeout=READ_TIMEOUT) as sock:

        def write() -> None:
            try:
                for piece, pause in writes:
                    if pause:
                        time.sleep(PIECE_PAUSE)  # a slow sender's pace, not a timing check
                    sock.sendall(piece)
                if half_close:
                    sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass  # the server answered (and closed) before reading everything: fine

        writer = threading.Thread(target=write, name="adversarial-writer", daemon=True)
        writer.start()
        try:
            data = _read_until_closed(sock)
        finally:
            writer.join(READ_TIMEOUT)
    return parse(data, [req.method for req in requests])


# -- the matrix -------------------------------------------------------------------------------


SERVER_CASES = [case for case in CASES if on_servers(case)]


def _check(answer: Answer | None, expected: Expect, where: str) -> bool:
    """Check ``answer`` against ``expected`` or its alternatives; return whether a handler must
    have run (that of the alternative it matched)."""
    failures = []
    for expect in expected.options():
        try:
            _check_one(answer, expect, where)
        except AssertionError as exc:
            failures.append(str(exc))
        else:
            return expect.handled
    raise AssertionError(" / ".join(failures))


def _check_one(answer: Answer | None, expect: Expect, where: str) -> None:
    if expect.status == NO_ANSWER:
        assert answer is None, f"{where}: answered {answer}"
        return
    assert answer is not None, f"{where}: the connection closed without an answer"
    assert answer.status == expect.status, f"{where}: {answer.status} {answer.body[:300]!r}"
    if expect.code is None and expect.by_server:  # the server's own answer, not the app's
        assert answer.code() is None, f"{where}: the app answered {answer.body[:300]!r}"
    if expect.code is not None:
        assert answer.code() == expect.code, f"{where}: {answer.body[:300]!r}"
        assert answer.headers.get("content-type", "").startswith("application/json"), where
    if answer.status >= 500:  # only a handler's own failure, or the one the list names
        assert answer.code() in {"handler_error", expect.code}, f"{where}: {answer.body!r}"


@pytest.mark.parametrize("case", SERVER_CASES, ids=[case.id for case in SERVER_CASES])
def test_adversarial_case_under_the_real_server(running: Running, case: Case) -> None:
    ctx = Ctx(int(time.time() * 1000), f"adv-{uuid.uuid4().hex[:20]}")
    expected = server_answers(case, running.family)
    where = f"{case.id} under {running.spec.name}"
    if case.pipelined:
        before = running.handled()
        answers = exchange(running.port, [step.build(ctx) for step in case.steps])
        runs = 0
        for n, expect in enumerate(expected):
            answer = answers[n] if n < len(answers) else None
            runs += _check(answer, expect, f"{where} request {n + 1}")
        assert running.handled() - before == runs, where
        return
    for n, (step, expect) in enumerate(zip(case.steps, expected, strict=True)):
        before = running.handled()
        answers = exchange(running.port, [step.build(ctx)])
        handled = _check(answers[0] if answers else None, expect, f"{where} step {n + 1}")
        assert (running.handled() > before) is handled, f"{where} step {n + 1}: handled"

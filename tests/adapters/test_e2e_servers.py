"""End to end: each real app under its production server, deliveries over real HTTP.

gunicorn (2 worker processes) serves Flask, Django WSGI and plain WSGI; uvicorn serves FastAPI,
Starlette (route and middleware), Django ASGI and plain ASGI. The dedup store is SQLite in a
temporary directory, so the two gunicorn workers deduplicate across processes; handlers append one
line per delivery to a file this test reads. Every server is bound to a free loopback port, polled
until ready within a bound, then stopped with SIGTERM (killed if it does not exit in time).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

import cortexhooks_receiver as ch

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
APPS = ROOT / "integrations"
DJANGO = APPS / "django_project"
BIN = Path(sys.executable).parent
SECRET = "whsec_K2Fj8sL3mN9pQ4rT7vX1yZ5bC6dE8fG"
PATH = "/webhooks/cortexbuild"
READY_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0


@dataclass(frozen=True)
class Server:
    name: str
    argv: list[str]
    env: dict[str, str]
    processes: int


def _gunicorn(chdir: Path, target: str) -> list[str]:
    return [
        str(BIN / "gunicorn"),
        "-w",
        "2",
        "--chdir",
        str(chdir),
        "--graceful-timeout",
        "3",
        "--log-level",
        "warning",
        target,
    ]


def _uvicorn(app_dir: Path, target: str) -> list[str]:
    return [
        str(BIN / "uvicorn"),
        "--app-dir",
        str(app_dir),
        "--log-level",
        "warning",
        "--no-access-log",
        target,
    ]


SERVERS = [
    Server("flask-gunicorn", _gunicorn(APPS, "flask_app:app"), {}, 2),
    Server("wsgi-gunicorn", _gunicorn(APPS, "wsgi_app:app"), {}, 2),
    Server("django-gunicorn", _gunicorn(DJANGO, "cbproject.wsgi:application"), {}, 2),
    Server("fastapi-uvicorn", _uvicorn(APPS, "fastapi_app:app"), {}, 1),
    Server("starlette-uvicorn", _uvicorn(APPS, "starlette_app:app"), {}, 1),
    Server("starlette-middleware-uvicorn", _uvicorn(APPS, "starlette_app:middleware_app"), {}, 1),
    Server("asgi-uvicorn", _uvicorn(APPS, "asgi_app:app"), {}, 1),
    Server(
        "django-asgi-uvicorn",
        _uvicorn(DJANGO, "cbproject.asgi:application"),
        {"CORTEXHOOKS_DJANGO_ASYNC": "1"},
        1,
    ),
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _bind_args(server: Server, port: int) -> list[str]:
    if "gunicorn" in server.argv[0]:
        return ["--bind", f"127.0.0.1:{port}"]
    return ["--host", "127.0.0.1", "--port", str(port)]


@pytest.fixture(params=SERVERS, ids=[s.name for s in SERVERS])
def running(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    server: Server = request.param
    port = free_port()
    log = tmp_path / "handled.log"
    env = {
        **os.environ,
        "CORTEXBUILD_WEBHOOK_SECRET": SECRET,
        "CORTEXHOOKS_STORE": f"sqlite:///{tmp_path / 'dedup.db'}",
        "CORTEXHOOKS_HANDLED_LOG": str(log),
        "CORTEXHOOKS_DJANGO_DB": str(tmp_path / "django.sqlite3"),
        "PYTHONUNBUFFERED": "1",
        **server.env,
    }
    out = (tmp_path / "server.out").open("wb")
    proc = subprocess.Popen(
        [*server.argv[:1], *_bind_args(server, port), *server.argv[1:]],
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
        cwd=tmp_path,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(proc, base, tmp_path / "server.out")
        yield base, log
    finally:
        _stop(proc)
        out.close()


def _wait_ready(proc: subprocess.Popen[bytes], base: str, output: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"server exited with {proc.returncode}:\n{output.read_text()[-3000:]}")
        try:
            if httpx.get(base + PATH, timeout=1.0).status_code == 405:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)  # readiness poll interval (bounded by READY_TIMEOUT), not a timing test
    pytest.fail(f"server not ready within {READY_TIMEOUT}s:\n{output.read_text()[-3000:]}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(STOP_TIMEOUT)


def _delivery(delivery_id: str, *, task: str = "task-1") -> tuple[bytes, dict[str, str]]:
    body = (
        b'{"event":"task.completed","timestamp":%d,"data":{"id":"%s","title":"Pour slab"},'
        b'"companyId":"company-1","userId":"user-1"}' % (ch.signature.now_ms(), task.encode())
    )
    headers = ch.sign(body, SECRET, event="task.completed", delivery_id=delivery_id)
    headers["Content-Type"] = "application/json"
    return body, headers


def _handled(log: Path) -> list[str]:
    if not log.exists():
        return []
    return [line.split()[2] for line in log.read_text().splitlines()]


def test_real_server_processes_each_delivery_exactly_once(running: tuple[str, Path]) -> None:
    base, log = running
    url = base + PATH
    with httpx.Client(timeout=10.0) as client:
        body, headers = _delivery("e2e-1")
        first = client.post(url, content=body, headers=headers)
        assert first.status_code == 200, first.text
        assert first.json() == {"received": True}

        again = client.post(url, content=body, headers=headers)
        assert again.status_code == 200
        assert again.json() == {"received": True, "duplicate": True}

        replay = dict(headers, **{"X-CortexBuild-Delivery-Id": "e2e-replayed"})
        assert client.post(url, content=body, headers=replay).json()["duplicate"] is True

        forged = dict(headers, **{"X-CortexBuild-Signature": "0" * 64})
        refused = client.post(url, content=body, headers=forged)
        assert refused.status_code == 401
        assert refused.json()["error"] == "signature_mismatch"

        too_big = client.post(url, content=b"{" + b" " * 1_048_600 + b"}", headers=headers)
        assert too_big.status_code == 413

        chunked = client.post(url, content=iter([body[:40], body[40:]]), headers=headers)
        assert chunked.status_code == 200  # the same body: a duplicate, read from a chunked stream
        assert chunked.json()["duplicate"] is True

    # Several copies of one new delivery at once, across connections (and gunicorn's workers).
    body, headers = _delivery("e2e-2", task="task-2")

    def post() -> int:
        with httpx.Client(timeout=10.0) as c:
            return c.post(url, content=body, headers=headers).status_code

    with ThreadPoolExecutor(6) as pool:
        statuses = list(pool.map(lambda _: post(), range(6)))
    assert set(statuses) <= {200, 409}
    assert 200 in statuses
    assert sorted(_handled(log)) == ["e2e-1", "e2e-2"]

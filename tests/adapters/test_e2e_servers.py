"""End to end: each real app under its production server, deliveries over real HTTP.

gunicorn (2 worker processes) serves Flask, Django WSGI, plain WSGI (app and middleware) and Falcon
WSGI; uvicorn serves FastAPI, Starlette (route and middleware), Django ASGI, plain ASGI (app and
middleware), Litestar and Falcon ASGI; hypercorn serves Quart; aiohttp runs under its own server
(``python -m aiohttp.web``) and the Google Cloud Function under the Functions Framework. The dedup
store is SQLite in a temporary directory, so the two gunicorn workers deduplicate across
processes; handlers append one line per delivery to a file this test reads. Every server is bound
to a free loopback port, polled until ready within a bound, then stopped with SIGTERM (killed if
it does not exit in time): the catalogue of servers and that lifecycle live in
``integrations/servers.py``, shared with ``benchmarks/bench_adapters.py``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

import cortexhooks_receiver as ch

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # pytest run from anywhere: the catalogue lives in integrations/
    sys.path.insert(0, str(ROOT))

from integrations import servers  # noqa: E402

pytestmark = pytest.mark.e2e

SECRET = servers.SECRET
PATH = servers.ADAPTER_PATH


@pytest.fixture(params=servers.SERVERS, ids=[s.name for s in servers.SERVERS])
def running(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    spec: servers.ServerSpec = request.param
    port = servers.free_port()
    log = tmp_path / "handled.log"
    output = tmp_path / "server.out"
    proc = servers.start(
        spec,
        port,
        tmp_path,
        store=f"sqlite:///{tmp_path / 'dedup.db'}",  # shared by gunicorn's workers
        env={"CORTEXHOOKS_HANDLED_LOG": str(log), "PYTHONUNBUFFERED": "1"},
        output=output,
    )
    try:
        try:
            servers.wait_ready(proc, port)
        except servers.ServerError as exc:
            pytest.fail(f"{spec.name}: {exc}:\n{output.read_text()[-3000:]}")
        yield f"http://127.0.0.1:{port}", log
    finally:
        servers.stop(proc)


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

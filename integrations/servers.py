"""The real apps of this folder under their production servers: what to run, and how to run it.

Shared by ``tests/adapters/test_e2e_servers.py`` (SQLite store, gunicorn's two workers, checks
exactly-once) and ``benchmarks/bench_adapters.py`` (memory store, one worker, the ``/bare``
endpoint). Both import it as ``from integrations import servers`` with the repository root on
``sys.path``. Typical use::

    port = free_port()
    proc = start(spec, port, workdir, store="memory://", workers=1)
    try:
        wait_ready(proc, port)
        ...  # talk HTTP to 127.0.0.1:port
    finally:
        stop(proc)

Every server runs in its own session (process group) bound to a loopback port; :func:`stop`
signals the whole group, so gunicorn's workers go with their master.
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from cortexhooks_receiver import DEFAULT_PATH

__all__ = [
    "ADAPTER_PATH",
    "BARE_PATH",
    "READY_TIMEOUT",
    "SECRET",
    "SERVERS",
    "STOP_TIMEOUT",
    "ArgvFactory",
    "ServerError",
    "ServerSpec",
    "free_port",
    "start",
    "stop",
    "wait_ready",
]

APPS = Path(__file__).resolve().parent
DJANGO = APPS / "django_project"
BIN = Path(sys.executable).parent
SECRET = "whsec_K2Fj8sL3mN9pQ4rT7vX1yZ5bC6dE8fG"
"""The guide's example secret; :func:`start` gives it to every app."""
ADAPTER_PATH: str = DEFAULT_PATH
"""Where every app serves the adapter (a GET there answers 405 once the app is loaded)."""
BARE_PATH = "/bare"
"""Where every app serves the guide's hand-written verification (the benchmark's baseline)."""
READY_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0
HOST = "127.0.0.1"

ArgvFactory = Callable[[int, int], list[str]]
"""``(port, workers) -> argv``: the full command line of one server bound to ``HOST:port``."""


class ServerError(RuntimeError):
    """A server exited early or did not become ready in time."""


@dataclass(frozen=True)
class ServerSpec:
    """One app under one server.

    ``name`` is ``<app words>-<server>`` (``"django-wsgi-gunicorn"``): the test id; ``title`` is
    the same for a table (``"django wsgi (gunicorn)"``). ``workers`` is the default number of
    worker processes (:func:`start` can override it); ``env`` the variables this app needs.
    """

    name: str
    argv: ArgvFactory
    env: Mapping[str, str] = field(default_factory=dict)
    workers: int = 1

    @property
    def title(self) -> str:
        """The name for a table: ``"starlette middleware (uvicorn)"``."""
        app, _, server = self.name.rpartition("-")
        return f"{app.replace('-', ' ')} ({server})"


def _gunicorn(chdir: Path, app: str) -> ArgvFactory:
    def argv(port: int, workers: int) -> list[str]:
        return [
            str(BIN / "gunicorn"),
            "--bind",
            f"{HOST}:{port}",
            "-w",
            str(workers),
            "--chdir",
            str(chdir),
            "--graceful-timeout",
            "3",
            "--log-level",
            "warning",
            app,
        ]

    return argv


def _python_m(*args: str) -> ArgvFactory:
    """``python -m ...`` with ``{port}`` in ``args`` (for servers that take no worker count)."""

    def argv(port: int, workers: int) -> list[str]:
        return [sys.executable, "-m", *(a.format(host=HOST, port=port) for a in args)]

    return argv


def _hypercorn(app: str) -> ArgvFactory:
    def argv(port: int, workers: int) -> list[str]:
        return [str(BIN / "hypercorn"), "--bind", f"{HOST}:{port}", "-w", str(workers), app]

    return argv


def _functions_framework(source: Path, target: str) -> ArgvFactory:
    def argv(port: int, workers: int) -> list[str]:
        return [
            str(BIN / "functions-framework"),
            f"--source={source}",
            f"--target={target}",
            f"--host={HOST}",
            f"--port={port}",
        ]

    return argv


def _uvicorn(app_dir: Path, app: str) -> ArgvFactory:
    def argv(port: int, workers: int) -> list[str]:
        return [
            str(BIN / "uvicorn"),
            "--host",
            HOST,
            "--port",
            str(port),
            *(["--workers", str(workers)] if workers > 1 else []),
            "--app-dir",
            str(app_dir),
            "--log-level",
            "warning",
            "--no-access-log",
            app,
        ]

    return argv


_ON_PATH = {"PYTHONPATH": str(APPS)}
"""For servers with no option naming the folder of the app."""

SERVERS: tuple[ServerSpec, ...] = (
    ServerSpec("flask-gunicorn", _gunicorn(APPS, "flask_app:app"), workers=2),
    ServerSpec("wsgi-gunicorn", _gunicorn(APPS, "wsgi_app:app"), workers=2),
    ServerSpec("wsgi-middleware-gunicorn", _gunicorn(APPS, "wsgi_app:middleware_app"), workers=2),
    ServerSpec("falcon-wsgi-gunicorn", _gunicorn(APPS, "falcon_app:app"), workers=2),
    ServerSpec("django-wsgi-gunicorn", _gunicorn(DJANGO, "cbproject.wsgi:application"), workers=2),
    ServerSpec("fastapi-uvicorn", _uvicorn(APPS, "fastapi_app:app")),
    ServerSpec("starlette-route-uvicorn", _uvicorn(APPS, "starlette_app:app")),
    ServerSpec("starlette-middleware-uvicorn", _uvicorn(APPS, "starlette_app:middleware_app")),
    ServerSpec("asgi-uvicorn", _uvicorn(APPS, "asgi_app:app")),
    ServerSpec("asgi-middleware-uvicorn", _uvicorn(APPS, "asgi_app:middleware_app")),
    ServerSpec("litestar-uvicorn", _uvicorn(APPS, "litestar_app:app")),
    ServerSpec("falcon-asgi-uvicorn", _uvicorn(APPS, "falcon_app:asgi_app")),
    ServerSpec("quart-hypercorn", _hypercorn("quart_app:app"), _ON_PATH),
    ServerSpec(
        "aiohttp-aiohttp.web",
        _python_m("aiohttp.web", "-H", "{host}", "-P", "{port}", "aiohttp_app:create"),
        _ON_PATH,
    ),
    ServerSpec("gcp-functions_framework", _functions_framework(APPS / "gcp_app.py", "handler")),
    ServerSpec(
        "django-asgi-uvicorn",
        _uvicorn(DJANGO, "cbproject.asgi:application"),
        {"CORTEXHOOKS_DJANGO_ASYNC": "1"},
    ),
)
"""Every app of this folder under its production server (the table of ``README.md``)."""


def free_port() -> int:
    """A loopback TCP port that was free a moment ago (bound to port 0, then released)."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def start(
    spec: ServerSpec,
    port: int,
    workdir: Path,
    *,
    store: str = "memory://",
    workers: int | None = None,
    env: Mapping[str, str] | None = None,
    output: Path | None = None,
) -> subprocess.Popen[bytes]:
    """Start ``spec`` on ``HOST:port`` in a new session; return at once (see :func:`wait_ready`).

    The app gets :data:`SECRET`, the dedup ``store`` URL and a Django database in ``workdir``
    (also its working directory), then ``spec.env``, then ``env``. ``workers`` overrides
    ``spec.workers``. Its stdout and stderr go to ``output`` (overwritten) or are discarded.
    Raises ``OSError`` when the server cannot be executed.
    """
    environ = {
        **os.environ,
        "CORTEXBUILD_WEBHOOK_SECRET": SECRET,
        "CORTEXHOOKS_STORE": store,
        "CORTEXHOOKS_DJANGO_DB": str(workdir / "django.sqlite3"),
        **spec.env,
        **(env or {}),
    }
    argv = spec.argv(port, spec.workers if workers is None else workers)
    sink: IO[bytes] | int = output.open("wb") if output else subprocess.DEVNULL
    try:
        return subprocess.Popen(
            argv,
            env=environ,
            cwd=workdir,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    finally:
        if not isinstance(sink, int):
            sink.close()  # the child holds its own copy


def _answers_405(port: int) -> bool:
    conn = http.client.HTTPConnection(HOST, port, timeout=1.0)
    try:
        conn.request("GET", ADAPTER_PATH)
        return conn.getresponse().status == 405
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


def wait_ready(proc: subprocess.Popen[bytes], port: int, timeout: float = READY_TIMEOUT) -> None:
    """Return once the app answers a GET at :data:`ADAPTER_PATH` with 405 (it is loaded).

    Polls every 50 ms for at most ``timeout`` seconds. Raises :class:`ServerError` if ``proc``
    exits first or the app is not ready in time (the caller still owns ``proc``: stop it).
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ServerError(f"server exited with {proc.returncode}")
        if _answers_405(port):
            return
        time.sleep(0.05)  # readiness poll interval, bounded by the deadline
    raise ServerError(f"server not ready within {timeout}s")


def stop(proc: subprocess.Popen[bytes], timeout: float = STOP_TIMEOUT) -> None:
    """Stop the server's whole process group: SIGTERM, then SIGKILL after ``timeout`` seconds.

    Does nothing if it has already exited. Raises ``subprocess.TimeoutExpired`` only if it
    survives SIGKILL for ``timeout`` seconds more.
    """
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout)

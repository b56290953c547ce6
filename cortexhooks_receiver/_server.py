"""Serve any WSGI app on a loopback port in a background thread (stdlib wsgiref, threaded).

A generic server, so it lives at the package's private level: ``cortexhooks serve`` runs the
emulator's API on it, ``listen`` and ``demo`` their receivers. Tests bind port 0 for a free port,
read :attr:`RunningServer.url`, and :meth:`RunningServer.stop` for a clean shutdown.
"""

from __future__ import annotations

import socketserver
import threading
from typing import TYPE_CHECKING, Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

if TYPE_CHECKING:
    from wsgiref.types import WSGIApplication

__all__ = ["RunningServer", "serve_in_thread"]


class _ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True  # a stalled client never keeps the process alive...
    allow_reuse_address = True

    def server_activate(self) -> None:
        super().server_activate()
        self._in_flight = 0
        self._idle = threading.Condition()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._idle:  # counted before its thread starts: stop() cannot miss it
            self._in_flight += 1
        super().process_request(request, client_address)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self._idle:
                self._in_flight -= 1
                self._idle.notify_all()

    def wait_idle(self, timeout: float) -> None:
        """...but a request in flight is answered before the server stops (up to ``timeout``)."""
        with self._idle:
            self._idle.wait_for(lambda: self._in_flight == 0, timeout)


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        return


class RunningServer:
    """A WSGI server running in a daemon thread; a context manager that stops it on exit."""

    def __init__(self, app: WSGIApplication, host: str, port: int) -> None:
        self._server = make_server(
            host, port, app, server_class=_ThreadingWSGIServer, handler_class=_QuietHandler
        )
        self.host = host
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"cortexhooks-wsgi-{self.port}",
            daemon=True,
        )
        self._thread.start()

    def __repr__(self) -> str:
        return f"RunningServer({self.url!r})"

    @property
    def url(self) -> str:
        """``http://host:port`` of the server (IPv6 hosts in brackets)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def stop(self, timeout: float = 5.0) -> None:
        """Stop accepting, let the requests in flight finish, close the socket.

        Waits up to ``timeout`` s for the requests being answered (``listen --max-events``
        stops while its last answer is being written), then for the serving thread.
        """
        self._server.shutdown()
        self._server.wait_idle(timeout)
        self._server.server_close()
        self._thread.join(timeout)

    def wait(self) -> None:
        """Block until the server stops (Ctrl-C raises KeyboardInterrupt here)."""
        while self._thread.is_alive():
            self._thread.join(0.5)

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve_in_thread(app: WSGIApplication, host: str = "127.0.0.1", port: int = 0) -> RunningServer:
    """Start serving ``app`` on ``host:port`` (0: a free port) in a thread; return the handle.

    Raises:
        OSError: the address cannot be bound.
    """
    return RunningServer(app, host, port)

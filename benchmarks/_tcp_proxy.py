"""A TCP proxy that can be cut: the store outage of ``load_faults.py`` for Redis.

Run as ``python benchmarks/_tcp_proxy.py HOST:PORT``: it listens on a free loopback port, prints
``listening <port>`` on stdout, and forwards every connection to ``HOST:PORT``. Commands, one per
line on stdin:

* ``cut <seconds>``: an outage. Every open connection is reset (``SO_LINGER`` 0: the peer sees
  ECONNRESET) and the listening socket is closed, so new connections are refused; after
  ``<seconds>`` it listens on the same port again. Prints ``cut`` once the connections are gone.
* end of input: stop.

Only the processes pointed at the proxy see the outage; the server behind it (a Redis that other
programs share) is never touched. Its own process, so that forwarding never waits for the load
generator's GIL.
"""

from __future__ import annotations

import select
import socket
import struct
import sys
import threading
import time

HOST = "127.0.0.1"
_RESET = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: close() sends RST


class Proxy:
    """Forwards ``127.0.0.1:port`` to ``target``; :meth:`cut` makes an outage."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = 0
        self._listener: socket.socket | None = self._listen()
        self._cut_until = 0.0
        self._lock = threading.Lock()
        self._pairs: set[tuple[socket.socket, socket.socket]] = set()
        self._stopping = False

    def _listen(self) -> socket.socket:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((HOST, self.port))
        listener.listen(128)
        self.port = listener.getsockname()[1]
        return listener

    def serve(self) -> None:
        """Accept and forward until :meth:`stop`; closed while cut, listening again after."""
        while not self._stopping:
            listener = self._listener
            if time.monotonic() < self._cut_until:
                if listener is not None:
                    listener.close()
                    self._listener = None
                time.sleep(0.01)  # the outage's granularity
                continue
            if listener is None:
                listener = self._listener = self._listen()
            ready, _, _ = select.select([listener], [], [], 0.05)
            if ready:
                client, _ = listener.accept()
                self._connect(client)
        if self._listener is not None:
            self._listener.close()

    def _connect(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(self.target, timeout=5)
        except OSError:
            _reset(client)
            return
        upstream.settimeout(None)
        pair = (client, upstream)
        with self._lock:
            self._pairs.add(pair)
        for source, sink in ((client, upstream), (upstream, client)):
            threading.Thread(target=self._pump, args=(pair, source, sink), daemon=True).start()

    def _pump(
        self, pair: tuple[socket.socket, socket.socket], source: socket.socket, sink: socket.socket
    ) -> None:
        try:
            while chunk := source.recv(65536):
                sink.sendall(chunk)
        except OSError:
            pass
        self._drop(pair)

    def _drop(self, pair: tuple[socket.socket, socket.socket]) -> None:
        with self._lock:
            if pair not in self._pairs:
                return
            self._pairs.discard(pair)
        for sock in pair:
            _reset(sock)

    def cut(self, seconds: float) -> None:
        """Reset every connection and refuse new ones for ``seconds``."""
        self._cut_until = time.monotonic() + seconds
        with self._lock:
            pairs = list(self._pairs)
        for pair in pairs:
            self._drop(pair)

    def stop(self) -> None:
        """Stop serving (the serving thread closes the listener)."""
        self._stopping = True
        self.cut(0)


def _reset(sock: socket.socket) -> None:
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RESET)
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()


def main() -> None:
    """Serve the proxy named on the command line; obey stdin's commands (see the module docs)."""
    host, _, port = sys.argv[1].rpartition(":")
    proxy = Proxy((host, int(port)))
    server = threading.Thread(target=proxy.serve, daemon=True)
    server.start()
    print(f"listening {proxy.port}", flush=True)
    for line in sys.stdin:
        command, _, argument = line.strip().partition(" ")
        if command == "cut":
            proxy.cut(float(argument))
            print("cut", flush=True)
    proxy.stop()
    server.join(5)


if __name__ == "__main__":
    main()

"""Requests/s: each adapter under its production server vs. the framework's bare endpoint.

Run: ``.venv/bin/python benchmarks/bench_adapters.py [--requests 2000] [--rounds 3]``

Each app of ``integrations/`` is booted once under its real server (gunicorn with one sync
worker, or uvicorn) on a free loopback port. It serves both the adapter at
``/webhooks/cortexbuild`` (full pipeline: verify, typed parse, memory dedup, dispatch) and a bare
endpoint at ``/bare`` that verifies the way the platform guide's examples do
(``hmac.new(...).hexdigest()`` + ``compare_digest`` + ``json.loads``, answering
``{"received": true}``). One load generator (below: raw HTTP/1.1 over keep-alive sockets from a
few threads, requests pre-built so the generator does little work) sends the same number of
requests to each, in interleaved rounds (the best round of each side is kept), every one a
distinct signed delivery so that the adapter really processes it (no duplicates). The ratio
adapter/bare is printed; the target is >= 0.9. Exits 1 if any request got a non-200 answer.

AWS Lambda has no server to boot: ``integrations/lambda_app.py``'s ``handler`` (the adapter) and
``bare`` (the guide's verification written as a Lambda handler) are called in process with the
same function URL events (payload 2.0), in the same interleaved rounds, and compared in calls/s.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere: integrations/ is not installed

import cortexhooks_receiver as ch  # noqa: E402
from integrations import servers  # noqa: E402

SECRET = servers.SECRET


def build_requests(path: str, count: int, tag: str) -> list[bytes]:
    """Pre-built HTTP/1.1 requests, each a distinct signed delivery (the guide's 259-byte shape)."""
    now = ch.signature.now_ms()
    requests = []
    for n in range(count):
        body = (
            b'{"event":"task.completed","timestamp":%d,"data":{"id":"task-%s-%d","title":'
            b'"Install HVAC ductwork","status":"completed","projectId":"proj_123",'
            b'"completedBy":"user_789"},"companyId":"company_abc","userId":"user_789"}'
            % (now, tag.encode(), n)
        )
        headers = ch.sign(body, SECRET, timestamp=now, event="task.completed")
        headers.setdefault("Content-Type", "application/json")
        head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        head += f"Content-Length: {len(body)}\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
        requests.append(head.encode() + body)
    return requests


class Connection:
    """A keep-alive HTTP/1.1 client socket that reconnects when the server closes."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.sock: socket.socket | None = None
        self.buffer = b""

    def request(self, data: bytes) -> int:
        if self.sock is None:
            self.sock = socket.create_connection(("127.0.0.1", self.port))
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.buffer = b""
        sock = self.sock
        sock.sendall(data)
        while b"\r\n\r\n" not in self.buffer:
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buffer += chunk
        head, _, rest = self.buffer.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split()[1])
        length = 0
        close = False
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"connection" and value.strip().lower() == b"close":
                close = True
        while len(rest) < length:
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            rest += chunk
        self.buffer = rest[length:]
        if close:
            sock.close()
            self.sock = None
        return status


def load(port: int, requests: list[bytes], connections: int) -> tuple[float, int]:
    """Send every request over ``connections`` keep-alive sockets; return (req/s, non-200s)."""
    shares = [requests[i::connections] for i in range(connections)]
    failures = [0] * connections
    barrier = threading.Barrier(connections + 1)

    def run(index: int) -> None:
        conn = Connection(port)
        barrier.wait()
        for data in shares[index]:
            try:
                if conn.request(data) != 200:
                    failures[index] += 1
            except OSError:
                failures[index] += 1
                conn.sock = None

    threads = [threading.Thread(target=run, args=(i,)) for i in range(connections)]
    for thread in threads:
        thread.start()
    barrier.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    return len(requests) / elapsed, sum(failures)


def function_url_events(count: int, tag: str) -> list[dict[str, object]]:
    """Function URL events (payload 2.0), each a distinct signed delivery of the guide's shape."""
    events = []
    for request in build_requests(servers.ADAPTER_PATH, count, tag):
        head, _, body = request.partition(b"\r\n\r\n")
        headers = dict(line.decode().lower().split(": ", 1) for line in head.split(b"\r\n")[1:])
        events.append(
            {
                "version": "2.0",
                "rawPath": servers.ADAPTER_PATH,
                "headers": headers,
                "requestContext": {"http": {"method": "POST", "sourceIp": "192.0.2.1"}},
                "body": body.decode(),
                "isBase64Encoded": False,
            }
        )
    return events


def lambda_row(requests: int, rounds: int) -> tuple[str, float, float, int]:
    """Calls/s of the Lambda adapter and of the bare Lambda handler, best of interleaved rounds."""
    os.environ.setdefault("CORTEXBUILD_WEBHOOK_SECRET", SECRET)
    os.environ["CORTEXHOOKS_STORE"] = "memory://"
    sys.path.insert(0, str(servers.APPS))
    import lambda_app

    def rate(handler: Callable[..., Any], events: list[dict[str, object]]) -> tuple[float, int]:
        began = time.perf_counter()
        statuses = [handler(event, None)["statusCode"] for event in events]
        elapsed = time.perf_counter() - began
        return len(events) / elapsed, sum(status != 200 for status in statuses)

    rate(lambda_app.bare, function_url_events(200, "warm-lb"))
    rate(lambda_app.handler, function_url_events(200, "warm-la"))
    bare = adapter = 0.0
    failed = 0
    for round_ in range(rounds):
        value, fails = rate(lambda_app.bare, function_url_events(requests, f"lb{round_}"))
        bare, failed = max(bare, value), failed + fails
        value, fails = rate(lambda_app.handler, function_url_events(requests, f"la{round_}"))
        adapter, failed = max(adapter, value), failed + fails
    return "aws lambda (in process)", bare, adapter, failed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", help="substring of the target names to run")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for spec in servers.SERVERS:
            if args.only and args.only not in spec.title:
                continue
            port = servers.free_port()
            proc = servers.start(spec, port, Path(tmp), store="memory://", workers=1)
            try:
                servers.wait_ready(proc, port)
                bare_path, adapter_path = servers.BARE_PATH, servers.ADAPTER_PATH
                load(port, build_requests(bare_path, 200, "warm-b"), args.connections)
                load(port, build_requests(adapter_path, 200, "warm-a"), args.connections)
                bare = adapter = 0.0
                failed = 0
                # Interleaved rounds, best of each: one noisy moment does not decide the ratio.
                for round_ in range(args.rounds):
                    rate, fails = load(
                        port,
                        build_requests(bare_path, args.requests, f"b{round_}"),
                        args.connections,
                    )
                    bare, failed = max(bare, rate), failed + fails
                    rate, fails = load(
                        port,
                        build_requests(adapter_path, args.requests, f"a{round_}"),
                        args.connections,
                    )
                    adapter, failed = max(adapter, rate), failed + fails
            finally:
                servers.stop(proc)
            rows.append((spec.title, bare, adapter, failed))
    if not args.only or args.only in "aws lambda (in process)":
        rows.append(lambda_row(args.requests, args.rounds))
    print(f"{'adapter (server)':34} {'bare req/s':>11} {'adapter req/s':>14} {'ratio':>6}  non-200")
    for name, bare, adapter, failed in rows:
        print(f"{name:34} {bare:11.0f} {adapter:14.0f} {adapter / bare:6.2f}  {failed}")
    return 1 if any(row[3] for row in rows) else 0


if __name__ == "__main__":
    raise SystemExit(main())

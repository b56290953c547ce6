"""``cortexhooks listen``: a local verifying receiver that pretty-prints every delivery.

Verification is the library's own (:func:`~cortexhooks_receiver.signature.verify_signature`);
a refused request gets the receiver's 401 and a diagnosis on the console. ``--forward-to``
passes verified deliveries (same body and headers) on to your app and relays its answer. When
whoever reads the console goes away (``listen | head``), the listener stops.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from cortexhooks_receiver.errors import WebhookError
from cortexhooks_receiver.receiver import DEFAULT_PATH
from cortexhooks_receiver.signature import SecretKeys, verify_signature

from ._common import EXIT_OK, CLIError, Console, add_json_flag, add_verbose_flag, resolve_secret
from .diagnose import diagnose

if TYPE_CHECKING:
    from wsgiref.types import StartResponse, WSGIEnvironment

__all__ = ["ListenApp", "register", "run"]

_FORWARDED = ("content-type", "user-agent")


def register(subparsers: Any) -> None:
    """Add the ``listen`` command."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "listen",
        help="run a local verifying receiver that prints each event",
        description="Listen on 127.0.0.1, verify each delivery (signature and timestamp) and "
        "pretty-print it. Refused requests are answered 401 and explained.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=3000, help="port (default 3000; 0 = any)")
    parser.add_argument(
        "--path",
        default=DEFAULT_PATH,
        help=f"webhook path (default {DEFAULT_PATH})",
    )
    parser.add_argument(
        "--secret",
        action="append",
        help="webhook secret; repeat during a rotation (default: $CORTEXBUILD_WEBHOOK_SECRET)",
    )
    parser.add_argument("--tolerance", type=float, default=300.0, help="seconds (default 300)")
    parser.add_argument("--forward-to", metavar="URL", help="forward verified deliveries here")
    parser.add_argument(
        "--max-events", type=int, help="exit after this many requests (default: run until Ctrl-C)"
    )
    parser.add_argument("--max-seconds", type=float, help="exit after this many seconds")
    add_verbose_flag(parser)
    add_json_flag(parser)
    parser.set_defaults(func=run)


class ListenApp:
    """The WSGI app behind ``listen``: verify, print, answer (or forward)."""

    def __init__(
        self,
        secrets: list[str],
        console: Console,
        *,
        path: str,
        tolerance: float,
        json_lines: bool,
        forward_to: str | None = None,
        verbose: bool = False,
    ) -> None:
        self.keys = SecretKeys(secrets)
        self.secrets = secrets
        self.console = console
        self.path = path
        self.tolerance = tolerance
        self.json_lines = json_lines
        self.forward_to = forward_to
        self.verbose = verbose
        self.reader_gone = False
        self.seen: set[str] = set()
        self.count = 0
        self.done = threading.Event()
        self.max_events: int | None = None
        self._lock = threading.Lock()

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        status, body = self._handle(environ)
        payload = json.dumps(body).encode()
        start_response(
            f"{status} {'OK' if status < 400 else 'Error'}",
            [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))],
        )
        return [payload]

    def _handle(self, environ: WSGIEnvironment) -> tuple[int, Any]:
        if environ.get("PATH_INFO") != self.path:
            return 404, {"error": "not_found", "message": f"POST to {self.path}"}
        if environ.get("REQUEST_METHOD") != "POST":
            return 405, {"error": "method_not_allowed", "message": "Only POST is accepted."}
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        body = environ["wsgi.input"].read(length) if length > 0 else b""
        headers = {
            key[5:].replace("_", "-").lower(): str(value)
            for key, value in environ.items()
            if key.startswith("HTTP_")
        }
        headers["content-type"] = str(environ.get("CONTENT_TYPE", ""))
        try:
            verify_signature(body, headers, self.keys, tolerance=self.tolerance)
        except WebhookError as exc:
            self._report(self._refused, body, headers, exc)
            result: tuple[int, Any] = (exc.status, {"error": exc.code, "message": exc.message})
        else:
            result = self._accepted(body, headers)
        with self._lock:
            self.count += 1
            if self.max_events is not None and self.count >= self.max_events:
                self.done.set()
        return result

    def _report(self, write: Callable[..., None], *args: Any) -> None:
        """Print about one request; when nobody reads the console any more, stop listening."""
        try:
            write(*args)
        except BrokenPipeError:
            # The request is still answered; run() then ends the command the way main() ends
            # any command whose reader went away.
            self.reader_gone = True
            self.done.set()

    def _refused(self, body: bytes, headers: dict[str, str], exc: WebhookError) -> None:
        verdict = diagnose(
            body,
            headers.get("x-cortexbuild-signature"),
            headers.get("x-cortexbuild-timestamp"),
            self.secrets,
            now_ms=time.time_ns() // 1_000_000,
            tolerance=self.tolerance,
        )
        if self.json_lines:
            self.console.json(
                {
                    "ok": False,
                    "status": exc.status,
                    "error": exc.code,
                    "problem": verdict.problem,
                    "message": verdict.message,
                    "event": headers.get("x-cortexbuild-event"),
                },
                lines=True,
            )
            return
        self.console.print(f"[{_clock()}] REFUSED {exc.status} {exc.code}: {verdict.message}")
        for line in verdict.findings + (verdict.notes if self.verbose else []):
            self.console.print(f"    - {line}")

    def _accepted(self, body: bytes, headers: dict[str, str]) -> tuple[int, Any]:
        delivery_id = headers.get("x-cortexbuild-delivery-id")
        with self._lock:
            duplicate = delivery_id is not None and delivery_id in self.seen
            if delivery_id is not None:
                self.seen.add(delivery_id)
        try:
            payload: Any = json.loads(body)
        except ValueError:
            payload = body.decode("utf-8", "replace")
        status, answer = 200, {"received": True, **({"duplicate": True} if duplicate else {})}
        if self.forward_to:
            status, answer = self._forward(body, headers)
        self._report(self._print_accepted, headers, payload, status, duplicate)
        return status, answer

    def _print_accepted(
        self, headers: dict[str, str], payload: Any, status: int, duplicate: bool
    ) -> None:
        delivery_id = headers.get("x-cortexbuild-delivery-id")
        event = payload.get("event") if isinstance(payload, dict) else None
        if self.json_lines:
            self.console.json(
                {
                    "ok": True,
                    "status": status,
                    "event": event,
                    "deliveryId": delivery_id,
                    "webhookId": headers.get("x-cortexbuild-webhook-id"),
                    "duplicate": duplicate,
                    "payload": payload,
                },
                lines=True,
            )
        else:
            tag = " (duplicate delivery id)" if duplicate else ""
            self.console.print(
                f"[{_clock()}] OK {event}  delivery={delivery_id}  "
                f"webhook={headers.get('x-cortexbuild-webhook-id')}{tag}"
            )
            pretty = json.dumps(payload, indent=2, ensure_ascii=False)
            self.console.print("\n".join("    " + line for line in pretty.splitlines()))
            if self.forward_to:
                self.console.print(f"    -> forwarded to {self.forward_to}: {status}")

    def _forward(self, body: bytes, headers: dict[str, str]) -> tuple[int, Any]:
        import httpx

        assert self.forward_to is not None
        passed = {
            k: v for k, v in headers.items() if k.startswith("x-cortexbuild-") or k in _FORWARDED
        }
        try:
            response = httpx.post(
                self.forward_to, content=body, headers=passed, timeout=10, follow_redirects=False
            )
        except httpx.HTTPError as exc:
            return 502, {"error": "forward_failed", "message": type(exc).__name__}
        try:
            answer: Any = response.json()
        except ValueError:
            answer = {"forwardedStatus": response.status_code}
        return response.status_code, answer


def _clock() -> str:
    return datetime.now(UTC).strftime("%H:%M:%S")


def run(args: argparse.Namespace, console: Console) -> int:
    """Serve until Ctrl-C, ``--max-events`` or ``--max-seconds``."""
    from cortexhooks_receiver.emulator.server import serve_in_thread

    secrets = resolve_secret(args.secret)
    app = ListenApp(
        secrets,
        console,
        path=args.path,
        tolerance=args.tolerance,
        json_lines=args.json,
        forward_to=args.forward_to,
        verbose=args.verbose,
    )
    app.max_events = args.max_events
    try:
        server = serve_in_thread(app, args.host, args.port)
    except OSError as exc:
        raise CLIError(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}") from None
    url = f"{server.url}{args.path}"
    if args.json:
        console.json({"listening": url}, lines=True)
    else:
        console.print(f"Listening on {url} (Ctrl-C to stop)")
    try:
        app.done.wait(args.max_seconds)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    if app.reader_gone:
        raise BrokenPipeError  # main() ends every command whose reader went away the same way
    return EXIT_OK

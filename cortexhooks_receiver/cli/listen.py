"""``cortexhooks listen``: a local receiver that pretty-prints every delivery it answers.

It is an ordinary :class:`~cortexhooks_receiver.Receiver` (see :mod:`._listen_receiver`) behind
the WSGI adapter, so it answers exactly what a receiver with the same secrets would: every check of
the pipeline, dedup in the bounded memory store, the body cap. It writes a receipt of every request
to a memory journal (bodies included), and each answer is printed as one record made from its
receipt; a refusal is explained with the diagnosis of ``cortexhooks verify``. ``--forward-to``
passes verified deliveries (same body and headers) on to your app and relays its answer. When
whoever reads the console goes away (``listen | head``), the listener stops.
"""

from __future__ import annotations

import argparse
import json
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from cortexhooks_receiver.integrations.wsgi import WebhookApp
from cortexhooks_receiver.receiver import DEFAULT_PATH, DEFAULT_RETENTION
from cortexhooks_receiver.signature import DEFAULT_TOLERANCE

from ._common import (
    EXIT_OK,
    CLIError,
    Console,
    add_json_flag,
    add_verbose_flag,
    quiet_logger,
    resolve_secret,
)
from ._listen_receiver import ListenReceiver, Record

__all__ = ["ListenConsole", "listen_app", "read_tenants", "register", "run"]


def register(subparsers: Any) -> None:
    """Add the ``listen`` command."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "listen",
        help="run a local verifying receiver that prints each event",
        description="Listen on 127.0.0.1 with a Receiver (the library's own checks, dedup and "
        "body cap) and pretty-print each delivery. Refused requests get the receiver's answer "
        "and are explained.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=3000, help="port (default 3000; 0 = any)")
    parser.add_argument(
        "--path",
        default=DEFAULT_PATH,
        help=f"webhook path (default {DEFAULT_PATH})",
    )
    secrets = parser.add_mutually_exclusive_group()
    secrets.add_argument(
        "--secret",
        action="append",
        help="webhook secret; repeat during a rotation (default: $CORTEXBUILD_WEBHOOK_SECRET)",
    )
    secrets.add_argument(
        "--tenants",
        metavar="FILE",
        help="one endpoint for many webhooks: a JSON object of webhook id -> secret (or a list, "
        "newest first); each request is verified with the secret of its X-CortexBuild-Webhook-Id",
    )
    parser.add_argument(
        "--tolerance",
        type=float,
        default=DEFAULT_TOLERANCE,
        help=f"seconds the timestamp header may be off (default {DEFAULT_TOLERANCE:g})",
    )
    parser.add_argument(
        "--retention",
        type=float,
        default=DEFAULT_RETENTION,
        help="seconds deliveries are remembered for dedup, and the maximum age of a body's "
        f"signed timestamp (default {DEFAULT_RETENTION})",
    )
    parser.add_argument("--forward-to", metavar="URL", help="forward verified deliveries here")
    parser.add_argument(
        "--max-events", type=int, help="exit after this many requests (default: run until Ctrl-C)"
    )
    parser.add_argument("--max-seconds", type=float, help="exit after this many seconds")
    add_verbose_flag(parser)
    add_json_flag(parser)
    parser.set_defaults(func=run)


class ListenConsole:
    """Prints the record of each answered request; says when listening should stop.

    Text (one line, then the pretty payload or the diagnosis) or one JSON line per request.
    ``done`` is set after ``max_events`` records, or as soon as nobody reads the console any
    more (``reader_gone``): the request at hand is still answered.
    """

    def __init__(
        self,
        console: Console,
        *,
        json_lines: bool = False,
        verbose: bool = False,
        max_events: int | None = None,
    ) -> None:
        self.console = console
        self.json_lines = json_lines
        self.verbose = verbose
        self.max_events = max_events
        self.count = 0
        self.reader_gone = False
        self.done = threading.Event()
        self._lock = threading.Lock()  # one request's lines stay together

    def __call__(self, record: Record) -> None:
        """Print ``record``. Never raises: a reader that went away sets ``reader_gone``."""
        write: Callable[[Record], None] = self._json if self.json_lines else self._text
        with self._lock:
            try:
                write(record)
            except BrokenPipeError:
                # run() then ends the command the way main() ends any whose reader went away.
                self.reader_gone = True
                self.done.set()
            self.count += 1
            if self.max_events is not None and self.count >= self.max_events:
                self.done.set()

    def _text(self, record: Record) -> None:
        print_ = self.console.print
        clock = record.received_at.strftime("%H:%M:%S")
        if not record.accepted:
            print_(f"[{clock}] REFUSED {record.status} {record.code}: {record.message}")
            for line in record.findings + (record.notes if self.verbose else ()):
                print_(f"    - {line}")
            return
        tag = " (duplicate delivery)" if record.duplicate else ""
        print_(
            f"[{clock}] OK {record.event}  delivery={record.delivery_id}  "
            f"webhook={record.webhook_id}{tag}"
        )
        pretty = json.dumps(record.payload, indent=2, ensure_ascii=False)
        print_("\n".join("    " + line for line in pretty.splitlines()))
        if record.forwarded_to is not None:
            print_(f"    -> forwarded to {record.forwarded_to}: {record.status}")

    def _json(self, record: Record) -> None:
        line: dict[str, Any]
        if record.accepted:
            line = {
                "ok": True,
                "status": record.status,
                "event": record.event,
                "deliveryId": record.delivery_id,
                "webhookId": record.webhook_id,
                "duplicate": record.duplicate,
                "payload": record.payload,
            }
        else:
            line = {
                "ok": False,
                "status": record.status,
                "error": record.code,
                "problem": record.problem,
                "message": record.message,
                "event": record.event,
            }
        self.console.json(line, lines=True)


def listen_app(
    secrets: list[str],
    console: ListenConsole,
    *,
    path: str = DEFAULT_PATH,
    tolerance: float = DEFAULT_TOLERANCE,
    retention: float = DEFAULT_RETENTION,
    forward_to: str | None = None,
    now: Callable[[], float] | None = None,
    tenants: Mapping[str, str | Sequence[str]] | None = None,
) -> WebhookApp:
    """Return listen's WSGI app: the WSGI adapter serving a receiver that reports to ``console``.

    Other paths than ``path`` are answered 404 by the adapter (and not printed).

    Raises:
        ConfigurationError: a secret, tolerance or retention a Receiver refuses.
        ImportError: ``forward_to`` is given and httpx (the ``cli`` extra) is missing.
    """
    receiver = ListenReceiver(
        secrets,
        console,
        tolerance=tolerance,
        retention=retention,
        forward_to=forward_to,
        now=now,
        tenants=tenants,
    )
    return WebhookApp(receiver, path=path)


def read_tenants(path: str) -> dict[str, str | list[str]]:
    """Read ``--tenants``: a JSON object of webhook id -> secret, or a list of them.

    Raises:
        CLIError: the file cannot be read, is not such an object, or is empty.
    """
    try:
        with open(path, encoding="utf-8") as file:
            tenants = json.load(file)
    except (OSError, ValueError) as exc:
        raise CLIError(f"cannot read the tenants file {path}: {exc}") from None
    if not isinstance(tenants, dict) or not tenants:
        raise CLIError(
            f"{path} must hold a JSON object of webhook id -> secret (or a list of secrets, "
            'newest first), e.g. {"webhook-123": "whsec_..."}'
        )
    for webhook_id, secret in tenants.items():
        listed = [secret] if isinstance(secret, str) else secret
        if (
            not isinstance(listed, list)
            or not listed
            or not all(isinstance(item, str) and item for item in listed)
        ):
            raise CLIError(
                f"{path}: the secret of {webhook_id!r} is not a string or a list of them"
            )
    return tenants


def run(args: argparse.Namespace, console: Console) -> int:
    """Serve until Ctrl-C, ``--max-events`` or ``--max-seconds``.

    Raises:
        CLIError: no secret (nor ``--tenants``), a bad tenants file, or the address cannot be
            bound.
        ConfigurationError: a secret, tolerance or retention a Receiver refuses.
        BrokenPipeError: the reader of the console went away (main() ends quietly, exit 141).
    """
    from cortexhooks_receiver._server import serve_in_thread

    tenants = read_tenants(args.tenants) if args.tenants else None
    secrets = [] if tenants is not None else resolve_secret(args.secret)
    printer = ListenConsole(
        console, json_lines=args.json, verbose=args.verbose, max_events=args.max_events
    )
    app = listen_app(
        secrets,
        printer,
        path=args.path,
        tolerance=args.tolerance,
        retention=args.retention,
        forward_to=args.forward_to,
        tenants=tenants,
    )
    try:
        server = serve_in_thread(app, args.host, args.port)
    except OSError as exc:
        raise CLIError(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}") from None
    url = f"{server.url}{args.path}"
    # The console says what the receiver would log (its refusals): nothing twice on stderr.
    with quiet_logger("cortexhooks_receiver"):
        try:
            if args.json:
                console.json({"listening": url}, lines=True)
            else:
                console.print(f"Listening on {url} (Ctrl-C to stop)")
            printer.done.wait(args.max_seconds)
        except KeyboardInterrupt:
            pass
        finally:
            server.stop()
    if printer.reader_gone:
        raise BrokenPipeError  # main() ends every command whose reader went away the same way
    return EXIT_OK

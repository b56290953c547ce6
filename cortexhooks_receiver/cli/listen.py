"""``cortexhooks listen``: a local receiver that pretty-prints every delivery it answers.

It is an ordinary :class:`~cortexhooks_receiver.Receiver` (see :mod:`._listen_receiver`) behind
the WSGI adapter, so it answers exactly what a receiver with the same secrets would: every check of
the pipeline, dedup in the bounded memory store, the body cap. It writes a receipt of every request
to a memory journal (bodies included), and each answer is printed as one record made from its
receipt; a refusal is explained with the diagnosis of ``cortexhooks verify``. ``--forward-to``
passes verified deliveries (same body and headers) on to your app and relays its answer. When
whoever reads the console goes away (``listen | head``), the listener stops.

The same port serves the inspector at ``/`` (:mod:`cortexhooks_receiver.inspector`): every
request as it arrives, its diagnosis and signature check step by step, re-sending to the
forward target, ``curl`` and pytest forms, and the session as JSON lines (``--load FILE``
shows a saved one). ``--no-inspector`` serves the webhook path alone.
"""

from __future__ import annotations

import argparse
import json
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from cortexhooks_receiver.errors import ConfigurationError
from cortexhooks_receiver.inspector import Entry, InspectorApp, Session, typed_fields
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

__all__ = [
    "RESEND_CLIENT",
    "ListenConsole",
    "entry_of",
    "inspected_app",
    "listen_app",
    "read_tenants",
    "register",
    "run",
]

RESEND_CLIENT = "inspector-resend:"
"""The ``client`` of a request re-sent from the inspector, followed by the entry's id."""


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
    parser.add_argument(
        "--load",
        metavar="FILE",
        help="show a session exported from the inspector (JSON lines) before the new requests; "
        "without a secret, only the saved session is shown",
    )
    parser.add_argument(
        "--no-inspector",
        action="store_true",
        help="do not serve the inspector page at / (the webhook path alone)",
    )
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
    console: Callable[[Record], None],
    *,
    path: str = DEFAULT_PATH,
    tolerance: float = DEFAULT_TOLERANCE,
    retention: float = DEFAULT_RETENTION,
    forward_to: str | None = None,
    now: Callable[[], float] | None = None,
    tenants: Mapping[str, str | Sequence[str]] | None = None,
) -> WebhookApp:
    """Return listen's WSGI app: the WSGI adapter serving a receiver that reports to ``console``.

    ``console`` is any callable given each :class:`Record` (a :class:`ListenConsole`).

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


def entry_of(record: Record) -> Entry:
    """Return the inspector's entry of ``record`` (no secret and no expected signature in it)."""
    resent_from = None
    client = record.client or ""
    if client.startswith(RESEND_CLIENT) and client[len(RESEND_CLIENT) :].isdigit():
        resent_from = int(client[len(RESEND_CLIENT) :])
    typed = record.typed
    return Entry(
        received_at=record.received_at,
        status=record.status,
        code=record.code,
        event=record.event,
        delivery_id=record.delivery_id,
        webhook_id=record.webhook_id,
        duplicate=record.duplicate,
        problem=record.problem,
        message=record.message,
        findings=record.findings,
        checks=record.checks,
        headers=record.headers,
        body=None if record.body is None else record.body.decode("utf-8", "replace"),
        event_class=None if typed is None else type(typed).__name__,
        fields=() if typed is None else typed_fields(typed),
        answer=record.answer.decode("utf-8", "replace"),
        forwarded_to=record.forwarded_to,
        resent_from=resent_from,
    )


def inspected_app(
    app: WebhookApp | None,
    session: Session,
    *,
    bound_host: str = "127.0.0.1",
    webhook_url: str = "",
    forward_to: str | None = None,
    source: str | None = None,
) -> InspectorApp:
    """Return the inspector in front of listen's ``app`` (``None``: a saved session alone).

    A re-send runs the entry through ``app``'s receiver again (fresh timestamp, same body and
    delivery id), which forwards it: it is offered only with ``forward_to``. The receiver must
    report its records into ``session`` (through :func:`entry_of`).
    """
    resend = None
    if app is not None and forward_to is not None:
        receiver = app.receiver
        if not isinstance(receiver, ListenReceiver):
            raise ConfigurationError("listen's inspector needs listen's own receiver")

        def resend(entry: Entry) -> Entry:
            client = f"{RESEND_CLIENT}{entry.id}"
            receiver.resend((entry.body or "").encode("utf-8"), dict(entry.headers), client)
            for newer in session.entries(entry.id):
                if newer.resent_from == entry.id:
                    return newer
            raise ConfigurationError("the re-sent request left no record")  # pragma: no cover

    return InspectorApp(
        session,
        webhook_app=app,
        bound_host=bound_host,
        webhook_url=webhook_url,
        resend=resend,
        forward_to=forward_to,
        source=source,
    )


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
        CLIError: no secret (nor ``--tenants``, nor ``--load``), a bad tenants or session file,
            a webhook ``--path`` that would hide the inspector, or the address cannot be bound.
        ConfigurationError: a secret, tolerance or retention a Receiver refuses.
        BrokenPipeError: the reader of the console went away (main() ends quietly, exit 141).
    """
    from cortexhooks_receiver._server import serve_in_thread

    tenants = read_tenants(args.tenants) if args.tenants else None
    session = Session()
    if args.load:
        try:
            session.extend(Session.load(args.load))
        except ConfigurationError as exc:
            raise CLIError(str(exc)) from None
    try:
        secrets = [] if tenants is not None else resolve_secret(args.secret)
    except CLIError:
        if not args.load:
            raise
        secrets = None  # a saved session alone
    if not args.no_inspector and args.path.rstrip("/") in ("", "/_inspector"):
        raise CLIError("the inspector is served at /: give the webhook another --path")
    printer = ListenConsole(
        console, json_lines=args.json, verbose=args.verbose, max_events=args.max_events
    )

    def report(record: Record) -> None:
        session.add(entry_of(record))
        printer(record)

    app = (
        None
        if secrets is None
        else listen_app(
            secrets,
            report,
            path=args.path,
            tolerance=args.tolerance,
            retention=args.retention,
            forward_to=args.forward_to,
            tenants=tenants,
        )
    )
    page = inspected_app(
        app,
        session,
        bound_host=args.host,
        forward_to=args.forward_to,
        source=args.load,
    )
    with_page = app is None or not args.no_inspector
    served: WebhookApp | InspectorApp = page if app is None or with_page else app
    try:
        server = serve_in_thread(served, args.host, args.port)
    except OSError as exc:
        raise CLIError(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}") from None
    page.webhook_url = "" if app is None else f"{server.url}{args.path}"
    url = f"{server.url}{args.path}"
    # The console says what the receiver would log (its refusals): nothing twice on stderr.
    with quiet_logger("cortexhooks_receiver"):
        try:
            inspector = f"{server.url}/" if with_page else None
            if args.json:
                line: dict[str, Any] = {"listening": url if app is not None else None}
                if inspector is not None:
                    line["inspector"] = inspector
                console.json(line, lines=True)
            else:
                if app is not None:
                    console.print(f"Listening on {url} (Ctrl-C to stop)")
                if inspector is not None:
                    console.print(f"Inspector on {inspector}")
            printer.done.wait(args.max_seconds)
        except KeyboardInterrupt:
            pass
        finally:
            server.stop()
    if printer.reader_gone:
        raise BrokenPipeError  # main() ends every command whose reader went away the same way
    return EXIT_OK

"""``cortexhooks demo``: the whole loop, end to end over real loopback HTTP, in a few seconds.

It starts the emulator (management API on a free port) and a :class:`~cortexhooks_receiver.Receiver`
(embedded SQLite dedup store in a temporary directory, served by the WSGI adapter), registers a
webhook through the management API, emits every catalog event, and adds three tricky cases:

* one delivery whose handler fails once: answered 500, retried on the schedule (accelerated by
  ``--time-scale``), then processed;
* a tampered body sent with a genuine signature: refused with 401 ``signature_mismatch``;
* a replay of a delivered event (same body and delivery id, fresh timestamp): answered 200
  ``duplicate`` and not processed again.

It prints a table of outcomes and exits 0 only when every outcome is the expected one.
"""

from __future__ import annotations

import argparse
import json
import secrets
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import msgspec

from cortexhooks_receiver.receiver import DEFAULT_PATH

from ._common import EXIT_FAILED, EXIT_OK, Console, add_json_flag, quiet_logger

if TYPE_CHECKING:
    from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

__all__ = ["DemoOutcome", "register", "run", "run_demo"]

FLAKY_ID: Final = "inv-demo-flaky"
WEBHOOK_PATH: Final = DEFAULT_PATH


class DemoOutcome(msgspec.Struct, frozen=True, rename="camel"):
    """One row of the demo's table: an attempt and whether it went as expected."""

    case: str
    event: str
    delivery_id: str
    attempt: int
    status: int | None
    result: str
    expected: bool


def register(subparsers: Any) -> None:
    """Add the ``demo`` command."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "demo",
        help="run emulator + receiver end to end and print the outcomes",
        description="Start the emulator and a receiver on loopback ports, send every event type "
        "plus a tampered one, a duplicate and one whose handler fails then succeeds on retry, "
        "and print what happened. Exit 0 when every outcome is as expected.",
    )
    parser.add_argument(
        "--time-scale",
        type=float,
        default=600.0,
        help="speed of the retry schedule (default 600: the 1-minute retry takes 0.1 s)",
    )
    add_json_flag(parser)
    parser.set_defaults(func=run)


class _LateApp:
    """A WSGI app whose real app is set once the webhook (and so the secret) exists."""

    def __init__(self) -> None:
        self.app: WSGIApplication | None = None

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if self.app is None:
            start_response("503 Service Unavailable", [("Content-Type", "application/json")])
            return [b'{"error":"starting"}']
        return self.app(environ, start_response)


def run(args: argparse.Namespace, console: Console) -> int:
    """Run the demo and print the table (or JSON)."""
    ok, outcomes, elapsed = run_demo(time_scale=args.time_scale)
    if args.json:
        console.json({"ok": ok, "elapsedSeconds": round(elapsed, 3), "outcomes": outcomes})
    else:
        console.table(
            ["CASE", "EVENT", "ATTEMPT", "STATUS", "RESULT", "AS EXPECTED"],
            [
                (
                    o.case,
                    o.event,
                    o.attempt,
                    o.status if o.status is not None else "-",
                    o.result,
                    "yes" if o.expected else "NO",
                )
                for o in outcomes
            ],
        )
        deliveries = len({o.delivery_id for o in outcomes})
        verdict = "all as expected" if ok else "SOME OUTCOMES WERE NOT AS EXPECTED"
        console.print()
        console.print(
            f"{deliveries} deliveries, {len(outcomes)} attempts: {verdict} ({elapsed:.1f} s)"
        )
    return EXIT_OK if ok else EXIT_FAILED


def run_demo(*, time_scale: float = 600.0) -> tuple[bool, list[DemoOutcome], float]:
    """Run the end-to-end demo; return (all as expected, the outcomes, elapsed seconds).

    Raises:
        OSError: a loopback port cannot be bound.
    """
    import httpx

    from cortexhooks_receiver import Receiver
    from cortexhooks_receiver._server import serve_in_thread
    from cortexhooks_receiver.client import ManagementClient
    from cortexhooks_receiver.emulator import Emulator
    from cortexhooks_receiver.events import CATALOG
    from cortexhooks_receiver.events.samples import sample_data
    from cortexhooks_receiver.integrations.wsgi import WebhookApp
    from cortexhooks_receiver.sender import URLPolicy, js_dumps

    started = time.monotonic()
    token = secrets.token_urlsafe(16)
    calls: Counter[str] = Counter()
    failed_once = threading.Event()
    outcomes: list[DemoOutcome] = []
    with (
        tempfile.TemporaryDirectory(prefix="cortexhooks-demo-") as tmp,
        quiet_logger("cortexhooks_receiver"),  # the flaky handler fails on purpose
    ):
        late = _LateApp()
        emulator = Emulator(
            Path(tmp) / "emulator.db",
            token=token,
            time_scale=time_scale,
            policy=URLPolicy(allow_loopback=True),  # the demo's receiver runs on this machine
        )
        with (
            serve_in_thread(late) as hook_server,
            serve_in_thread(emulator.app) as api_server,
            ManagementClient(api_server.url, token) as client,
        ):
            hook_url = hook_server.url + WEBHOOK_PATH
            registration = client.register(hook_url, ["*"], "cortexhooks demo")
            receiver = Receiver(
                secret=registration.secret, store=f"sqlite:///{Path(tmp) / 'dedup.db'}"
            )

            @receiver.on("*")
            def record(event: Any) -> None:
                if getattr(event.data, "id", None) == FLAKY_ID and not failed_once.is_set():
                    failed_once.set()
                    raise RuntimeError("simulated handler failure (the retry will succeed)")
                calls[str(event.delivery_id)] += 1

            late.app = WebhookApp(receiver, path=WEBHOOK_PATH)
            try:
                for spec in CATALOG:
                    client.emit(spec.name)
                flaky_data = {**sample_data("invoice.paid"), "id": FLAKY_ID}
                flaky = client.emit("invoice.paid", flaky_data).deliveries[0].delivery_id
                emulator.drain()
                records = client.deliveries(registration.webhook_id)
                for record_ in records:
                    is_flaky = record_.delivery_id == flaky
                    statuses = [a.status for a in record_.attempts]
                    want = [500, 200] if is_flaky else [200]
                    for attempt in record_.attempts:
                        if attempt.status == 200:
                            result = "processed"
                        elif attempt.status == 500:
                            result = "handler failed, retried"
                        else:
                            result = attempt.error or attempt.outcome
                        outcomes.append(
                            DemoOutcome(
                                case="retry" if is_flaky else "event",
                                event=record_.event,
                                delivery_id=record_.delivery_id,
                                attempt=attempt.number,
                                status=attempt.status,
                                result=result,
                                expected=statuses == want
                                and record_.state == "succeeded"
                                and calls[record_.delivery_id] == 1,
                            )
                        )
                first = records[0]
                outcomes.append(_tampered(emulator, first.delivery_id, hook_url, js_dumps, httpx))
                replay = emulator.replay(first.delivery_id)
                try:
                    answer = json.loads(replay.response_body)
                except ValueError:
                    answer = {}
                duplicate = replay.status == 200 and answer.get("duplicate") is True
                outcomes.append(
                    DemoOutcome(
                        case="duplicate",
                        event=first.event,
                        delivery_id=first.delivery_id,
                        attempt=replay.number,
                        status=replay.status,
                        result="duplicate, not processed again" if duplicate else replay.outcome,
                        expected=duplicate and calls[first.delivery_id] == 1,
                    )
                )
                expected_events = len(CATALOG) + 1
                complete = len(records) == expected_events
            finally:
                late.app = None
                receiver.store.close()
                emulator.close()
    ok = complete and bool(outcomes) and all(o.expected for o in outcomes)
    return ok, outcomes, time.monotonic() - started


def _tampered(emulator: Any, delivery_id: str, url: str, js_dumps: Any, httpx: Any) -> DemoOutcome:
    """Resend a delivered body with one field changed and the original signature."""
    from cortexhooks_receiver.signature import compute_signature

    row = emulator.db.delivery(delivery_id)
    hook = emulator.db.webhook(row.webhook_id)
    payload = json.loads(row.body)
    payload["data"]["id"] = str(payload["data"].get("id", "")) + "-tampered"
    forged = js_dumps(payload)
    headers = {
        "Content-Type": "application/json",
        "X-CortexBuild-Event": row.event,
        "X-CortexBuild-Signature": compute_signature(row.body, hook.secret),
        "X-CortexBuild-Timestamp": str(time.time_ns() // 1_000_000),
        "X-CortexBuild-Webhook-Id": row.webhook_id,
        "X-CortexBuild-Delivery-Id": "dlv_tampered_" + secrets.token_hex(8),
    }
    response = httpx.post(url, content=forged, headers=headers, timeout=10)
    try:
        code = response.json().get("error")
    except ValueError:
        code = None
    return DemoOutcome(
        case="tampered",
        event=row.event,
        delivery_id=headers["X-CortexBuild-Delivery-Id"],
        attempt=1,
        status=response.status_code,
        result=f"refused: {code}" if code else f"HTTP {response.status_code}",
        expected=response.status_code == 401 and code == "signature_mismatch",
    )

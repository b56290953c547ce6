"""What each option of the Receiver costs on ``Receiver.handle``, side by side with none.

Every row processes the same stream of distinct, correctly signed 259-byte deliveries (the
guide's task payload, each with its own id; every request carries an ``X-CortexBuild-Webhook-Id``
and an ``X-Forwarded-For`` header, so the rows differ by the option only) through a Receiver on
the memory store with one no-op handler. The headers come as a WSGI environ, the way the Flask,
Django and WSGI adapters hand them to the receiver (every header of the request in it):

* none: the baseline;
* filters: the handler registered with ``project_ids``, ``company_ids`` and ``where``, all
  matching (so the handler still runs: the cost is the filter's, not skipped work);
* hooks: an ``on_error`` and an ``on_rejected`` hook registered (nothing fails: their cost on
  the path of a processed delivery);
* secret_for (cached): the secret chosen by webhook id, every lookup but the first a cache hit;
* rate limit: ``rate_limit`` (one bucket), then with ``rate_limit_per_client`` too (two
  buckets), on the memory backend, never exceeded;
* trusted proxies: the client read from ``X-Forwarded-For`` through a trusted proxy;
* everything at once.

Target (issue 13): each option under 15 % over none. Two measures:

* time: ``python benchmarks/bench_options.py``: the passes of every row interleaved, best of
  REPEAT (noisy on a shared machine);
* instructions: ``python benchmarks/bench_options.py --instructions``: valgrind's callgrind
  counts the instructions of N deliveries minus those of 0 (start-up, imports and set-up cancel
  out), per delivery: steady where time is not.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    GUIDE_SECRET,
    environment,
    instructions_per_delivery,
    print_table,
    redis_reachable,
)
from bench_receiver import NOW_MS, REDIS_URL, deliveries

import cortexhooks_receiver as ch
from cortexhooks_receiver.ratelimit import MemoryBuckets
from cortexhooks_receiver.stores import MemoryStore

COUNT = int(os.environ.get("BENCH_DELIVERIES", "20000"))
REPEAT = int(os.environ.get("BENCH_REPEAT", "7"))
CALLGRIND_COUNT = int(os.environ.get("BENCH_CALLGRIND_DELIVERIES", "2000"))
WEBHOOK_ID = "webhook-1234567890-abc123"
PEER = "10.0.0.7"  # a trusted proxy in the trusted-proxies row; an ordinary client elsewhere
FORWARDED = "203.0.113.7"
UNLIMITED = "1000000000/s"  # never exceeded: the rows measure the check, not refusals

Stream = list[tuple[bytes, dict[str, Any]]]
Setup = Callable[[], tuple[ch.Receiver, dict[str, Any]]]


def _receiver(**options: Any) -> ch.Receiver:
    if "secret_for" not in options:
        options["secret"] = GUIDE_SECRET
    return ch.Receiver(
        store=MemoryStore(), now=lambda: NOW_MS / 1000, router=ch.Router(), **options
    )


def _noop(event: Any) -> None:
    return None


def none() -> tuple[ch.Receiver, dict[str, Any]]:
    receiver = _receiver()
    receiver.on("task.completed")(_noop)
    return receiver, {"client": PEER}


def filters() -> tuple[ch.Receiver, dict[str, Any]]:
    receiver = _receiver()
    receiver.on(
        "task.completed",
        project_ids={"proj-456", "proj-1"},
        company_ids={"comp-1"},
        where=lambda event: event.user_id is not None,
    )(_noop)
    return receiver, {"client": PEER}


def hooks() -> tuple[ch.Receiver, dict[str, Any]]:
    receiver, kwargs = none()
    receiver.on_error(lambda event, exc: None)
    receiver.on_rejected(lambda error, request: None)
    return receiver, kwargs


def secret_for() -> tuple[ch.Receiver, dict[str, Any]]:
    receiver = _receiver(secret_for={WEBHOOK_ID: GUIDE_SECRET}.get)
    receiver.on("task.completed")(_noop)
    return receiver, {"client": PEER}


def rate_limit() -> tuple[ch.Receiver, dict[str, Any]]:
    # The buckets keep their own clock (time.monotonic) as in production: the receiver's test
    # clock, a Python lambda here, would be charged to the limiter.
    receiver = _receiver(rate_limit=UNLIMITED, rate_limit_store=MemoryBuckets())
    receiver.on("task.completed")(_noop)
    return receiver, {"client": PEER}


def rate_limit_per_client() -> tuple[ch.Receiver, dict[str, Any]]:
    receiver = _receiver(
        rate_limit=UNLIMITED, rate_limit_per_client=UNLIMITED, rate_limit_store=MemoryBuckets()
    )
    receiver.on("task.completed")(_noop)
    return receiver, {"client": PEER}


def trusted_proxies() -> tuple[ch.Receiver, dict[str, Any]]:
    receiver = _receiver(trusted_proxies=["10.0.0.0/8"])
    receiver.on("task.completed")(_noop)
    return receiver, {"client": PEER}


def everything() -> tuple[ch.Receiver, dict[str, Any]]:
    receiver = _receiver(
        secret_for={WEBHOOK_ID: GUIDE_SECRET}.get,
        rate_limit=UNLIMITED,
        rate_limit_per_client=UNLIMITED,
        rate_limit_store=MemoryBuckets(),
        trusted_proxies=["10.0.0.0/8"],
    )
    receiver.on("task.completed", project_ids={"proj-456"}, company_ids={"comp-1"})(_noop)
    receiver.on_error(lambda event, exc: None)
    receiver.on_rejected(lambda error, request: None)
    return receiver, {"client": PEER}


ROWS: dict[str, tuple[str, Setup]] = {
    "none": ("no option (baseline)", none),
    "filters": ("filters: project_ids + company_ids + where", filters),
    "hooks": ("hooks: on_error + on_rejected", hooks),
    "secret_for": ("secret_for (cached)", secret_for),
    "rate_limit": ("rate_limit (memory, one bucket)", rate_limit),
    "rate_limit_per_client": ("rate_limit + rate_limit_per_client (two)", rate_limit_per_client),
    "trusted_proxies": ("trusted_proxies (X-Forwarded-For)", trusted_proxies),
    "everything": ("all of the above", everything),
}


def rate_limit_redis() -> tuple[ch.Receiver, dict[str, Any]]:
    """The two buckets on Redis: one more round trip per delivery (timing only)."""
    store = f"{REDIS_URL}?prefix=bench-{uuid.uuid4().hex}:"
    receiver = _receiver(
        rate_limit=UNLIMITED, rate_limit_per_client=UNLIMITED, rate_limit_store=store
    )
    receiver.on("task.completed")(_noop)
    return receiver, {"client": PEER}


def stream_of(count: int) -> Stream:
    """The deliveries, each with the webhook id and forwarded-for headers every row sends.

    As the WSGI adapters pass them: the request's environ (CGI names, the server's own keys).
    """
    return [
        (body, environ_of({**headers, "X-CortexBuild-Webhook-Id": WEBHOOK_ID}))
        for body, headers in deliveries(count)
    ]


def environ_of(headers: dict[str, str]) -> dict[str, Any]:
    """A WSGI environ for a POST with ``headers`` (as a server builds it)."""
    environ: dict[str, Any] = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/webhooks/cortexbuild",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": PEER,
        "HTTP_HOST": "127.0.0.1:8000",
        "HTTP_USER_AGENT": "CortexBuild-Webhooks/1.0",
        "HTTP_X_FORWARDED_FOR": FORWARDED,
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
    }
    for name, value in headers.items():
        key = name.upper().replace("-", "_")
        environ[key if key == "CONTENT_TYPE" else "HTTP_" + key] = value
    environ["CONTENT_LENGTH"] = "259"
    return environ


def one_pass(setup: Setup, stream: Stream) -> float:
    """Seconds per delivery of one pass over ``stream`` through a fresh receiver."""
    receiver, kwargs = setup()
    handle = receiver.handle
    started = time.perf_counter()
    for body, headers in stream:
        handle(body, headers, **kwargs)
    elapsed = time.perf_counter() - started
    outcome = handle(*stream[0], **kwargs)
    assert outcome.duplicate, outcome  # every delivery was processed, the first is remembered
    return elapsed / len(stream)


def timing() -> None:
    print(f"# Receiver.handle with each option, {COUNT} deliveries per pass, best of {REPEAT}")
    print(environment())
    stream = stream_of(COUNT)
    timed = dict(ROWS)
    if redis_reachable(REDIS_URL):
        timed["rate_limit_redis"] = (
            "rate_limit + per client on Redis (loopback)",
            rate_limit_redis,
        )
    best = {name: float("inf") for name in timed}
    for _ in range(REPEAT):  # interleaved: a slow moment of the machine hits every row alike
        for name, (_, setup) in timed.items():
            passes = stream if name != "rate_limit_redis" else stream[: len(stream) // 10]
            best[name] = min(best[name], one_pass(setup, passes))
    base = best["none"]
    rows = [
        [title, best[name] * 1e6, 1 / best[name], f"{(best[name] / base - 1) * 100:+.1f} %"]
        for name, (title, _) in timed.items()
    ]
    print()
    print_table(rows, ["option", "µs per delivery", "deliveries/s", "cost vs none"])


def instructions() -> None:
    print(f"# Receiver.handle with each option: instructions per delivery (callgrind, N = "
          f"{CALLGRIND_COUNT} minus N = 0)")  # fmt: skip
    print(environment())
    per = {name: instructions_per_delivery(__file__, name, CALLGRIND_COUNT) for name in ROWS}
    base = per["none"]
    rows = [
        [title, f"{per[name]:,.0f}", f"{(per[name] / base - 1) * 100:+.1f} %"]
        for name, (title, _) in ROWS.items()
    ]
    print()
    print_table(rows, ["option", "instructions per delivery", "cost vs none"])


def run(name: str, count: int) -> None:
    """One pass of ``count`` deliveries of one row (what callgrind measures).

    Whatever happens once is done whatever ``count`` is, so that it cancels out of N minus 0: the
    stream is built at full length, and one more delivery goes first (it builds the typed
    decoder, starts the heartbeat thread and fills the caches).
    """
    stream = stream_of(CALLGRIND_COUNT + 1)
    receiver, kwargs = ROWS[name][1]()
    receiver.handle(*stream[-1], **kwargs)
    for body, headers in stream[:count]:
        receiver.handle(body, headers, **kwargs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instructions", action="store_true", help="count with callgrind")
    parser.add_argument("--run", choices=list(ROWS), help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, default=CALLGRIND_COUNT, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        run(args.run, args.count)
    elif args.instructions:
        instructions()
    else:
        timing()


if __name__ == "__main__":
    main()

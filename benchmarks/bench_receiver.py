"""Receiver.handle side by side with the hand-rolled minimum and with standardwebhooks.

Every row processes the same stream of distinct, correctly signed 259-byte deliveries (the guide's
task payload with a different 8-character id each), so dedup really claims and completes each one:

* raw minimum: ``hmac.new(...).hexdigest()`` + ``hmac.compare_digest`` + ``json.loads``, the guide's
  own Python example and nothing else (no timestamp check, no dedup, no dispatch);
* standardwebhooks: ``Webhook.verify`` on the same body with its own headers (verify + json.loads);
* ``Receiver.handle``: header window, HMAC, typed decode, body age, memory dedup, a no-op handler;
* ``Receiver.handle`` on the SQLite and Redis stores (deliveries per second), and the Redis round
  trips per processed delivery, counted on the socket.

Run: ``python benchmarks/bench_receiver.py``. Figures are ratios against the raw minimum measured
in the same run; the docs publish them (docs/benchmarks.md).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import sys
import tempfile
import time
import timeit
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import GUIDE_SECRET, environment, guide_body, print_table

import cortexhooks_receiver as ch
from cortexhooks_receiver.stores import MemoryStore

NOW_MS = 1_699_545_600_000
COUNT = int(os.environ.get("BENCH_DELIVERIES", "50000"))
REPEAT = 5
REDIS_URL = os.environ.get("CORTEXHOOKS_BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")


def deliveries(count: int) -> list[tuple[bytes, dict[str, str]]]:
    """``count`` distinct signed 259-byte bodies with their CortexBuild headers."""
    base = guide_body()
    assert base.count(b"task-123") == 1
    assert len(base) == 259
    out = []
    for i in range(count):
        body = base.replace(b"task-123", b"t%07d" % i)
        headers = ch.sign(body, GUIDE_SECRET, timestamp=NOW_MS, delivery_id=f"dlv_{i:010d}")
        out.append((body, headers))
    return out


def best_per_call(run: Callable[[], object], count: int) -> float:
    """Seconds per delivery: the least disturbed of REPEAT passes over the whole stream."""
    return min(timeit.repeat(run, number=1, repeat=REPEAT)) / count


def raw_minimum(stream: list[tuple[bytes, dict[str, str]]]) -> Callable[[], None]:
    key = GUIDE_SECRET.encode()

    def run() -> None:
        for body, headers in stream:
            expected = hmac.new(key, body, hashlib.sha256).hexdigest()
            if not hmac.compare_digest(headers["X-CortexBuild-Signature"], expected):
                raise AssertionError("bad signature")
            json.loads(body)

    return run


def standardwebhooks_verify(stream: list[tuple[bytes, dict[str, str]]]) -> Callable[[], None]:
    from standardwebhooks.webhooks import Webhook

    secret = base64.b64encode(GUIDE_SECRET.encode()).decode()
    webhook = Webhook(secret)
    key = GUIDE_SECRET.encode()
    now = int(time.time())
    signed = []
    for i, (body, _) in enumerate(stream):
        msg_id = f"msg_{i}"
        to_sign = f"{msg_id}.{now}.".encode() + body
        signature = base64.b64encode(hmac.new(key, to_sign, hashlib.sha256).digest()).decode()
        headers = {
            "webhook-id": msg_id,
            "webhook-timestamp": str(now),
            "webhook-signature": f"v1,{signature}",
        }
        signed.append((body, headers))

    def run() -> None:
        for body, headers in signed:
            webhook.verify(body, headers)

    return run


def receiver_handle(
    stream: list[tuple[bytes, dict[str, str]]], options: Callable[[], dict[str, Any]]
) -> Callable[[], None]:
    """One pass of ``Receiver.handle`` over ``stream`` with a fresh receiver of ``options()``."""

    def run() -> None:
        receiver = ch.Receiver(
            GUIDE_SECRET, now=lambda: NOW_MS / 1000, router=ch.Router(), **options()
        )
        receiver.on("task.completed")(lambda event: None)
        outcome = None
        for body, headers in stream:
            outcome = receiver.handle(body, headers)
        assert outcome is not None
        assert outcome.status == 200, outcome
        assert not outcome.duplicate
        receiver.store.close()
        if receiver.journal is not None:
            receiver.journal.close()

    return run


def redis_store_factory() -> Callable[[], Any] | None:
    try:
        import redis

        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except Exception as exc:
        print(f"(Redis rows skipped: {REDIS_URL} unreachable: {type(exc).__name__})")
        return None
    from cortexhooks_receiver.stores.redis import RedisStore

    return lambda: RedisStore(REDIS_URL, prefix=f"bench-{uuid.uuid4().hex}:")


def redis_round_trips(stream: list[tuple[bytes, dict[str, str]]]) -> float:
    """Round trips per processed delivery through Receiver.handle, counted on the socket."""
    import redis

    from cortexhooks_receiver.stores.redis import RedisStore

    class Counting(redis.Connection):
        sent = 0

        def send_packed_command(self, command: Any, check_health: bool = True) -> None:
            Counting.sent += 1
            super().send_packed_command(command, check_health)

    pool = redis.ConnectionPool.from_url(REDIS_URL, connection_class=Counting)
    store = RedisStore(redis.Redis(connection_pool=pool), prefix=f"bench-{uuid.uuid4().hex}:")
    receiver = ch.Receiver(GUIDE_SECRET, store=store, now=lambda: NOW_MS / 1000, router=ch.Router())
    receiver.on("task.completed")(lambda event: None)
    warm_body, warm_headers = stream[-1]
    receiver.handle(warm_body, warm_headers)  # connection handshake and script loading, once
    Counting.sent = 0
    sample = stream[:500]
    for body, headers in sample:
        assert receiver.handle(body, headers).status == 200
    return Counting.sent / len(sample)


def main() -> None:
    print(f"# Receiver.handle, {COUNT} distinct 259-byte deliveries per pass, best of {REPEAT}")
    print(environment())
    stream = deliveries(COUNT)
    small = stream[: max(1, COUNT // 10)]
    raw = best_per_call(raw_minimum(stream), COUNT)
    rows: list[list[Any]] = [
        ["raw minimum (hexdigest + compare_digest + json.loads)", raw * 1e6, 1 / raw, 1.0]
    ]

    def add(name: str, seconds: float) -> None:
        rows.append([name, seconds * 1e6, 1 / seconds, seconds / raw])

    add("standardwebhooks Webhook.verify", best_per_call(standardwebhooks_verify(stream), COUNT))
    memory = receiver_handle(stream, lambda: {"store": MemoryStore()})
    add("Receiver.handle, memory store", best_per_call(memory, COUNT))
    with tempfile.TemporaryDirectory() as tmp:
        from cortexhooks_receiver.stores.sqlite import SQLiteStore

        counter = iter(range(10**6))
        add(
            "Receiver.handle, SQLite store (WAL file)",
            best_per_call(
                receiver_handle(
                    small, lambda: {"store": SQLiteStore(Path(tmp) / f"{next(counter)}.db")}
                ),
                len(small),
            ),
        )
    redis_factory = redis_store_factory()
    if redis_factory is not None:
        add(
            "Receiver.handle, Redis store (loopback)",
            best_per_call(receiver_handle(small, lambda: {"store": redis_factory()}), len(small)),
        )
    print()
    print_table(rows, ["pipeline", "µs per delivery", "deliveries/s", "x raw minimum"])
    if redis_factory is not None:
        print(f"\nRedis round trips per processed delivery: {redis_round_trips(stream):.2f}")


if __name__ == "__main__":
    main()

"""Receiver.handle side by side with the hand-rolled minimum and with standardwebhooks.

Every row processes the same stream of distinct, correctly signed 259-byte deliveries (the guide's
task payload with a different 8-character id each), so dedup really claims and completes each one:

* raw minimum: ``hmac.new(...).hexdigest()`` + ``hmac.compare_digest`` + ``json.loads``, the guide's
  own Python example and nothing else (no timestamp check, no dedup, no dispatch);
* standardwebhooks: ``Webhook.verify`` on the same body with its own headers (verify + json.loads);
* ``Receiver.handle``: header window, HMAC, typed decode, body age, memory dedup, a no-op handler;
* the same with two secrets (a rotation: every body is hashed under both), with an ``async def``
  handler run from the sync ``handle`` (target: at most 1.5x the sync handler), and with a store
  that records nothing (what dedup costs);
* ``Receiver.handle`` on the SQLite and Redis stores (deliveries per second), the SQLite store
  beside SQLite's own floor (the same claim and completion as two bare transactions on a WAL
  file with ``synchronous=NORMAL``, no library code: target at most 1.2x), and the Redis round
  trips per processed delivery, counted on the socket.

Run: ``python benchmarks/bench_receiver.py``. Figures are ratios against the raw minimum measured
in the same run; the docs publish them (docs/benchmarks.md). ``--instructions`` counts the
in-process rows with valgrind's callgrind instead (instructions of N deliveries minus those of 0):
steady on a busy machine, where times are not.
"""

from __future__ import annotations

import argparse
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

from _common import (
    GUIDE_SECRET,
    REDIS_URL,
    environment,
    guide_body,
    instructions_per_delivery,
    print_table,
    redis_reachable,
)

import cortexhooks_receiver as ch
from cortexhooks_receiver.stores import MemoryStore
from cortexhooks_receiver.stores.sqlite import SQLiteStore

# The stream is signed, and its bodies stamped, at the time this module is imported; the
# receivers read the real clock, as one built with Receiver(secret) does (a clock passed in
# would be a Python call that no deployment makes). A run takes well under the five minutes
# the timestamp header is accepted for.
NOW_MS = time.time_ns() // 1_000_000
COUNT = int(os.environ.get("BENCH_DELIVERIES", "50000"))
REPEAT = 5


def deliveries(count: int, base: bytes | None = None) -> list[tuple[bytes, dict[str, str]]]:
    """``count`` distinct signed bodies with their CortexBuild headers, signed at ``NOW_MS``.

    Each is ``base`` (default: the guide's 259-byte task payload, stamped ``NOW_MS``) with its
    task id replaced by a different id of the same length.
    """
    if base is None:
        base = guide_body().replace(b"1699545600000", b"%d" % NOW_MS)
        assert len(base) == 259
    assert base.count(b"task-123") == 1
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


def rotation_store() -> MemoryStore:
    # A body is remembered under its digest by each secret: three keys per delivery.
    return MemoryStore(max_entries=4 * COUNT)


async def async_handler(event: object) -> None:
    return None


class NullStore:
    """A store that records nothing: every claim is new (what the pipeline costs without dedup)."""

    def claim(self, keys: Any, lease: float, token: str) -> ch.stores.ClaimState:
        return ch.stores.ClaimState.NEW

    def complete(self, keys: Any, retention: float, token: str) -> None:
        return None

    def release(self, keys: Any, token: str) -> None:
        return None

    def close(self) -> None:
        return None


def receiver_handle(
    stream: list[tuple[bytes, dict[str, str]]],
    options: Callable[[], dict[str, Any]],
    *,
    handler: Callable[[Any], Any] = lambda event: None,
    secrets: list[str] | None = None,
) -> Callable[[], None]:
    """One pass of ``Receiver.handle`` over ``stream`` with a fresh receiver of ``options()``."""

    def run() -> None:
        if secrets is None:
            receiver = ch.Receiver(GUIDE_SECRET, router=ch.Router(), **options())
        else:
            receiver = ch.Receiver(secrets=secrets, router=ch.Router(), **options())
        receiver.on("task.completed")(handler)
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


_FLOOR_SCHEMA = (
    "CREATE TABLE dedup (key TEXT PRIMARY KEY NOT NULL, state INTEGER NOT NULL,"
    " token TEXT NOT NULL, expires_at REAL NOT NULL) WITHOUT ROWID",
    "CREATE INDEX dedup_expires_at ON dedup (expires_at)",
)


def sqlite_floor(stream: list[tuple[bytes, dict[str, str]]], directory: Path) -> Callable[[], None]:
    """SQLite's own floor for one delivery's dedup: the claim and the completion of its two keys
    (delivery id and body digest) as two bare transactions on a WAL file with
    ``synchronous=NORMAL``, precomputed keys, one connection, no library code."""
    import sqlite3

    keys = [
        (headers["X-CortexBuild-Delivery-Id"], hashlib.sha256(body).hexdigest())
        for body, headers in stream
    ]
    counter = iter(range(10**6))

    def run() -> None:
        conn = sqlite3.connect(directory / f"floor-{next(counter)}.db", isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        for statement in _FLOOR_SCHEMA:
            conn.execute(statement)
        now = NOW_MS / 1000
        for delivery_key, body_key in keys:
            conn.execute("BEGIN IMMEDIATE")
            found = conn.execute(
                "SELECT state, token FROM dedup WHERE key IN (?, ?) AND expires_at > ?",
                (delivery_key, body_key, now),
            ).fetchall()
            assert not found
            conn.execute(
                "INSERT INTO dedup VALUES (?, 0, 't', ?), (?, 0, 't', ?)",
                (delivery_key, now + 30, body_key, now + 30),
            )
            conn.execute("COMMIT")
            conn.execute(
                "UPDATE dedup SET state = 1, expires_at = ? WHERE key IN (?, ?)",
                (now + 86400, delivery_key, body_key),
            )
        conn.close()

    return run


def redis_store_factory() -> Callable[[], Any] | None:
    if not redis_reachable(REDIS_URL):
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
    receiver = ch.Receiver(GUIDE_SECRET, store=store, router=ch.Router())
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
    memory = best_per_call(receiver_handle(stream, lambda: {"store": MemoryStore()}), COUNT)
    add("Receiver.handle, memory store", memory)
    add(
        "Receiver.handle, memory store, two secrets (rotation)",
        best_per_call(
            receiver_handle(
                stream, lambda: {"store": rotation_store()}, secrets=["whsec_new", GUIDE_SECRET]
            ),
            COUNT,
        ),
    )
    async_seconds = best_per_call(
        receiver_handle(stream, lambda: {"store": MemoryStore()}, handler=async_handler), COUNT
    )
    add("Receiver.handle, memory store, async def handler", async_seconds)
    no_dedup = best_per_call(receiver_handle(stream, lambda: {"store": NullStore()}), COUNT)
    add("Receiver.handle, a store that records nothing", no_dedup)
    with tempfile.TemporaryDirectory() as tmp:
        counter = iter(range(10**6))
        floor = best_per_call(sqlite_floor(small, Path(tmp)), len(small))
        add("SQLite floor: two bare transactions (WAL, synchronous=NORMAL)", floor)
        sqlite = best_per_call(
            receiver_handle(
                small, lambda: {"store": SQLiteStore(Path(tmp) / f"{next(counter)}.db")}
            ),
            len(small),
        )
        add("Receiver.handle, SQLite store (WAL file)", sqlite)
    redis_factory = redis_store_factory()
    if redis_factory is not None:
        add(
            "Receiver.handle, Redis store (loopback)",
            best_per_call(receiver_handle(small, lambda: {"store": redis_factory()}), len(small)),
        )
    print()
    print_table(rows, ["pipeline", "µs per delivery", "deliveries/s", "x raw minimum"])
    print()
    print_table(
        [
            ["memory store vs raw minimum", memory / raw, "<= 1.0"],
            ["async def handler vs sync handler (memory store)", async_seconds / memory, "<= 1.5"],
            ["Receiver.handle on SQLite vs SQLite floor", sqlite / floor, ""],
            [
                "the store's part (SQLite row minus no-dedup row) vs SQLite floor",
                (sqlite - no_dedup) / floor,
                "<= 1.2",
            ],
        ],
        ["ratio", "measured", "target"],
    )
    if redis_factory is not None:
        print(f"\nRedis round trips per processed delivery: {redis_round_trips(stream):.2f}")


CALLGRIND_COUNT = int(os.environ.get("BENCH_CALLGRIND_DELIVERIES", "2000"))


def _in_process_rows() -> dict[
    str, tuple[str, Callable[[list[tuple[bytes, dict[str, str]]]], Any]]
]:
    return {
        "raw": ("raw minimum (hexdigest + compare_digest + json.loads)", raw_minimum),
        "memory": (
            "Receiver.handle, memory store",
            lambda stream: receiver_handle(stream, lambda: {"store": MemoryStore()}),
        ),
        "rotation": (
            "Receiver.handle, memory store, two secrets (rotation)",
            lambda stream: receiver_handle(
                stream, lambda: {"store": rotation_store()}, secrets=["whsec_new", GUIDE_SECRET]
            ),
        ),
        "async": (
            "Receiver.handle, memory store, async def handler",
            lambda stream: receiver_handle(
                stream, lambda: {"store": MemoryStore()}, handler=async_handler
            ),
        ),
        "null": (
            "Receiver.handle, a store that records nothing",
            lambda stream: receiver_handle(stream, lambda: {"store": NullStore()}),
        ),
        "sqlite_floor": (
            "SQLite floor: two bare transactions (WAL, synchronous=NORMAL)",
            lambda stream: sqlite_floor(stream, Path(tempfile.mkdtemp())),
        ),
        "sqlite": (
            "Receiver.handle, SQLite store (WAL file)",
            lambda stream: receiver_handle(
                stream, lambda: {"store": SQLiteStore(Path(tempfile.mkdtemp()) / "store.db")}
            ),
        ),
    }


def run_row(name: str, count: int) -> None:
    """Build the row over the whole stream, then run it if ``count`` (what callgrind measures).

    Whatever happens once is done in both runs, so that it cancels out of N minus 0: the stream
    is signed and the row built (for the SQLite floor: its keys hashed) at full length, and a
    first pass over one more delivery builds the typed decoder, starts the heartbeat thread and
    warms every cache.
    """
    stream = deliveries(CALLGRIND_COUNT + 1)
    build = _in_process_rows()[name][1]
    build(stream[-1:])()
    row = build(stream[:CALLGRIND_COUNT])
    if count:
        row()


def instructions() -> None:
    print(f"# Receiver.handle: instructions per delivery (callgrind, N = {CALLGRIND_COUNT} "
          "minus N = 0)")  # fmt: skip
    print(environment())
    rows = _in_process_rows()
    per = {name: instructions_per_delivery(__file__, name, CALLGRIND_COUNT) for name in rows}
    table = [
        [title, f"{per[name]:,.0f}", f"{per[name] / per['raw']:.2f}"]
        for name, (title, _) in rows.items()
    ]
    print()
    print_table(table, ["pipeline", "instructions per delivery", "x raw minimum"])
    print()
    print_table(
        [
            ["memory store vs raw minimum", f"{per['memory'] / per['raw']:.2f}", "<= 1.0"],
            ["async def handler vs sync handler", f"{per['async'] / per['memory']:.2f}", "<= 1.5"],
            [
                "Receiver.handle on SQLite vs SQLite floor",
                f"{per['sqlite'] / per['sqlite_floor']:.2f}",
                "",
            ],
            [
                "the store's part (SQLite row minus no-dedup row) vs SQLite floor",
                f"{(per['sqlite'] - per['null']) / per['sqlite_floor']:.2f}",
                "<= 1.2",
            ],
        ],
        ["ratio (instructions)", "measured", "target"],
    )


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instructions", action="store_true", help="count with callgrind")
    parser.add_argument("--run", choices=list(_in_process_rows()), help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, default=CALLGRIND_COUNT, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        run_row(args.run, args.count)
    elif args.instructions:
        instructions()
    else:
        main()


if __name__ == "__main__":
    cli()

"""The receipt journal's cost on Receiver.handle, side by side with the dedup stores' own.

Every row runs ``Receiver.handle`` over the same stream of distinct, correctly signed 259-byte
deliveries (as ``bench_receiver.py``), with a no-op handler, and differs from the first row by
one option only:

* no journal (memory store): the baseline;
* a memory journal, a SQLite journal (WAL file), the same with ``journal_bodies=True``;
* the SQLite dedup store without and with the SQLite journal (in the same file);
* the Redis store without and with the Redis journal (loopback), when Redis is reachable.

The journal's cost is the extra time per delivery over the row without it; the target (issue
13) is a SQLite journal costing under 2x what the plain SQLite dedup store costs over the memory
store. Run: ``python benchmarks/bench_journal.py``; figures are published in docs/benchmarks.md.
"""

from __future__ import annotations

import os
import sys
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import environment, print_table, redis_reachable
from bench_receiver import REDIS_URL, best_per_call, deliveries, receiver_handle

COUNT = int(os.environ.get("BENCH_DELIVERIES", "5000"))


def main() -> None:
    print(f"# The journal's cost on Receiver.handle, {COUNT} deliveries per pass")
    print(environment())
    stream = deliveries(COUNT)
    with tempfile.TemporaryDirectory() as tmp:
        files = (f"sqlite:///{Path(tmp) / f'{n}.db'}" for n in range(10**6))

        def sqlite_file() -> str:
            return next(files)

        def shared_file() -> dict[str, Any]:
            url = sqlite_file()
            return {"store": url, "journal": url}

        rows: dict[str, float] = {}
        plans: list[tuple[str, Callable[[], dict[str, Any]]]] = [
            ("memory store, no journal", dict),
            ("memory store, memory journal", lambda: {"journal": "memory://"}),
            ("memory store, SQLite journal (WAL)", lambda: {"journal": sqlite_file()}),
            (
                "memory store, SQLite journal with bodies",
                lambda: {"journal": sqlite_file(), "journal_bodies": True},
            ),
            ("SQLite store, no journal", lambda: {"store": sqlite_file()}),
            ("SQLite store + SQLite journal (one file)", shared_file),
        ]
        if redis_reachable(REDIS_URL):

            def redis_url() -> str:
                return f"{REDIS_URL}?prefix=bench-journal-{uuid.uuid4().hex}:"

            plans += [
                ("Redis store, no journal", lambda: {"store": redis_url()}),
                (
                    "Redis store + Redis journal",
                    lambda: {"store": redis_url(), "journal": redis_url()},
                ),
            ]
        for name, options in plans:
            rows[name] = best_per_call(receiver_handle(stream, options), COUNT)
    base = rows["memory store, no journal"]
    print()
    print_table(
        [[name, seconds * 1e6, 1 / seconds, seconds / base] for name, seconds in rows.items()],
        ["Receiver.handle with", "µs per delivery", "deliveries/s", "x no journal"],
    )
    sqlite_store = rows["SQLite store, no journal"] - base
    sqlite_journal = rows["memory store, SQLite journal (WAL)"] - base
    print()
    print(f"memory journal:  +{(rows['memory store, memory journal'] - base) * 1e6:.2f} µs")
    print(f"SQLite journal:  +{sqlite_journal * 1e6:.2f} µs per delivery")
    print(f"SQLite store:    +{sqlite_store * 1e6:.2f} µs per delivery (claim + complete)")
    print(f"SQLite journal / SQLite store: {sqlite_journal / sqlite_store:.2f}x (target < 2x)")


if __name__ == "__main__":
    main()

"""Typed decoding side by side with ``json.loads``: every catalog sample, the guide body, routing.

Run: ``.venv/bin/python benchmarks/bench_decode.py`` (about 15 s). For the guide's 259-byte task
payload and the factory sample of each of the 31 catalog events, the table gives ns per call of

* ``decode_event`` (one msgspec pass into the typed ``Event[Model]``, raw body kept),
* ``json.loads`` into plain dicts (what a hand-rolled receiver does),
* untyped ``msgspec.json.decode`` into dicts,

and the ratio ``decode_event / json.loads`` (below 1.00: typed decoding is cheaper than dicts).
A last table times the other per-delivery step owned by the events layer: ``Router.resolve``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import msgspec
from _common import environment, guide_body, measure, print_table

from cortexhooks_receiver.events import CATALOG, decode_event
from cortexhooks_receiver.routing import Router
from cortexhooks_receiver.testing import SAMPLE_TIMESTAMP_MS, make_body

BUDGET = 0.03  # seconds per timing run; 5 runs per figure, the minimum is kept


def _row(label: str, body: bytes) -> list[object]:
    typed = measure(lambda: decode_event(body), budget=BUDGET)
    loads = measure(lambda: json.loads(body), budget=BUDGET)
    untyped = measure(lambda: msgspec.json.decode(body), budget=BUDGET)
    return [label, len(body), typed * 1e9, loads * 1e9, untyped * 1e9, typed / loads]


def main() -> None:
    """Run every case once and print the tables."""
    print(f"# decode_event vs json.loads ({environment()})\n")
    rows = [_row("guide task.completed", guide_body())]
    unknown = b'{"event":"crane.moved","timestamp":1,"data":{"craneId":"c-1","load":2.5}}'
    rows.append(_row("unknown event (cold path)", unknown))
    for spec in CATALOG:
        rows.append(_row(spec.name, make_body(spec.name, timestamp=SAMPLE_TIMESTAMP_MS)))
    headers = ["payload", "bytes", "decode_event ns", "json.loads ns", "msgspec dict ns", "ratio"]
    print_table(rows, headers)
    ratios = sorted(row[-1] for row in rows[2:])
    median, worst = ratios[len(ratios) // 2], ratios[-1]
    print(f"\nratio over the 31 samples: median {median:.2f}, worst {worst:.2f}")

    router = Router()
    for _ in range(3):
        router.on("task.completed")(lambda event: None)
    router.on("task.*")(lambda event: None)
    router.on("*")(lambda event: None)
    print("\n# Router.resolve (5 handlers registered, cached per name)\n")
    print_table(
        [
            ["resolve('task.completed')", measure(lambda: router.resolve("task.completed")) * 1e9],
            ["dict lookup (the floor)", measure(lambda: router._cache.get("task.completed")) * 1e9],
        ],
        ["call", "ns"],
    )


if __name__ == "__main__":
    main()

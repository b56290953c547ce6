"""How long ``import cortexhooks_receiver`` takes (target: under 50 ms), beside its dependencies.

Each figure is the best of several fresh interpreters, read from ``python -X importtime``.
Run: ``python benchmarks/bench_import.py``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import environment, print_table

RUNS = 7


def import_ms(module: str) -> float:
    """Best cumulative import time of ``module`` in a fresh interpreter, in milliseconds."""
    best = float("inf")
    for _ in range(RUNS):
        result = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", f"import {module}"],
            capture_output=True,
            text=True,
            check=True,
        )
        for line in result.stderr.splitlines():
            parts = line.split("|")
            if len(parts) == 3 and parts[2].strip() == module:
                best = min(best, int(parts[1]) / 1000)
    return best


def main() -> None:
    print(f"# import time, best of {RUNS} fresh interpreters")
    print(environment())
    ours = import_ms("cortexhooks_receiver")
    rows = [
        ["cortexhooks_receiver (everything it imports)", ours, ours / 50],
        ["msgspec alone", import_ms("msgspec"), None],
        ["json (stdlib) alone", import_ms("json"), None],
    ]
    print_table(rows, ["module", "ms", "x the 50 ms budget"])


if __name__ == "__main__":
    main()

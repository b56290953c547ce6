"""Shared timing helpers for the benchmark scripts (plain scripts run with python).

Timing is ``timeit`` with several repeats; the figure kept is the minimum of the repeats (the run
least disturbed by the rest of the machine), divided by the number of calls per repeat.
"""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
import sys
import timeit
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "GUIDE_SECRET",
    "REDIS_URL",
    "ROOT",
    "Row",
    "callgrind_instructions",
    "environment",
    "guide_body",
    "instructions_per_delivery",
    "measure",
    "padded_body",
    "print_table",
    "redis_reachable",
]

ROOT = Path(__file__).resolve().parent.parent
VECTORS = ROOT / "tests" / "vectors" / "signatures.json"
GUIDE_SECRET = "whsec_K2Fj8sL3mN9pQ4rT7vX1yZ5bC6dE8fG"
# The Redis the benchmarks use: a database of its own, keys under a prefix of each run.
REDIS_URL = os.environ.get("CORTEXHOOKS_BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")

# The guide's task.completed example, byte for byte (the first signature vector): 259 bytes.
_GUIDE_BODY = (
    b'{"event":"task.completed","timestamp":1699545600000,"data":{"id":"task-123",'
    b'"title":"Install electrical panels","status":"completed","projectId":"proj-456",'
    b'"assignedTo":"user-789","completedAt":"2025-11-09T14:30:00Z"},"companyId":"comp-1",'
    b'"userId":"user-789"}'
)

Row = Sequence[Any]


def guide_body() -> bytes:
    """Return the guide's 259-byte task payload (from the shared vectors when present)."""
    if VECTORS.exists():
        data = json.loads(VECTORS.read_text(encoding="utf-8"))
        body: bytes = data["valid"][0]["body"].encode("utf-8")
        return body
    return _GUIDE_BODY


def padded_body(size: int, timestamp_ms: int = 1_699_545_600_000) -> bytes:
    """Return a valid ``task.completed`` payload of exactly ``size`` bytes (a long description)."""
    head = (
        b'{"event":"task.completed","timestamp":%d,"data":{"id":"task-123",'
        b'"title":"Install electrical panels","status":"completed","description":"' % timestamp_ms
    )
    tail = b'"},"companyId":"comp-1","userId":"user-789"}'
    filler = size - len(head) - len(tail)
    if filler < 0:
        raise ValueError(f"size {size} is smaller than the smallest payload")
    return head + b"x" * filler + tail


def measure(
    fn: Callable[[], object],
    number: int | None = None,
    repeat: int = 5,
    budget: float = 0.2,
) -> float:
    """Return the seconds one call of ``fn`` takes: the minimum over ``repeat`` runs of ``number``.

    With ``number=None`` the count is chosen so one run lasts about ``budget`` seconds.
    """
    timer = timeit.Timer(fn)
    if number is None:
        once = min(timer.repeat(repeat=3, number=1))
        number = max(1, int(budget / max(once, 1e-9)))
    return min(timer.repeat(repeat=repeat, number=number)) / number


def environment() -> str:
    """One line describing the interpreter and machine the figures come from."""
    return (
        f"Python {platform.python_version()} ({platform.python_implementation()}), "
        f"{platform.system()} {platform.machine()}, {sys.platform}"
    )


def print_table(rows: Sequence[Row], headers: Row | None = None) -> str:
    """Print ``rows`` (sequences of cells) as a Markdown table and return the text.

    The first row is the header unless ``headers`` is given. Floats are shown with 2 decimals.
    """
    all_rows = [list(headers), *map(list, rows)] if headers is not None else list(map(list, rows))
    cells = [[_cell(value) for value in row] for row in all_rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]
    lines = []
    for index, row in enumerate(cells):
        lines.append("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")
        if index == 0:
            lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    text = "\n".join(lines)
    print(text)
    return text


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.2f}"
    return str(value)


_REFS = re.compile(r"I\s+refs:\s+([\d,]+)")


def callgrind_instructions(script: str, *arguments: str) -> int:
    """Instructions valgrind's callgrind counts for ``python script arguments...``.

    Instruction counts are steady where times are not (the same total whatever else the machine
    is doing): a row's cost is the count for N deliveries minus the count for 0, so start-up,
    imports and set-up cancel out.
    """
    command = [
        "valgrind",
        "--tool=callgrind",
        "--callgrind-out-file=/dev/null",
        sys.executable,
        script,
        *arguments,
    ]
    env = {**os.environ, "PYTHONHASHSEED": "0"}  # the same dict layouts in every run
    result = subprocess.run(command, capture_output=True, text=True, check=True, env=env)
    found = _REFS.search(result.stderr)
    if found is None:
        raise RuntimeError(f"no instruction count in valgrind's output:\n{result.stderr[-2000:]}")
    return int(found.group(1).replace(",", ""))


def instructions_per_delivery(script: str, row: str, count: int) -> float:
    """Instructions per delivery of one row of ``script``: its run of ``count`` minus its run of 0.

    ``script`` takes ``--run ROW --count N`` and does the same set-up whatever ``N`` is, so that
    only the deliveries themselves remain in the difference.
    """
    full = callgrind_instructions(script, "--run", row, "--count", str(count))
    empty = callgrind_instructions(script, "--run", row, "--count", "0")
    return (full - empty) / count


def redis_reachable(url: str) -> bool:
    """Whether Redis answers at ``url``; if not, say which rows are skipped and why."""
    try:
        import redis

        with redis.Redis.from_url(url, socket_connect_timeout=1) as client:
            client.ping()
    except Exception as exc:
        print(f"(Redis rows skipped: {url} unreachable: {type(exc).__name__})")
        return False
    return True

"""The benchmark scripts still run and print their tables (tiny counts; no time is asserted)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


def _run(*args: str, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=BENCHMARKS,
        env={**os.environ, **(env or {})},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_bench_receiver_prints_every_row_and_the_target_ratios() -> None:
    out = _run("bench_receiver.py", env={"BENCH_DELIVERIES": "200"})
    for row in (
        "raw minimum",
        "Receiver.handle, memory store ",
        "two secrets (rotation)",
        "async def handler",
        "a store that records nothing",
        "SQLite floor",
        "Receiver.handle, SQLite store",
        "memory store vs raw minimum",
        "async def handler vs sync handler",
        "the store's part (SQLite row minus no-dedup row) vs SQLite floor",
    ):
        assert row in out, row


def test_bench_scaling_prints_the_body_size_curve() -> None:
    out = _run("bench_scaling.py", "--skip-servers", "--max-deliveries", "20")
    for size in ("259 B", "1 KiB", "10 KiB", "100 KiB", "1 MiB"):
        assert f"| {size}" in out, size

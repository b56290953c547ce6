"""The short version of ``benchmarks/load_faults.py``: 600 deliveries through 4 gunicorn workers,
one worker SIGKILLed and a store outage in the middle, on SQLite and on the real Redis.

The script counts from the handlers' own records; here its report must show nothing lost,
nothing run twice (a rerun is allowed only where a kill explains it), and no answer the faults do
not explain: the only 5xx are ``500 handler_error`` (handlers failing their first run on purpose)
and ``503 store_unavailable`` (during the outage). A control run on per-worker memory stores
proves that the counting does catch doubles, and unit tests pin how reruns are attributed.
The guide's retry delays are divided by 600 and the lease is 3 s, so that a delivery whose
worker died is taken over within the compressed schedule.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "benchmarks" / "load_faults.py"
SHORT = [
    "--deliveries",
    "600",
    "--workers",
    "4",
    "--concurrency",
    "8",
    "--time-scale",
    "600",
    "--lease",
    "3",
    "--json",
]
FAULTS = ["--kills", "1", "--outage", "1.5", "--busy-timeout", "0.5"]

sys.path.insert(0, str(ROOT / "benchmarks"))
import load_faults as lf  # noqa: E402


def _run(*args: str) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), *SHORT, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=100,
        check=False,
    )
    assert proc.returncode in (0, 1), proc.stderr  # 1: the report found a defect
    report: dict[str, Any] = json.loads(proc.stdout)
    return report


def _assert_nothing_lost_nor_doubled(report: dict[str, Any]) -> None:
    assert report["deliveries"] == 600
    assert report["server_survived"]
    assert [kill["pid"] for kill in report["kills"]] != []
    assert report["outage"] is not None
    assert report["lost"] == 0, report["lost_examples"]
    # (On a shared machine another program's FLUSHDB would wipe the dedup keys: said here.)
    wiped = report["store_wiped_by_another_program_at_s"]
    assert report["doubled"] == 0, (report["doubled_examples"], f"store wiped at {wiped}")
    assert report["replays_processed"] == 0
    assert report["unexplained_answers"] == 0, report["unexplained_examples"]
    statuses = report["statuses"]
    assert {s for s in statuses if s.startswith("5")} <= {
        "500 handler_error",
        "503 store_unavailable",
    }
    assert statuses["503 store_unavailable"] > 0  # the outage was felt, and survived
    assert statuses["500 handler_error"] > 0  # handlers failed first, and were retried
    assert report["failed_first_on_purpose"] > 0
    assert statuses["200 duplicate"] > 0  # duplicates and replays were recognised
    assert report["replays_sent"] == 60
    assert all(worker["rss_after_kb"] for worker in report["workers"])


@pytest.mark.e2e
def test_600_deliveries_with_a_kill_and_a_locked_sqlite_file_lose_and_double_nothing() -> None:
    report = _run("--store", "sqlite", *FAULTS)
    _assert_nothing_lost_nor_doubled(report)


@pytest.mark.e2e
@pytest.mark.redis
def test_600_deliveries_with_a_kill_and_redis_cut_off_lose_and_double_nothing(
    redis_url: str,
) -> None:
    report = _run("--store", "redis", "--redis-url", redis_url, *FAULTS)
    _assert_nothing_lost_nor_doubled(report)


@pytest.mark.e2e
def test_the_counts_catch_doubles_when_workers_do_not_share_a_store() -> None:
    # The control: a memory store per worker forgets what the other workers processed.
    report = _run("--store", "memory", "--kills", "0", "--deliveries", "300")
    assert report["doubled"] > 0
    assert report["replays_processed"] > 0
    assert report["rerun_after_kill"] == 0
    assert report["lost"] == 0


# -- how reruns are attributed ---------------------------------------------------------------


def _done(when: float, pid: int, delivery_id: str = "dlv_1") -> lf.Record:
    return lf.Record(when, pid, "ld-x-000000", delivery_id, "done")


def _row(label: str, started: float, ended: float) -> lf.Row:
    return lf.Row(
        "original", 0, 1, label, None if label == "no answer" else 200, 1.0, started, ended
    )


def test_a_rerun_is_explained_by_a_kill_only_if_the_run_lost_its_answer_to_it() -> None:
    killed = {41: 100.0}
    earlier = _done(99.5, 41)
    # The worker died after the run's success line, and the attempt carrying it got no answer.
    assert lf._explained_by_kill(earlier, [_row("no answer", 99.0, 100.2)], killed)
    # Its answer arrived: the success was recorded before the kill, a rerun is a double.
    assert not lf._explained_by_kill(earlier, [_row("200", 99.0, 99.6)], killed)
    # The worker was killed, but before this run: it cannot have been cut short by it.
    assert not lf._explained_by_kill(_done(101.0, 41), [_row("no answer", 100.5, 101.5)], killed)
    # A worker that was never killed explains nothing.
    assert not lf._explained_by_kill(_done(99.5, 42), [_row("no answer", 99.0, 100.2)], killed)


def test_answers_are_explained_only_by_their_own_fault() -> None:
    options = lf.Options()
    outage = (200.0, 205.0)
    kills = [100.0]
    explained = lf._answer_explained
    assert explained(_row("503 store_unavailable", 204.0, 206.0), set(), kills, outage, options)
    assert not explained(_row("503 store_unavailable", 150.0, 151.0), set(), kills, outage, options)
    assert not explained(_row("503 store_unavailable", 204.0, 206.0), set(), kills, None, options)
    assert explained(_row("no answer", 99.8, 100.1), set(), kills, outage, options)
    assert not explained(_row("no answer", 150.0, 150.1), set(), kills, outage, options)
    assert explained(_row("500 handler_error", 1.0, 1.1), {0}, kills, outage, options)
    assert not explained(_row("500 handler_error", 1.0, 1.1), set(), kills, outage, options)
    assert not explained(_row("500 (not a receiver error)", 1, 1.1), {0}, kills, outage, options)
    assert not explained(_row("401 signature_mismatch", 1.0, 1.1), set(), kills, outage, options)

"""A short fuzzing pass over ``Receiver.handle`` (fuzz/fuzz_receiver.py), run by CI.

The target runs under atheris (libFuzzer) in a subprocess for a fixed number of executions,
starting from the corpus kept in the repository (every seed is replayed first), and writing what
it discovers to a temporary directory, never to the repository. Any exception the target's
oracle did not expect is a crash: libFuzzer then exits non-zero and this test fails with the
crash's traceback. The long run (10 million executions) is documented in docs/hardening.md.

atheris is part of the dev extra: under ``CI=true`` a missing atheris fails the test; elsewhere
(a platform without its wheel) the test is skipped with the reason.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "fuzz" / "fuzz_receiver.py"
CORPUS = ROOT / "fuzz" / "corpus" / "receiver"  # the seeds, from fuzz/make_corpus.py
FOUND = ROOT / "fuzz" / "corpus" / "receiver-long"  # what the long run found (merged)
RUNS = 30_000


def _require_atheris() -> None:
    if importlib.util.find_spec("atheris") is None:
        message = "atheris is not installed (pip install -e '.[dev]')"
        if IN_CI:
            pytest.fail(f"{message}; CI must run the short fuzzing pass.", pytrace=False)
        pytest.skip(message)


def test_the_corpus_is_kept_in_the_repository() -> None:
    seeds = sorted(CORPUS.iterdir())
    found = sorted(FOUND.iterdir())
    assert len(seeds) >= 50
    assert len(found) >= 50
    assert sum(path.stat().st_size for path in [*seeds, *found]) < 200_000


def test_a_short_fuzzing_pass_finds_no_crash(tmp_path: Path) -> None:
    _require_atheris()
    discovered = tmp_path / "corpus"
    discovered.mkdir()
    before = sorted(path.name for path in [*CORPUS.iterdir(), *FOUND.iterdir()])
    proc = subprocess.run(
        [
            sys.executable,
            str(TARGET),
            f"-runs={RUNS}",
            "-seed=1",
            "-max_len=4096",
            "-print_final_stats=1",
            f"-artifact_prefix={tmp_path}/",
            str(discovered),  # the first directory is the one libFuzzer writes to
            str(CORPUS),
            str(FOUND),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-6000:]
    assert f"Done {RUNS} runs" in log, log[-3000:]
    assert f"stat::number_of_executed_units: {RUNS}" in log
    assert not list(tmp_path.glob("crash-*")), log[-3000:]
    after = sorted(path.name for path in [*CORPUS.iterdir(), *FOUND.iterdir()])
    assert after == before  # read, never written

"""Every example in ``examples/`` runs as a script and passes its own self-check.

An example is ``examples/*.py`` or ``examples/<folder>/app.py`` (files starting with ``_`` are
helpers, not examples). Each one runs in its own interpreter, in a temporary working directory,
with ``CORTEXBUILD_WEBHOOK_SECRET`` set, and must exit 0 within the timeout. An example whose source
mentions ``--self-test`` is run with that flag (so that running it without the flag may start a real
server for the reader); any other example must check itself when simply run.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES_DIR = ROOT / "examples"
TEST_SECRET = "whsec_examples_test_secret_0123456789"
TIMEOUT = 90


def find_examples(folder: Path) -> list[Path]:
    """Return the runnable examples of ``folder``: top-level modules and ``<folder>/app.py``."""
    found = [p for p in sorted(folder.glob("*.py")) if not p.name.startswith("_")]
    found += sorted(folder.glob("*/app.py"))
    return found


EXAMPLES = find_examples(EXAMPLES_DIR) if EXAMPLES_DIR.is_dir() else []


def command(example: Path) -> list[str]:
    """The command line that runs ``example`` in self-check mode."""
    args = [sys.executable, str(example)]
    if "--self-test" in example.read_text(encoding="utf-8"):
        args.append("--self-test")
    return args


def run(example: Path, workdir: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CORTEXBUILD_WEBHOOK_SECRET": TEST_SECRET, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        command(example),
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


@pytest.mark.parametrize(
    "example",
    EXAMPLES or [pytest.param(None, id="no-examples-yet")],
    ids=lambda p: p.relative_to(EXAMPLES_DIR).as_posix() if isinstance(p, Path) else str(p),
)
def test_example_runs_and_passes_its_self_check(example: Path | None, tmp_path: Path) -> None:
    if example is None:
        # No example yet: the harness must still have found the folder, and the folder must
        # really hold no Python file this harness would fail to run (say examples/x/main.py).
        assert EXAMPLES_DIR.is_dir(), f"{EXAMPLES_DIR} is missing"
        stray = sorted(p for p in EXAMPLES_DIR.rglob("*.py") if not p.name.startswith("_"))
        assert stray == [], f"examples the harness does not know how to run: {stray}"
        return
    proc = run(example, tmp_path)
    assert proc.returncode == 0, (
        f"{example.relative_to(ROOT)} exited with {proc.returncode}\n"
        f"--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"
    )


def test_every_python_file_in_examples_is_run_or_used_by_one() -> None:
    # A new layout (examples/x/main.py) must not silently escape the harness.
    if not EXAMPLES_DIR.is_dir():
        pytest.fail(f"{EXAMPLES_DIR} is missing")
    sources = "\n".join(p.read_text(encoding="utf-8") for p in EXAMPLES)
    for path in sorted(EXAMPLES_DIR.rglob("*.py")):
        if path in EXAMPLES or path.name == "__init__.py":
            continue
        module = path.stem
        assert module in sources, f"{path.relative_to(ROOT)} is neither an example nor imported"


def test_harness_reports_a_failing_example(tmp_path: Path) -> None:
    failing = tmp_path / "failing.py"
    failing.write_text("raise SystemExit(3)\n", encoding="utf-8")
    assert run(failing, tmp_path).returncode == 3
    flagged = tmp_path / "flagged.py"
    flagged.write_text(
        "import sys\nraise SystemExit(0 if sys.argv[1:] == ['--self-test'] else 4)\n",
        encoding="utf-8",
    )
    assert run(flagged, tmp_path).returncode == 0


def test_finder_picks_top_level_modules_and_folder_apps(tmp_path: Path) -> None:
    (tmp_path / "flask_app.py").write_text("", encoding="utf-8")
    (tmp_path / "_helpers.py").write_text("", encoding="utf-8")
    (tmp_path / "django_project").mkdir()
    (tmp_path / "django_project" / "app.py").write_text("", encoding="utf-8")
    (tmp_path / "django_project" / "settings.py").write_text("", encoding="utf-8")
    assert find_examples(tmp_path) == [
        tmp_path / "flask_app.py",
        tmp_path / "django_project" / "app.py",
    ]

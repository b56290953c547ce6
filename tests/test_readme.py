"""The README's two set-up commands are the ones CI runs."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
CI_RUN = (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def console_commands() -> list[str]:
    blocks = re.findall(r"```console\n(.*?)```", README, flags=re.S)
    return [line.strip() for block in blocks for line in block.splitlines() if line.strip()]


def test_readme_has_exactly_two_setup_commands_demo_then_tests() -> None:
    commands = console_commands()
    assert len(commands) == 2, commands
    demo, tests = commands
    assert demo.startswith("python3 -m venv .venv && ")
    assert demo.endswith("cortexhooks demo")
    assert tests.startswith("python3 -m venv .venv && ")
    assert "pytest" in tests


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    _, tests = console_commands()
    ci_lines = [line.strip() for line in CI_RUN.splitlines()]
    assert tests in ci_lines
    assert ci_lines[-1] == tests, "the test command must close the CI log (pytest's summary last)"


def test_demo_command_names_an_installed_console_script() -> None:
    demo, _ = console_commands()
    extra = re.search(r"-e '\.\[(\w+)\]'", demo)
    assert extra is not None
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert f"\n{extra.group(1)} = [" in pyproject
    assert 'cortexhooks = "cortexhooks_receiver.cli:main"' in pyproject

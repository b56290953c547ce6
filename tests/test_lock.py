"""The test environment is reproducible: the lock pins every package the dev extra installs."""

from __future__ import annotations

import os
import re
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "requirements" / "constraints.txt"


def _pins() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in LOCK.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, sep, version = line.partition("==")
            assert sep, f"every line of the lock is an exact pin: {line!r}"
            pins[canonicalize_name(name)] = version
    return pins


def _closure(root: str, extras: frozenset[str]) -> set[str]:
    """Return the names of ``root`` and of everything it requires with ``extras``, installed."""
    names: set[str] = set()
    todo = [(canonicalize_name(root), extras)]
    visited: set[tuple[str, frozenset[str]]] = set()
    while todo:
        name, wanted = todo.pop()
        if (name, wanted) in visited:
            continue
        visited.add((name, wanted))
        try:
            dist = distribution(name)
        except PackageNotFoundError:
            continue  # an environment marker excluded it (another platform's dependency)
        names.add(name)
        for text in dist.requires or []:
            requirement = Requirement(text)
            marker = requirement.marker
            if marker is None or any(marker.evaluate({"extra": e}) for e in wanted or {""}):
                todo.append((canonicalize_name(requirement.name), frozenset(requirement.extras)))
    return names


def test_lock_pins_every_package_the_dev_extra_installs() -> None:
    installed = _closure("cortexhooks-receiver", frozenset({"dev"}))
    installed.discard("cortexhooks-receiver")
    missing = sorted(installed - set(_pins()))
    assert missing == [], f"add these to {LOCK.name} (scripts/update-constraints): {missing}"


@pytest.mark.skipif(
    os.environ.get("CORTEXHOOKS_UNLOCKED") == "1",
    reason="scripts/test-latest tests the newest releases on purpose",
)
def test_installed_versions_are_the_locked_ones() -> None:
    # The README's command installs with -c: what runs the suite is what the lock says.
    pins = _pins()
    drifted = []
    for name in ("msgspec", "pytest", "hypothesis", "django", "flask", "starlette", "redis"):
        locked = pins[canonicalize_name(name)]
        actual = distribution(name).version
        if actual != locked:
            drifted.append(f"{name} {actual} (lock: {locked})")
    assert drifted == [], (
        "the venv was not installed from the lock; use the README's test command: "
        + ", ".join(drifted)
    )


def test_readme_and_ci_install_with_the_lock() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    flag = "-c requirements/constraints.txt"
    assert len(re.findall(re.escape(flag), readme)) == 2
    assert flag in ci

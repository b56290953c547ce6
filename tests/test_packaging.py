"""Packaging: the wheel is typed, the core imports only stdlib + msgspec, frameworks load lazily.

Import checks run in a fresh interpreter so that what other tests imported cannot hide a leak.
"""

from __future__ import annotations

import importlib.metadata
import json
import pkgutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

import cortexhooks_receiver

ROOT = Path(__file__).resolve().parent.parent
DIST_NAME = "cortexhooks-receiver"
ALLOWED_CORE_IMPORTS = {"cortexhooks_receiver", "msgspec"}
FRAMEWORKS = {
    "flask",
    "werkzeug",
    "django",
    "fastapi",
    "starlette",
    "pydantic",
    "redis",
    "httpx",
    "uvicorn",
    "gunicorn",
    "psycopg",
    "anyio",
    "hypothesis",
    "pytest",
}
ADAPTERS = ["flask", "fastapi", "starlette", "django", "wsgi", "asgi"]

# Prints the top-level modules that importing the given module added to sys.modules.
_NEW_MODULES = """
import json, sys
before = set(sys.modules)
import importlib
importlib.import_module(sys.argv[1])
added = {name.partition(".")[0] for name in set(sys.modules) - before}
print(json.dumps(sorted(added)))
"""


def imported_by(module: str) -> set[str]:
    """The top-level modules that ``import module`` loads in a fresh interpreter."""
    proc = subprocess.run(
        [sys.executable, "-c", _NEW_MODULES, module],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr
    added: list[str] = json.loads(proc.stdout.strip().splitlines()[-1])
    return set(added)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    proc = subprocess.run(
        [sys.executable, "-m", "hatchling", "build", "-t", "wheel", "-d", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (built,) = out.glob("*.whl")
    return built


def test_wheel_ships_py_typed(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    assert "cortexhooks_receiver/py.typed" in names
    assert "cortexhooks_receiver/__init__.py" in names


def test_wheel_ships_no_tests_caches_or_databases(wheel: Path) -> None:
    for name in zipfile.ZipFile(wheel).namelist():
        assert not name.startswith(("tests/", "benchmarks/", "docs/", "examples/")), name
        assert "__pycache__" not in name, name
        assert not name.endswith((".pyc", ".db", ".db-wal", ".db-shm")), name


def test_wheel_metadata_has_the_package_version(wheel: Path) -> None:
    archive = zipfile.ZipFile(wheel)
    (metadata,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
    text = archive.read(metadata).decode()
    assert f"Version: {cortexhooks_receiver.__version__}\n" in text
    assert "Requires-Dist: msgspec" in text


def test_core_import_loads_only_the_standard_library_and_msgspec() -> None:
    added = imported_by("cortexhooks_receiver")
    # msgspec itself picks up typing_extensions when installed: that is msgspec's, not ours.
    allowed = ALLOWED_CORE_IMPORTS | imported_by("msgspec")
    foreign = {name for name in added - allowed if name not in sys.stdlib_module_names}
    assert foreign == set()
    assert "cortexhooks_receiver" in added


def test_core_import_loads_no_framework_even_privately() -> None:
    assert imported_by("cortexhooks_receiver") & FRAMEWORKS == set()


def test_pytest_plugin_entry_point_exists_and_loads_no_framework() -> None:
    # pyproject declares the plugin; a missing module would break every user's pytest run.
    entry_points = importlib.metadata.entry_points(group="pytest11")
    (plugin,) = [ep for ep in entry_points if ep.value.startswith("cortexhooks_receiver")]
    assert plugin.value == "cortexhooks_receiver.testing.plugin"
    assert imported_by(plugin.value) & (FRAMEWORKS - {"pytest"}) == set()


def test_every_documented_adapter_exists() -> None:
    folder = ROOT / "cortexhooks_receiver" / "integrations"
    assert (folder / "__init__.py").exists()
    found = {m.name for m in pkgutil.iter_modules([str(folder)])}
    assert set(ADAPTERS) <= found


def test_integrations_package_imports_no_framework() -> None:
    assert imported_by("cortexhooks_receiver.integrations") & FRAMEWORKS == set()


@pytest.mark.parametrize("adapter", ["wsgi", "asgi", "django"])
def test_framework_free_adapter_modules_import_no_framework(adapter: str) -> None:
    # The Django app package loads Django only from its submodules (views, urls, apps, checks).
    assert imported_by(f"cortexhooks_receiver.integrations.{adapter}") & FRAMEWORKS == set()


# What each framework adapter may load: its framework and that framework's own dependencies.
OWN_FRAMEWORK = {
    "flask": {"flask", "werkzeug"},
    "fastapi": {"fastapi", "starlette", "pydantic", "anyio"},
    "starlette": {"starlette", "anyio"},
}


@pytest.mark.parametrize("adapter", list(OWN_FRAMEWORK))
def test_framework_adapter_imports_no_other_framework(adapter: str) -> None:
    loaded = imported_by(f"cortexhooks_receiver.integrations.{adapter}") & FRAMEWORKS
    assert loaded - OWN_FRAMEWORK[adapter] == set()


def test_version_is_defined_in_one_place() -> None:
    assert cortexhooks_receiver.__version__ == importlib.metadata.version(DIST_NAME)
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert pyproject["project"]["dynamic"] == ["version"]
    assert "version" not in pyproject["project"]
    assert pyproject["tool"]["hatch"]["version"]["path"] == "cortexhooks_receiver/_version.py"
    literal = f'"{cortexhooks_receiver.__version__}"'
    holders = [
        p.relative_to(ROOT).as_posix()
        for p in (ROOT / "cortexhooks_receiver").rglob("*.py")
        if literal in p.read_text(encoding="utf-8")
    ]
    assert holders == ["cortexhooks_receiver/_version.py"]

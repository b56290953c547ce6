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
    "aiohttp",
    "multidict",
    "litestar",
    "quart",
    "hypercorn",
    "falcon",
    "functions_framework",
}
ADAPTERS = [
    "flask",
    "fastapi",
    "starlette",
    "django",
    "wsgi",
    "asgi",
    "aiohttp",
    "litestar",
    "quart",
    "falcon",
    "aws_lambda",
    "gcp",
]

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


def test_wheel_ships_the_pages_static_files(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for name in ("inspector.html", "dashboard.html", "inspector.js", "dashboard.js", "common.js"):
        assert f"cortexhooks_receiver/inspector/static/{name}" in names
    assert "cortexhooks_receiver/inspector/static/page.css" in names


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


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_importing_an_adapter_module_imports_no_framework(adapter: str) -> None:
    # Each adapter imports its framework on first use (CortexHooks(app), webhook_router(...),
    # webhook_route(...), a request), never at module import; the Django app package loads
    # Django only from its submodules (views, urls, apps, checks).
    assert imported_by(f"cortexhooks_receiver.integrations.{adapter}") & FRAMEWORKS == set()


# Calls that need the framework, run with the framework hidden (``sys.modules[name] = None``).
_MISSING_FRAMEWORK = """
import sys
sys.modules[sys.argv[1]] = None
from cortexhooks_receiver import Receiver
from cortexhooks_receiver.integrations import (
    aiohttp, falcon, fastapi, flask, gcp, litestar, quart, starlette,
)
receiver = Receiver("whsec_x")
calls = {
    "flask": lambda: flask.CortexHooks(),
    "fastapi": lambda: fastapi.webhook_router(receiver),
    "fastapi.verified_event": lambda: fastapi.verified_event(receiver),
    "starlette": lambda: starlette.webhook_route(receiver),
    "aiohttp": lambda: aiohttp.webhook_handler(receiver),
    "litestar": lambda: litestar.webhook_route(receiver),
    "quart": lambda: quart.CortexHooks(),
    "falcon": lambda: falcon.WebhookResource(receiver),
    "gcp": lambda: gcp.cloud_function(receiver),
}
try:
    calls[sys.argv[2]]()
except ImportError as exc:
    print(str(exc))
else:
    print("no error")
"""


@pytest.mark.parametrize(
    ("hidden", "call", "extra"),
    [
        ("flask", "flask", "flask"),
        ("fastapi", "fastapi", "fastapi"),
        ("fastapi", "fastapi.verified_event", "fastapi"),
        ("starlette", "starlette", "starlette"),
        ("aiohttp", "aiohttp", "aiohttp"),
        ("litestar", "litestar", "litestar"),
        ("quart", "quart", "quart"),
        ("falcon", "falcon", "falcon"),
        ("flask", "gcp", "gcp"),
    ],
)
def test_missing_framework_raises_an_import_error_naming_the_pip_extra(
    hidden: str, call: str, extra: str
) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", _MISSING_FRAMEWORK, hidden, call],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr
    message = proc.stdout.strip()
    assert f"pip install 'cortexhooks-receiver[{extra}]'" in message
    assert f"needs {hidden}" in message


def test_require_returns_the_module_when_installed_and_names_the_extra_when_not() -> None:
    from cortexhooks_receiver.integrations._common import require

    assert require("json", "flask") is json
    with pytest.raises(ImportError, match=r"pip install 'cortexhooks-receiver\[redis\]'") as info:
        require("cortexhooks_no_such_module", "redis")
    assert info.value.name == "cortexhooks_no_such_module"


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

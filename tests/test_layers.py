"""Dependencies point down: what each part of the package may import, checked on the source.

Runtime code never imports the test helpers, a server never imports its client, a command never
imports a sibling command, and no modules import each other. Read statically (ast), so a lazy
import inside a function counts as much as one at the top of a module.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "cortexhooks_receiver"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports, and every ``module.name`` it imports from one."""
    package = _module_name(path) if path.name == "__init__.py" else _module_name(path.parent)
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


MODULES = {_module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _importers_of(target: str, *, outside: str) -> list[str]:
    return sorted(
        name
        for name, path in MODULES.items()
        if not (name == outside or name.startswith(outside + "."))
        and any(i == target or i.startswith(target + ".") for i in _imports(path))
    )


def test_the_import_reader_sees_relative_and_lazy_imports() -> None:
    imports = _imports(MODULES["cortexhooks_receiver.testing.plugin"])
    assert "cortexhooks_receiver.testing.factories.make_body" in imports  # inside a function
    assert "cortexhooks_receiver.errors.CortexHooksError" in _imports(
        MODULES["cortexhooks_receiver.sender.errors"]
    )
    assert "cortexhooks_receiver.sender.errors.NoResponseError" in _imports(
        MODULES["cortexhooks_receiver.sender.sender"]  # from .errors import ...
    )


@pytest.mark.parametrize("helpers", ["cortexhooks_receiver.testing"])
def test_runtime_code_never_imports_the_test_helpers(helpers: str) -> None:
    assert _importers_of(helpers, outside=helpers) == []


def test_the_emulator_never_imports_the_client_of_its_api() -> None:
    # Both speak the wire models of cortexhooks_receiver.management; a server needs no client.
    emulator = [name for name in MODULES if name.startswith("cortexhooks_receiver.emulator")]
    assert emulator
    for name in emulator:
        assert not any(i.startswith("cortexhooks_receiver.client") for i in _imports(MODULES[name]))


def _commands() -> list[str]:
    # The modules cli/__init__.py registers as commands (`from . import demo, events, ...`).
    tree = ast.parse(MODULES["cortexhooks_receiver.cli"].read_text(encoding="utf-8"))
    return sorted(
        f"cortexhooks_receiver.cli.{alias.name}"
        for node in tree.body
        if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module is None
        for alias in node.names
    )


def test_a_command_never_imports_a_sibling_command() -> None:
    commands = _commands()
    assert {"cortexhooks_receiver.cli.serve", "cortexhooks_receiver.cli.trigger"} <= set(commands)
    for command in commands:
        siblings = [
            other
            for other in commands
            if other != command
            and any(i == other or i.startswith(other + ".") for i in _imports(MODULES[command]))
        ]
        assert siblings == [], command


def _runtime_edges(path: Path) -> set[str]:
    """The package modules ``path`` imports when it runs (``if TYPE_CHECKING:`` blocks aside)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and ast.unparse(node.test).endswith("TYPE_CHECKING"):
            node.body = []
    package = _module_name(path) if path.name == "__init__.py" else _module_name(path.parent)
    edges: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1]
            module = (
                ".".join([*base, *([node.module] if node.module else [])])
                if node.level
                else node.module or ""
            )
            # `from package import submodule` depends on the submodule, else on the module.
            edges.update(
                f"{module}.{alias.name}" if f"{module}.{alias.name}" in MODULES else module
                for alias in node.names
            )
        elif isinstance(node, ast.Import):
            edges.update(alias.name for alias in node.names)
    return edges & set(MODULES)


def _cycle_from(start: str, graph: dict[str, set[str]]) -> list[str] | None:
    stack: list[tuple[str, list[str]]] = [(start, [start])]
    seen: set[str] = set()
    while stack:
        module, path = stack.pop()
        for target in sorted(graph[module]):
            if target == start:
                return [*path, start]
            if target not in seen:
                seen.add(target)
                stack.append((target, [*path, target]))
    return None


def test_no_modules_import_each_other() -> None:
    graph = {name: _runtime_edges(path) for name, path in MODULES.items()}
    assert "cortexhooks_receiver.emulator.app" in graph["cortexhooks_receiver.emulator.core"]
    cycles = [c for c in (_cycle_from(name, graph) for name in sorted(graph)) if c is not None]
    assert cycles == []

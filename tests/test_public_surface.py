"""The public surface is honest: what one module imports from another is in its ``__all__``.

Every ``from cortexhooks_receiver.x import name`` inside the package names either a submodule,
a private name (``_name``), or a name listed in ``x.__all__``. Read from the source (ast), so
modules that need a configured framework (Django) are checked too.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "cortexhooks_receiver"
ROOT = PACKAGE.parent


def _source_of(module: str) -> Path | None:
    path = ROOT.joinpath(*module.split("."))
    if (path / "__init__.py").is_file():
        return path / "__init__.py"
    file = path.with_suffix(".py")
    return file if file.is_file() else None


def _declared_all(path: Path) -> set[str] | None:
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AnnAssign):
            targets = [node.target]
        else:
            continue
        if any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets):
            assert node.value is not None
            return set(ast.literal_eval(node.value))
    return None


def _imported_names(path: Path) -> list[tuple[int, str, str]]:
    """``(line, module, name)`` for every ``from <package module> import name`` in ``path``."""
    parts = path.relative_to(ROOT).with_suffix("").parts
    package = list(parts[:-1])
    found: list[tuple[int, str, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.ImportFrom):
            continue
        if node.level:
            base = package[: len(package) - node.level + 1]
            module = ".".join([*base, *([node.module] if node.module else [])])
        else:
            module = node.module or ""
        if module.split(".")[0] == PACKAGE.name:
            found.extend((node.lineno, module, alias.name) for alias in node.names)
    return found


def _undeclared_imports() -> list[str]:
    undeclared: list[str] = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for line, module, name in _imported_names(path):
            if name.startswith("_") or _source_of(f"{module}.{name}") is not None:
                continue
            source = _source_of(module)
            declared = _declared_all(source) if source is not None else None
            if declared is None or name not in declared:
                undeclared.append(f"{path.relative_to(ROOT)}:{line} imports {module}.{name}")
    return undeclared


def test_every_name_imported_across_modules_is_in_its_modules_all() -> None:
    assert _undeclared_imports() == []


def test_the_check_reads_relative_imports_and_all() -> None:
    starlette = {item[1:] for item in _imported_names(PACKAGE / "integrations" / "starlette.py")}
    assert ("cortexhooks_receiver.integrations.asgi", "WebhookMiddleware") in starlette
    emulator = {item[1:] for item in _imported_names(PACKAGE / "emulator" / "__init__.py")}
    assert ("cortexhooks_receiver.emulator.core", "Emulator") in emulator
    declared = _declared_all(PACKAGE / "signature.py")
    assert declared is not None
    assert "authenticate" in declared

"""The documentation site builds with ``mkdocs build --strict``: every nav page exists, every link
and anchor resolves, and every API docstring parses.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from mkdocs.config import load_config

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def _nav_pages(entries: list[Any]) -> list[str]:
    pages: list[str] = []
    for entry in entries:
        value = next(iter(entry.values())) if isinstance(entry, dict) else entry
        if isinstance(value, list):
            pages.extend(_nav_pages(value))
        else:
            pages.append(str(value))
    return pages


def _load_config() -> Any:
    return load_config(str(ROOT / "mkdocs.yml"))


def test_every_nav_page_exists() -> None:
    missing = [p for p in _nav_pages(_load_config()["nav"]) if not (DOCS / p).is_file()]
    assert missing == []


def test_nav_has_the_documented_sections() -> None:
    titles = [next(iter(entry)) for entry in _load_config()["nav"]]
    for title in ("Home", "Quickstart", "Events reference", "Security", "Testing", "CLI"):
        assert title in titles
    for title in ("Sender", "Troubleshooting", "Benchmarks", "API reference"):
        assert title in titles


def test_site_builds_in_strict_mode(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (tmp_path / "site" / "security" / "index.html").is_file()
    api = (tmp_path / "site" / "api" / "index.html").read_text(encoding="utf-8")
    assert "cortexhooks_receiver.Receiver" in api
    assert "signature_mismatch" in api or "SignatureMismatch" in api

"""Every ```python block of the docs and the README runs, as its own test (id = file:line).

The blocks of one page share one namespace and run in page order, so a page can build an example up
step by step. Each page runs in a fresh interpreter (a subprocess), in a temporary working
directory, with ``CORTEXBUILD_WEBHOOK_SECRET`` set to a test secret: what a page registers on the
module-level router or writes to disk cannot leak into other tests.

A block opts out only with the line ``<!-- not-executed: <reason> -->`` right before its fence.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
README = ROOT / "README.md"
TEST_SECRET = "whsec_docs_test_secret_0123456789abcdef"
PAGE_TIMEOUT = 120

_OPEN = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})\s*(?P<info>[^`\s]*)[^`]*$")
_SKIP = re.compile(r"^\s*<!--\s*not-executed:\s*(?P<reason>\S.*?)\s*-->\s*$")


@dataclass(frozen=True)
class Block:
    """One fenced ```python block: where it is and its dedented source."""

    path: Path
    line: int  # 1-based line number of the first line of code (the line after the fence)
    code: str
    skip_reason: str | None

    @property
    def id(self) -> str:
        return f"{self.path.relative_to(ROOT).as_posix()}:{self.line}"


def parse_blocks(path: Path, text: str) -> list[Block]:
    """Return the python blocks of one Markdown text, in order (nested fences are respected)."""
    lines = text.splitlines()
    blocks: list[Block] = []
    index = 0
    while index < len(lines):
        opened = _OPEN.match(lines[index])
        if opened is None:
            index += 1
            continue
        indent, fence, info = opened["indent"], opened["fence"], opened["info"].lower()
        closing = re.compile(rf"^[ \t]*{re.escape(fence[0])}{{{len(fence)},}}\s*$")
        body: list[str] = []
        end = index + 1
        while end < len(lines) and not closing.match(lines[end]):
            line = lines[end]
            body.append(line[len(indent) :] if line.startswith(indent) else line.lstrip())
            end += 1
        if info in ("python", "py", "python3"):
            previous = lines[index - 1] if index > 0 else ""
            skipped = _SKIP.match(previous)
            blocks.append(
                Block(
                    path=path,
                    line=index + 2,
                    code="\n".join(body) + "\n",
                    skip_reason=skipped["reason"] if skipped else None,
                )
            )
        index = end + 1
    return blocks


def markdown_files() -> list[Path]:
    """The pages whose python blocks are executed: docs/**/*.md and the README."""
    files = sorted(DOCS.rglob("*.md")) if DOCS.is_dir() else []
    if README.exists():
        files.append(README)
    return files


def collect() -> list[Block]:
    blocks: list[Block] = []
    for path in markdown_files():
        blocks.extend(parse_blocks(path, path.read_text(encoding="utf-8")))
    return blocks


BLOCKS = collect()

# Runs in the child interpreter: execs the blocks of one page in one namespace, in order, and
# writes one result per block. The source is padded so tracebacks show the Markdown line numbers.
_RUNNER = r"""
import json, sys, traceback
spec = json.loads(sys.stdin.read())
namespace = {"__name__": "__docs_example__"}
results = {}
for block in spec["blocks"]:
    source = "\n" * (block["line"] - 1) + block["code"]
    try:
        exec(compile(source, spec["path"], "exec"), namespace)
    except BaseException:
        results[str(block["line"])] = traceback.format_exc()
    else:
        results[str(block["line"])] = None
    sys.stdout.flush()
with open(spec["out"], "w", encoding="utf-8") as handle:
    json.dump(results, handle)
"""


class PageRuns:
    """Runs each page once per session (all its executed blocks) and remembers the results."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.results: dict[Path, tuple[dict[str, str | None], str]] = {}

    def result(self, block: Block) -> tuple[str | None, str]:
        if block.path not in self.results:
            self.results[block.path] = self._run(block.path)
        outcomes, output = self.results[block.path]
        if str(block.line) not in outcomes:
            return "the page stopped before this block ran (see output)", output
        return outcomes[str(block.line)], output

    def _run(self, path: Path) -> tuple[dict[str, str | None], str]:
        workdir = self.base / re.sub(r"[^A-Za-z0-9_.-]", "_", path.relative_to(ROOT).as_posix())
        workdir.mkdir(parents=True, exist_ok=True)
        out = workdir / "_results.json"
        spec: dict[str, Any] = {
            "path": str(path),
            "out": str(out),
            "blocks": [
                {"line": b.line, "code": b.code}
                for b in BLOCKS
                if b.path == path and b.skip_reason is None
            ],
        }
        env = {**os.environ, "CORTEXBUILD_WEBHOOK_SECRET": TEST_SECRET, "PYTHONPATH": str(ROOT)}
        proc = subprocess.run(
            [sys.executable, "-c", _RUNNER],
            input=json.dumps(spec),
            capture_output=True,
            text=True,
            cwd=workdir,
            env=env,
            timeout=PAGE_TIMEOUT,
            check=False,
        )
        output = (
            f"exit code {proc.returncode}\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"
        )
        if not out.exists():
            return {}, output
        outcomes: dict[str, str | None] = json.loads(out.read_text(encoding="utf-8"))
        return outcomes, output


@pytest.fixture(scope="session")
def page_runs(tmp_path_factory: pytest.TempPathFactory) -> PageRuns:
    return PageRuns(tmp_path_factory.mktemp("docs-examples"))


def test_harness_finds_the_docs_and_their_python_blocks() -> None:
    assert DOCS.is_dir()
    assert README.exists()
    assert any(b.path.parent == DOCS for b in BLOCKS), "no python block found in docs/*.md"


@pytest.mark.parametrize(
    "block",
    [b for b in BLOCKS if b.skip_reason is None] or [pytest.param(None, id="no-blocks")],
    ids=lambda b: b.id if isinstance(b, Block) else "no-blocks",
)
def test_docs_python_block_runs(block: Block | None, page_runs: PageRuns) -> None:
    assert block is not None, "no executable python block was found in the docs"
    error, output = page_runs.result(block)
    if error is not None:
        pytest.fail(f"{block.id} raised:\n{error}\n{output}", pytrace=False)


def test_opted_out_blocks_give_a_reason() -> None:
    # The regex requires a non-empty reason; this pins that every opt-out is one we understood.
    for block in BLOCKS:
        if block.skip_reason is not None:
            assert block.skip_reason.strip(), block.id


# --- the parser itself ---------------------------------------------------------------------------

SAMPLE = """\
# Title

```python
a = 1
```

<!-- not-executed: needs a real CortexBuild account -->
```python
raise SystemExit("never")
```

````markdown
```python
not_a_block = True
```
````

1. In a list:

    ```python
    b = a + 1
    ```

```pycon
>>> 1
```

~~~py
c = b
~~~
"""


def test_parser_finds_blocks_with_their_line_numbers_and_opt_outs() -> None:
    blocks = parse_blocks(ROOT / "docs" / "sample.md", SAMPLE)
    assert [(b.line, b.code, b.skip_reason) for b in blocks] == [
        (4, "a = 1\n", None),
        (9, 'raise SystemExit("never")\n', "needs a real CortexBuild account"),
        (21, "b = a + 1\n", None),
        (29, "c = b\n", None),
    ]
    assert blocks[0].id == "docs/sample.md:4"


def test_opt_out_needs_the_marker_on_the_line_right_before_the_fence() -> None:
    text = "<!-- not-executed: reason -->\n\n```python\nx = 1\n```\n"
    (block,) = parse_blocks(ROOT / "README.md", text)
    assert block.skip_reason is None
    empty_reason = "<!-- not-executed: -->\n```python\nx = 1\n```\n"
    (block,) = parse_blocks(ROOT / "README.md", empty_reason)
    assert block.skip_reason is None


def test_blocks_of_a_page_share_a_namespace_and_failures_are_reported(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    text = "```python\nvalue = 41\n```\n\n```python\nassert value == 42, 'boom'\n```\n"
    page.write_text(text, encoding="utf-8")
    blocks = parse_blocks(page, text)
    spec = {
        "path": str(page),
        "out": str(tmp_path / "out.json"),
        "blocks": [{"line": b.line, "code": b.code} for b in blocks],
    }
    subprocess.run([sys.executable, "-c", _RUNNER], input=json.dumps(spec), text=True, check=True)
    results = json.loads((tmp_path / "out.json").read_text(encoding="utf-8"))
    assert results["2"] is None
    assert "AssertionError: boom" in results["6"]
    assert f'File "{page}", line 6' in results["6"]

"""The generated typed ``on()`` overloads: mypy accepts the right handler type, refuses a wrong one.

Also checks that every generated file (event classes, overloads, docs reference) is what the
catalog table generates today: editing the table without re-running the generator fails here.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "generate_events", ROOT / "scripts" / "generate_events.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    "path",
    [
        "cortexhooks_receiver/events/_classes.py",
        "cortexhooks_receiver/_typed_on.py",
        "docs/events.md",
    ],
)
def test_generated_file_matches_the_catalog_table(path: str) -> None:
    generated = _generator().render_all()[path]
    current = (ROOT / path).read_text(encoding="utf-8")
    assert current == generated, f"{path} drifted: run python scripts/generate_events.py"


def test_every_catalog_name_has_an_overload() -> None:
    from cortexhooks_receiver.events import CATALOG

    source = (ROOT / "cortexhooks_receiver/_typed_on.py").read_text(encoding="utf-8")
    literals = set(re.findall(r'Literal\["([^"]+)"\]', source))
    assert {spec.name for spec in CATALOG} <= literals
    assert {f"{prefix}.*" for prefix in CATALOG.prefixes} | {"*"} <= literals


GOOD = """\
from typing import Any

from cortexhooks_receiver.events import (
    AnyEvent, AnyInvoiceEvent, Event, Invoice, InvoicePaid, TaskCompleted
)
from cortexhooks_receiver.routing import Router, on

router = Router()


@router.on("invoice.paid")
def paid(event: InvoicePaid) -> None:
    print(event.data.amount)


@on("task.completed")
async def completed(event: TaskCompleted) -> None:
    print(event.data.completed_at)


@router.on("invoice.paid")
def broader(event: Event[Invoice]) -> int:
    return 1


@router.on("invoice.*")
def invoices(event: AnyInvoiceEvent) -> None: ...


@router.on("*")
def everything(event: AnyEvent) -> None: ...


@router.on("invoice.paid", "invoice.sent")
def several(event: Any) -> None: ...


@router.on("crane.moved", allow_unknown=True)
def unknown(event: Any) -> None: ...


@router.on("invoice.paid", project_ids={"proj-1"}, where=lambda e: e.data.amount is not None)
def filtered(event: InvoicePaid) -> None: ...


@router.on("invoice.*", company_ids=["comp-1"], where=lambda e: e.company_id == "comp-1")
def filtered_family(event: AnyInvoiceEvent) -> None: ...


@router.on(["invoice.paid", "task.completed"], where=lambda e: e.user_id is not None)
def filtered_list(event: Any) -> None: ...


reveal_type(paid)
reveal_type(filtered)
"""

BAD = """\
from cortexhooks_receiver.events import InvoicePaid, TaskCompleted
from cortexhooks_receiver.routing import Router, on

router = Router()


@router.on("invoice.paid")  # E
def paid(event: TaskCompleted) -> None: ...


@on("invoice.paid")  # E
async def paid_async(event: TaskCompleted) -> None: ...


@router.on("invoice.*")  # E
def family(event: InvoicePaid) -> None: ...


@router.on("*")  # E
def everything(event: InvoicePaid) -> None: ...


@router.on("invoice.paid", where=lambda e: e.data.title)  # E
def where_reads_a_field_invoices_lack(event: InvoicePaid) -> None: ...


def is_paid(event: InvoicePaid) -> bool:
    return True


@router.on("task.completed", where=is_paid)  # E
def where_of_another_event(event: TaskCompleted) -> None: ...
"""


@pytest.fixture(scope="module")
def mypy_output(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    """Run mypy --strict once over both snippets; return its output lines per snippet."""
    folder = tmp_path_factory.mktemp("typed_on")
    (folder / "good.py").write_text(GOOD)
    (folder / "bad.py").write_text(BAD)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--follow-imports=silent",
            "--no-error-summary",
            "--cache-dir",
            str(folder / ".mypy_cache"),
            "good.py",
            "bad.py",
        ],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stdout.splitlines()
    return {name: [line for line in lines if line.startswith(name)] for name in ("good", "bad")}


def test_handlers_annotated_with_the_events_type_pass_mypy(
    mypy_output: dict[str, list[str]],
) -> None:
    errors = [line for line in mypy_output["good"] if ": error:" in line]
    assert errors == []
    notes = [line for line in mypy_output["good"] if "Revealed type" in line]
    assert notes
    assert "def (event: cortexhooks_receiver.events._classes.InvoicePaid)" in notes[0]
    assert "def (event: cortexhooks_receiver.events._classes.InvoicePaid)" in notes[1]


def test_handlers_annotated_with_a_wrong_event_type_fail_mypy(
    mypy_output: dict[str, list[str]],
) -> None:
    expected = {
        number
        for number, line in enumerate(textwrap.dedent(BAD).splitlines(), start=1)
        if line.endswith("# E")
    }
    flagged = {int(line.split(":")[1]) for line in mypy_output["bad"] if ": error:" in line}
    assert flagged == expected, "\n".join(mypy_output["bad"])

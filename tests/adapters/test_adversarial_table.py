"""The published adversarial matrix (``docs/adversarial-matrix.md``) is the list the tests run.

The page is generated from ``adversarial_cases.py`` by ``scripts/generate_adversarial_table.py``:
editing the list without re-running the generator fails here. The list is also held to what the
issue asks of it: at least 60 cases, every row of the pipeline table, every kind of hostile
request it names.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

from adversarial_cases import CASES, Ctx

ROOT = Path(__file__).resolve().parents[2]


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "generate_adversarial_table", ROOT / "scripts" / "generate_adversarial_table.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_checked_in_page_is_what_the_list_generates() -> None:
    generator = _generator()
    current = (ROOT / generator.DOCS_PATH).read_text(encoding="utf-8")
    assert current == generator.render(), (
        "docs/adversarial-matrix.md drifted: run python scripts/generate_adversarial_table.py"
    )


def test_the_generator_checks_from_the_command_line() -> None:
    script = ROOT / "scripts" / "generate_adversarial_table.py"
    proc = subprocess.run(
        [sys.executable, str(script), "--check"], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_page_is_in_the_docs_navigation_and_linked() -> None:
    assert "adversarial-matrix.md" in (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    assert "adversarial-matrix.md" in (ROOT / "docs" / "security.md").read_text(encoding="utf-8")


def test_the_list_has_at_least_sixty_distinct_cases() -> None:
    ids = [case.id for case in CASES]
    assert len(ids) >= 60
    assert len(ids) == len(set(ids))


def test_every_row_of_the_pipeline_table_is_a_case() -> None:
    said = {
        (expect.status, expect.code)
        for case in CASES
        for step in case.steps
        for expect in step.expect.options()
    }
    pipeline = {
        (405, "method_not_allowed"),
        (413, "payload_too_large"),
        (415, "unsupported_media_type"),
        (401, "missing_signature"),
        (401, "malformed_signature"),
        (401, "missing_timestamp"),
        (401, "invalid_timestamp"),
        (401, "timestamp_out_of_tolerance"),
        (401, "signature_mismatch"),
        (400, "invalid_payload"),
        (401, "event_too_old"),
        (400, "invalid_delivery_id"),
        (200, "duplicate"),
        (409, "in_progress"),
        (503, "store_unavailable"),
        (500, "handler_error"),
        (200, "received"),
        (429, "rate_limited"),
        (401, "unknown_webhook"),
        (202, "queued"),
        (503, "queue_unavailable"),
        (400, "invalid_content_length"),
    }
    assert pipeline - said == set()


def test_the_list_sends_every_kind_of_hostile_request_the_issue_names() -> None:
    ctx = Ctx(1_700_000_000_000, "dlv-kinds")
    requests = [step.build(ctx) for case in CASES for step in case.steps]
    framings = {r.framing for r in requests}
    assert {"chunked", "chunked+length"} <= framings
    lengths = [r for r in requests if r.content_length is not None]
    assert any(
        r.content_length and r.content_length.isdigit() and int(r.content_length) > len(r.body)
        for r in lengths
    )
    assert any(
        r.content_length and r.content_length.isdigit() and int(r.content_length) < len(r.body)
        for r in lengths
    )
    assert any(r.pieces > 1 for r in requests)  # slow bodies
    assert any(case.pipelined for case in CASES)
    assert any(r.version == "HTTP/1.0" and not r.host for r in requests)
    assert any(len(v) >= 100_000 for r in requests for _, v in r.headers)
    methods = {r.method for r in requests}
    assert {"GET", "PUT", "HEAD", "OPTIONS"} <= methods
    names = [name for r in requests for name, _ in r.headers]
    assert any(name.lower() == "x-http-method-override" for name in names)
    assert any("_method=" in r.target for r in requests)
    assert any(name.startswith("HTTP_X_CORTEXBUILD_") for name in names)
    repeated = [r for r in requests if len({n.lower() for n, _ in r.headers}) < len(r.headers)]
    assert any(r.header("x-cortexbuild-timestamp") for r in repeated)
    assert any(b"1e1000000000000000000" in r.body for r in requests)
    assert any(r.body == b"" and r.header("x-cortexbuild-signature") for r in requests)

"""``cortexhooks journal TARGET list | show ID | rerun ID``: in-process through ``main([...])``,
on a user module found by ``MODULE:ATTR`` the way gunicorn finds an app, plus one real process.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import cortexhooks_receiver as ch
from cortexhooks_receiver.cli import main
from cortexhooks_receiver.cli.journal import parse_since

SECRET = "whsec_K2Fj8sL3mN9pQ4rT7vX1yZ5bC6dE8fG"

# The user's module: a receiver with a SQLite journal (bodies kept) and a flaky handler.
APP = """
import cortexhooks_receiver as ch
from cortexhooks_receiver.integrations.wsgi import WebhookApp

SECRET = "whsec_K2Fj8sL3mN9pQ4rT7vX1yZ5bC6dE8fG"
receiver = ch.Receiver(SECRET, router=ch.Router(), store="sqlite:///hooks.db",
                       journal="sqlite:///hooks.db", journal_bodies=BODIES)
bare = ch.Receiver(SECRET, router=ch.Router())
app = WebhookApp(receiver)
not_a_receiver = 42
ran = []


@receiver.on("task.completed")
def completed(event):
    ran.append(event.delivery_id)
    if event.data.id == "flaky" and ran.count(event.delivery_id) == 1:
        raise RuntimeError("first attempt fails")
"""


def run_cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def body_of(task: str = "t-1", event: str = "task.completed") -> bytes:
    payload = {"event": event, "timestamp": time.time_ns() // 1_000_000, "data": {"id": task}}
    return json.dumps(payload).encode()


def send(receiver: ch.Receiver, body: bytes, delivery_id: str, secret: str = SECRET) -> int:
    event = json.loads(body)["event"]
    headers = ch.sign(body, secret, event=event, delivery_id=delivery_id)
    headers["Content-Type"] = "application/json"
    return receiver.handle(body, headers, client="203.0.113.7").status


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Any]]:
    """A module of the user's in the working directory: its name and the imported module."""
    name = f"hooks_{uuid.uuid4().hex}"
    (tmp_path / f"{name}.py").write_text(APP.replace("BODIES", "True"), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    module = __import__(name)
    yield name, module
    module.receiver.store.close()
    module.receiver.journal.close()
    sys.modules.pop(name, None)


@pytest.fixture
def journaled(project: tuple[str, Any]) -> tuple[str, Any]:
    """The project after four requests: processed, duplicate, a failed handler, a forgery."""
    name, module = project
    receiver = module.receiver
    assert send(receiver, body_of("t-1"), "dlv_1") == 200  # receipt 1
    assert send(receiver, body_of("t-1"), "dlv_1") == 200  # 2: a duplicate
    assert send(receiver, body_of("flaky"), "dlv_2") == 500  # 3: the handler failed
    assert send(receiver, body_of("t-3", "invoice.paid"), "dlv_3", "whsec_wrong") == 401  # 4
    return name, module


def test_list_shows_the_newest_receipts_first(journaled: tuple[str, Any]) -> None:
    name, _ = journaled
    code, out, _ = run_cli("journal", f"{name}:receiver", "list")
    lines = out.splitlines()
    assert code == 0
    assert lines[0].split() == [
        "ID", "RECEIVED", "(UTC)", "STATUS", "RESULT", "EVENT", "DELIVERY", "MS", "CLIENT",
    ]  # fmt: skip
    rows = [line.split() for line in lines[2:]]
    assert [(r[0], r[3], r[4], r[5], r[6]) for r in rows] == [
        ("4", "401", "signature_mismatch", "invoice.paid", "dlv_3"),
        ("3", "500", "handler_error", "task.completed", "dlv_2"),
        ("2", "200", "duplicate", "task.completed", "dlv_1"),
        ("1", "200", "ok", "task.completed", "dlv_1"),
    ]
    assert all(r[-1] == "203.0.113.7" for r in rows)


@pytest.mark.parametrize(
    ("flags", "ids"),
    [
        (["--code", "handler_error"], [3]),
        (["--event", "invoice.*"], [4]),
        (["--event", "task.completed", "--limit", "2"], [3, 2]),
        (["--since", "1h"], [4, 3, 2, 1]),
        (["--since", "2000-01-01T00:00:00"], [4, 3, 2, 1]),
        (["--since", "2999-01-01T00:00:00Z"], []),
    ],
)
def test_list_filters_and_prints_json(
    journaled: tuple[str, Any], flags: list[str], ids: list[int]
) -> None:
    name, _ = journaled
    code, out, _ = run_cli("journal", f"{name}:receiver", "list", "--json", *flags)
    receipts = json.loads(out)
    assert code == 0
    assert [r["id"] for r in receipts] == ids


def test_list_json_speaks_camel_case_with_the_body_as_text(journaled: tuple[str, Any]) -> None:
    name, _ = journaled
    _, out, _ = run_cli("journal", f"{name}:receiver", "list", "--json", "--limit", "1")
    receipt = json.loads(out)[0]
    assert {"receivedAt", "deliveryId", "webhookId", "latencyMs", "secretIndex"} <= set(receipt)
    assert json.loads(receipt["body"])["event"] == "invoice.paid"
    assert datetime.fromisoformat(receipt["receivedAt"]).tzinfo is not None


def test_list_reads_a_journal_url_without_any_code(journaled: tuple[str, Any]) -> None:
    code, out, _ = run_cli("journal", "sqlite:///hooks.db", "list", "--code", "handler_error")
    assert code == 0
    assert "dlv_2" in out
    assert "dlv_1" not in out


def test_list_of_an_empty_journal_says_so(project: tuple[str, Any]) -> None:
    name, _ = project
    assert run_cli("journal", f"{name}:receiver", "list")[:2] == (0, "No receipts.\n")


def test_show_prints_every_field_and_the_body(journaled: tuple[str, Any]) -> None:
    name, _ = journaled
    code, out, _ = run_cli("journal", f"{name}:receiver", "show", "3")
    assert code == 0
    assert out.startswith("Receipt 3\n")
    assert "  status:       500 handler_error\n" in out
    assert "  error:        RuntimeError: first attempt fails\n" in out
    assert "  delivery id:  dlv_2\n" in out
    assert '      "id": "flaky"' in out  # the body, pretty
    assert SECRET not in out


def test_show_json_is_the_whole_receipt(journaled: tuple[str, Any]) -> None:
    name, _ = journaled
    code, out, _ = run_cli("journal", f"{name}:app", "show", "4", "--json")
    receipt = json.loads(out)
    assert code == 0
    assert (receipt["id"], receipt["code"], receipt["secretIndex"]) == (
        4,
        "signature_mismatch",
        None,
    )


def test_show_of_an_unknown_receipt_fails_with_exit_1(journaled: tuple[str, Any]) -> None:
    name, _ = journaled
    code, out, err = run_cli("journal", f"{name}:receiver", "show", "99")
    assert (code, out) == (1, "")
    assert "no receipt 99" in err


def test_rerun_runs_a_failed_delivery_then_finds_it_a_duplicate(
    journaled: tuple[str, Any],
) -> None:
    name, module = journaled
    code, out, _ = run_cli("journal", f"{name}:receiver", "rerun", "3")
    assert (code, out) == (0, "Rerun of receipt 3: 200, processed: its handlers ran\n")
    assert module.ran.count("dlv_2") == 2
    code, out, _ = run_cli("journal", f"{name}:receiver", "rerun", "3", "--json")
    assert code == 0
    assert json.loads(out) == {
        "receipt": 3,
        "status": 200,
        "duplicate": True,
        "error": None,
        "answer": {"received": True, "duplicate": True},
    }
    assert module.ran.count("dlv_2") == 2  # nothing ran the second time
    _, listed, _ = run_cli("journal", f"{name}:receiver", "list", "--limit", "2")
    assert listed.count("rerun:3") == 2  # each rerun has a receipt of its own


def test_rerun_of_a_forged_delivery_is_refused_again(journaled: tuple[str, Any]) -> None:
    name, _ = journaled
    code, out, _ = run_cli("journal", f"{name}:receiver", "rerun", "4")
    assert code == 1
    assert out.startswith("Rerun of receipt 4: 401, refused: signature_mismatch: ")


def test_rerun_without_stored_bodies_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = f"hooks_{uuid.uuid4().hex}"
    (tmp_path / f"{name}.py").write_text(APP.replace("BODIES", "False"), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    try:
        code, _, _ = run_cli("journal", f"{name}:receiver", "list")  # imports the module
        module = sys.modules[name]
        send(module.receiver, body_of("flaky"), "dlv_9")
        code, out, err = run_cli("journal", f"{name}:receiver", "rerun", "1")
        assert (code, out) == (1, "")
        assert "no stored body" in err
        assert "journal_bodies=True" in err
        module.receiver.store.close()
        module.receiver.journal.close()
    finally:
        sys.modules.pop(name, None)


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("no_such_module_h13:receiver", "cannot import 'no_such_module_h13'"),
        ("{module}:missing", "has no attribute 'missing'"),
        ("{module}:not_a_receiver", "is a int, not a cortexhooks Receiver"),
        ("{module}:bare", "has no journal"),
        ("{module}", "is not MODULE:ATTR"),
        ("nope://x", "Unknown journal URL scheme"),
    ],
)
def test_a_bad_target_is_a_usage_error(project: tuple[str, Any], target: str, message: str) -> None:
    code, out, err = run_cli("journal", target.format(module=project[0]), "list")
    assert (code, out) == (2, "")
    assert message in err


def test_rerun_needs_the_receiver_not_a_journal_url(project: tuple[str, Any]) -> None:
    code, _, err = run_cli("journal", "sqlite:///hooks.db", "rerun", "1")
    assert code == 2
    assert "MODULE:ATTR" in err


def test_a_bad_since_is_a_usage_error(project: tuple[str, Any]) -> None:
    code, _, err = run_cli("journal", f"{project[0]}:receiver", "list", "--since", "yesterday")
    assert code == 2
    assert "--since 'yesterday'" in err


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90", timedelta(seconds=90)),
        ("90s", timedelta(seconds=90)),
        ("15m", timedelta(minutes=15)),
        ("1.5h", timedelta(minutes=90)),
        ("2d", timedelta(days=2)),
        ("1w", timedelta(days=7)),
        ("2026-03-10T09:00:00+01:00", datetime(2026, 3, 10, 8, 0, tzinfo=UTC)),
        ("2026-03-10 09:00", datetime(2026, 3, 10, 9, 0, tzinfo=UTC)),
    ],
)
def test_since_reads_durations_and_dates(text: str, expected: datetime | timedelta) -> None:
    assert parse_since(text) == expected


def test_journal_command_in_a_real_process_finds_the_module_in_the_working_directory(
    journaled: tuple[str, Any], tmp_path: Path
) -> None:
    name, _ = journaled
    result = subprocess.run(
        [sys.executable, "-m", "cortexhooks_receiver.cli", "journal", f"{name}:receiver",
         "list", "--json", "--code", "signature_mismatch"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert (result.returncode, result.stderr) == (0, "")
    assert [r["deliveryId"] for r in json.loads(result.stdout)] == ["dlv_3"]

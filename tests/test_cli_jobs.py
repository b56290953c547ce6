"""``cortexhooks worker``, ``dead-letters`` and ``queue`` on a receiver found by MODULE:ATTR."""

from __future__ import annotations

import io
import json
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import cortexhooks_receiver as ch
from cortexhooks_receiver.cli import main
from cortexhooks_receiver.testing import make_body

SECRET = "whsec_cli_jobs_test_secret_0123456"
APP = """
import cortexhooks_receiver as ch

URL = "sqlite:///{db}"
receiver = ch.Receiver("{secret}", store=URL, queue=URL, router=ch.Router())
inline = ch.Receiver("{secret}", router=ch.Router())
not_a_receiver = 42


@receiver.on("invoice.paid")
def handler(event):
    if event.data.id.startswith("perm-"):
        raise ch.PermanentError("unknown customer " + event.data.id)
"""


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A module ``cli_hooks_app`` in the working directory, as a user's app would be."""
    name = f"cli_hooks_app_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{name}.py").write_text(
        textwrap.dedent(APP).format(db=tmp_path / "hooks.db", secret=SECRET)
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    module = __import__(name)
    yield module
    module.receiver.queue.close()
    sys.modules.pop(name, None)


def _run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def _send(receiver: ch.Receiver, data_id: str) -> None:
    body = make_body("invoice.paid", **{"data.id": data_id})
    assert receiver.handle(body, ch.sign(body, SECRET, delivery_id=f"dlv_{data_id}")).status == 202


def test_worker_burst_runs_the_due_jobs_then_exits(app: Any) -> None:
    _send(app.receiver, "inv-1")
    _send(app.receiver, "perm-2")
    target = f"{app.__name__}:receiver"
    code, _, err = _run("worker", target, "--burst", "--concurrency", "2", "--max-attempts", "3")
    assert code == 0
    assert "2 job attempt(s)" in err
    assert app.receiver.queue.stats().depth == 0


def test_dead_letters_list_show_replay_and_purge(app: Any) -> None:
    target = f"{app.__name__}:receiver"
    for data_id in ("perm-1", "perm-2", "perm-3"):
        _send(app.receiver, data_id)
    assert _run("worker", target, "--burst")[0] == 0

    code, out, _ = _run("dead-letters", target, "list")
    assert code == 0
    assert out.splitlines()[0].split() == [
        "JOB",
        "EVENT",
        "DELIVERY",
        "ATTEMPTS",
        "FAILED",
        "AT",
        "ERROR",
    ]
    assert "PermanentError: unknown customer perm-1" in out

    code, out, _ = _run("dead-letters", target, "list", "--json")
    letters = json.loads(out)
    assert [d["deliveryId"] for d in letters] == ["dlv_perm-1", "dlv_perm-2", "dlv_perm-3"]
    assert set(letters[0]) == {"jobId", "event", "deliveryId", "attempts", "error", "failedAt"}
    first = letters[0]["jobId"]

    code, out, _ = _run("dead-letters", target, "show", first, "--json")
    assert (code, json.loads(out)) == (0, letters[0])
    code, out, _ = _run("dead-letters", target, "show", first)
    assert code == 0
    assert f"jobId       {first}" in out

    code, out, _ = _run("dead-letters", target, "replay", first, "--json")
    assert (code, json.loads(out)) == (0, {"replayed": [first]})
    assert app.receiver.queue.stats().due == 1
    code, out, _ = _run("dead-letters", target, "replay", "--all")
    assert (code, out.strip()) == (0, "Replayed 2 dead letter(s): they run again from attempt 1.")
    assert _run("worker", target, "--burst")[0] == 0  # they fail for good again
    code, out, _ = _run("dead-letters", target, "purge", "--json")
    assert (code, json.loads(out)) == (0, {"purged": 3})
    code, out, _ = _run("dead-letters", target, "list")
    assert (code, out.strip()) == (0, "No dead letters.")


def test_queue_stats_prints_depth_due_leased_and_dead(app: Any) -> None:
    target = f"{app.__name__}:receiver"
    _send(app.receiver, "inv-1")
    code, out, _ = _run("queue", target, "stats", "--json")
    stats = json.loads(out)
    assert code == 0
    assert {k: stats[k] for k in ("depth", "due", "leased", "dead")} == {
        "depth": 1,
        "due": 1,
        "leased": 0,
        "dead": 0,
    }
    assert stats["oldestAgeSeconds"] >= 0
    code, out, _ = _run("queue", target, "stats")
    assert code == 0
    assert [line.split()[0] for line in out.splitlines()] == [
        "depth",
        "due",
        "leased",
        "dead",
        "oldestAgeSeconds",
    ]


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["worker", "{app}:inline"], 2, "runs its handlers inline"),
        (["queue", "{app}:inline", "stats"], 2, "has no queue"),
        (["dead-letters", "{app}:not_a_receiver", "list"], 2, "is a int, not a"),
        (["worker", "{app}:missing"], 2, "has no attribute 'missing'"),
        (["worker", "no_such_module_h12:receiver"], 2, "cannot import 'no_such_module_h12'"),
        (["worker", "no-colon"], 2, "is not MODULE:ATTR"),
        (["dead-letters", "{app}:receiver", "show", "job_unknown"], 1, "No dead letter"),
        (["dead-letters", "{app}:receiver", "replay"], 2, "replay takes"),
        (["worker", "{app}:receiver", "--concurrency", "0"], 2, "concurrency must be"),
    ],
)
def test_mistakes_get_a_clear_message_and_exit_code(
    app: Any, argv: list[str], code: int, message: str
) -> None:
    got, _, err = _run(*(a.format(app=app.__name__) for a in argv))
    assert got == code
    assert message in err

"""The ``cortexhooks`` command: every subcommand in-process through ``main([...])`` (output, exit
codes, ``--json``), plus subprocess smoke tests of ``listen``, ``serve`` and ``demo``.

Network use is limited to servers these tests start on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cortexhooks_receiver import Receiver, Router
from cortexhooks_receiver._server import RunningServer, serve_in_thread
from cortexhooks_receiver.cli import demo as demo_module
from cortexhooks_receiver.cli import main
from cortexhooks_receiver.cli._common import Console
from cortexhooks_receiver.cli._listen_receiver import ListenReceiver, Record
from cortexhooks_receiver.cli.diagnose import diagnose
from cortexhooks_receiver.cli.listen import ListenConsole, listen_app
from cortexhooks_receiver.client import ManagementClient
from cortexhooks_receiver.emulator import Emulator
from cortexhooks_receiver.integrations.wsgi import WebhookApp
from cortexhooks_receiver.sender import URLPolicy, js_dumps
from cortexhooks_receiver.signature import SecretKeys, compute_signature, sign, verify_signature
from cortexhooks_receiver.stores import MemoryStore

SECRET = "whsec_K2Fj8sL3mN9pQ4rT7vX1yZ5bC6dE8fG"
BODY = (
    b'{"event":"task.completed","timestamp":1699545600000,"data":{"id":"task-123",'
    b'"title":"Install electrical panels","amount":100},"companyId":"comp-1","userId":"user-789"}'
)
NOW_MS = 1699545600000
COMMANDS = ["demo", "listen", "trigger", "sign", "verify", "events", "serve", "replay", "journal"]


def run_cli(*argv: str, stdin: bytes | None = None) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    if stdin is not None:
        saved = sys.stdin
        sys.stdin = io.TextIOWrapper(io.BytesIO(stdin))
        try:
            code = main(list(argv), stdout=out, stderr=err)
        finally:
            sys.stdin = saved
    else:
        code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(autouse=True)
def _no_secret_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CORTEXBUILD_WEBHOOK_SECRET", raising=False)
    monkeypatch.delenv("CORTEXHOOKS_EMULATOR_TOKEN", raising=False)


@pytest.fixture
def body_file(tmp_path: Path) -> Path:
    path = tmp_path / "body.json"
    path.write_bytes(BODY)
    return path


class VerifyingApp:
    """A receiver for trigger/replay tests: verifies with the real check, answers a status."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.secret = SECRET
        self.bodies: list[bytes] = []
        self.headers: list[dict[str, str]] = []

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        headers = {
            k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")
        }
        verify_signature(body, headers, SecretKeys(self.secret))
        self.bodies.append(body)
        self.headers.append(headers)
        start_response(f"{self.status} X", [("Content-Type", "application/json")])
        return [b'{"received":true}']


@pytest.fixture
def receiver() -> Iterator[tuple[VerifyingApp, RunningServer]]:
    app = VerifyingApp()
    with serve_in_thread(app) as server:
        yield app, server


# --- help and usage -----------------------------------------------------------------------


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([command, "--help"]) == 0
    assert "usage: cortexhooks " + command in capsys.readouterr().out


def test_no_command_prints_help_and_exits_2() -> None:
    code, out, _ = run_cli()
    assert code == 2
    assert all(c in out for c in COMMANDS)


def test_unknown_option_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["events", "--bogus"]) == 2
    assert "unrecognized arguments" in capsys.readouterr().err


# --- events -------------------------------------------------------------------------------


def test_events_lists_the_catalog() -> None:
    code, out, _ = run_cli("events")
    assert code == 0
    assert "invoice.paid" in out
    assert "Invoice marked paid" in out
    assert len(out.strip().splitlines()) == 2 + 31


def test_events_json_has_name_family_description() -> None:
    code, out, _ = run_cli("events", "--json")
    events = json.loads(out)
    assert code == 0
    assert len(events) == 31
    assert events[0] == {
        "name": "project.created",
        "family": "project",
        "description": "New project created",
        "payload": "Project object",
    }
    code, out, _ = run_cli("events", "--family", "safety", "--json")
    assert [e["name"] for e in json.loads(out)] == [
        "incident.reported",
        "incident.resolved",
        "inspection.completed",
        "safety.violation",
    ]


def test_events_unknown_family_is_a_usage_error() -> None:
    code, _, err = run_cli("events", "--family", "finance")
    assert code == 2
    assert "unknown family" in err


# --- sign ---------------------------------------------------------------------------------


def test_sign_prints_the_guide_headers(body_file: Path) -> None:
    code, out, _ = run_cli("sign", str(body_file), "--secret", SECRET, "--timestamp", str(NOW_MS))
    assert code == 0
    lines = dict(line.split(": ", 1) for line in out.strip().splitlines())
    assert lines["X-CortexBuild-Signature"] == compute_signature(BODY, SECRET)
    assert lines["X-CortexBuild-Timestamp"] == str(NOW_MS)
    assert lines["X-CortexBuild-Event"] == "task.completed"
    assert lines["Content-Type"] == "application/json"


def test_sign_reads_stdin_and_env_secret_and_prints_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CORTEXBUILD_WEBHOOK_SECRET", SECRET)
    code, out, _ = run_cli("sign", "--json", "--delivery-id", "dlv_1", stdin=BODY)
    headers = json.loads(out)
    assert code == 0
    assert headers["X-CortexBuild-Signature"] == compute_signature(BODY, SECRET)
    assert headers["X-CortexBuild-Delivery-Id"] == "dlv_1"


def test_sign_without_a_secret_exits_2(body_file: Path) -> None:
    code, _, err = run_cli("sign", str(body_file))
    assert code == 2
    assert "CORTEXBUILD_WEBHOOK_SECRET" in err


def test_sign_missing_file_exits_2(tmp_path: Path) -> None:
    code, _, err = run_cli("sign", str(tmp_path / "nope.json"), "--secret", SECRET)
    assert code == 2
    assert "cannot read" in err


def _cli(*argv: str) -> list[str]:
    return [sys.executable, "-m", "cortexhooks_receiver.cli", *argv]


@contextlib.contextmanager
def _reaped(proc: subprocess.Popen[Any]) -> Iterator[subprocess.Popen[Any]]:
    """Yield ``proc``; kill it afterwards should the test fail before it ends."""
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)


def test_sign_piped_into_head_ends_quietly(body_file: Path) -> None:
    sign_ = subprocess.Popen(
        _cli("sign", str(body_file), "--secret", SECRET, "--timestamp", str(NOW_MS)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert sign_.stdout is not None
    assert sign_.stderr is not None
    head = subprocess.Popen(["head", "-1"], stdin=sign_.stdout, stdout=subprocess.PIPE)
    sign_.stdout.close()  # head is now the only reader
    first, _ = head.communicate(timeout=30)
    err = sign_.stderr.read()
    sign_.stderr.close()
    # 0 when every line fitted in the pipe before head left, 141 (128 + SIGPIPE) otherwise.
    assert sign_.wait(timeout=30) in (0, 141)
    assert first == b"Content-Type: application/json\n"
    assert err == b""


@pytest.mark.parametrize(
    "argv",
    [
        ["sign", "-", "--secret", SECRET],
        ["verify", "-", "--secret", SECRET, "--signature", "sha256=00", "--timestamp", "1"],
        ["events"],
        [
            "trigger",
            "user.joined",
            "--url",
            "https://x.example.com/",
            "--secret",
            SECRET,
            "--dry-run",
        ],
        ["listen", "--port", "0", "--secret", SECRET, "--max-seconds", "20"],
    ],
    ids=lambda argv: argv[0],
)
def test_output_into_a_closed_pipe_exits_141_without_a_traceback(argv: list[str]) -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the first line is written
    try:
        result = subprocess.run(
            _cli(*argv), input=BODY, stdout=write_end,
            stderr=subprocess.PIPE, timeout=60, check=False,
        )  # fmt: skip
    finally:
        os.close(write_end)
    assert (result.returncode, result.stderr) == (141, b"")


def test_listen_stops_quietly_when_its_reader_goes_away() -> None:
    read_end, write_end = os.pipe()
    listen_ = subprocess.Popen(
        _cli("listen", "--port", "0", "--secret", SECRET, "--max-seconds", "30", "--json"),
        stdout=write_end,
        stderr=subprocess.PIPE,
    )
    os.close(write_end)
    with _reaped(listen_):
        with os.fdopen(read_end, "rb") as reader:
            url = json.loads(reader.readline())["listening"]
        # Nobody reads any more: the delivery is still answered, then the listener stops.
        body = fresh_body()
        answer = httpx.post(url, content=body, headers=sign(body, SECRET), timeout=10)
        _, err = listen_.communicate(timeout=30)
    assert answer.status_code == 200
    assert (listen_.returncode, err) == (141, b"")


# --- verify -------------------------------------------------------------------------------


def verify_cli(body: bytes, *extra: str, secret: str = SECRET, ts: int = NOW_MS) -> dict[str, Any]:
    signature = compute_signature(BODY, SECRET)
    code, out, _ = run_cli(
        "verify",
        "--secret",
        secret,
        "--signature",
        signature,
        "--timestamp",
        str(ts),
        "--now",
        str(NOW_MS + 2000),
        "--json",
        *extra,
        stdin=body,
    )
    result: dict[str, Any] = json.loads(out)
    assert code == (0 if result["ok"] else 1)
    return result


def test_verify_accepts_a_valid_request_and_exits_0(body_file: Path) -> None:
    signature = compute_signature(BODY, SECRET)
    code, out, _ = run_cli(
        "verify",
        str(body_file),
        "--secret",
        SECRET,
        "-H",
        f"X-CortexBuild-Signature: {signature}",
        "-H",
        f"X-CortexBuild-Timestamp: {NOW_MS}",
        "--now",
        str(NOW_MS + 1500),
    )
    assert code == 0
    assert out.startswith("OK: ")
    assert "1.5 s in the past" in out


def test_verify_diagnoses_a_wrong_secret() -> None:
    result = verify_cli(BODY, secret="whsec_someOtherSecretValue000000000000")
    assert result["problem"] == "wrong_secret_or_body"
    assert result["signature_valid"] is False


@pytest.mark.parametrize(
    "reserialised",
    [
        json.dumps(json.loads(BODY)).encode(),
        json.dumps(json.loads(BODY), indent=2).encode(),
        BODY + b"\n",  # an editor or `echo` added a newline
    ],
)
def test_verify_diagnoses_a_reserialised_body(reserialised: bytes) -> None:
    result = verify_cli(reserialised)
    assert result["problem"] == "body_reserialised"
    assert "raw request body" in result["message"]


def test_verify_says_when_reserialising_changes_the_bytes() -> None:
    body = b'{"event":"x.y","timestamp":1,"data":{"amount":100.0}}'
    signature = compute_signature(body, SECRET)
    code, out, _ = run_cli(
        "verify", "--secret", SECRET, "--signature", signature, "--timestamp", str(NOW_MS),
        "--now", str(NOW_MS), stdin=body,
    )  # fmt: skip
    assert code == 0
    assert "re-serialising this body changes its bytes" in out


_BY_LUCK = "would still match, by luck"


_SAME_BYTES = "  - re-serialising this body with JSON.stringify rules gives the same bytes"


@pytest.mark.parametrize(
    ("secret", "extra", "exit_code", "shown"),
    [
        pytest.param(SECRET, [], 0, None, id="valid: not shown"),
        pytest.param(
            SECRET, ["--verbose"], 0,
            _SAME_BYTES + " (so a receiver that re-serialises would still match, by luck)",
            id="valid, verbose: the by-luck note",
        ),
        pytest.param(
            "whsec_someOtherSecretValue000000000000", [], 1,
            _SAME_BYTES + ", so re-serialising it is not what breaks this signature",
            id="no secret matches: re-serialising ruled out",
        ),
    ],
)  # fmt: skip
def test_verify_shows_the_same_bytes_line_only_when_it_matters_or_when_verbose(
    secret: str, extra: list[str], exit_code: int, shown: str | None
) -> None:
    code, out = verify_text(_SIGNED, *extra, secret=secret)
    assert code == exit_code
    lines = [line for line in out.splitlines() if line.startswith(_SAME_BYTES)]
    assert lines == ([] if shown is None else [shown])


def test_verify_keeps_the_by_luck_note_for_verbose_when_only_the_timestamp_fails() -> None:
    code, out, _ = run_cli(
        "verify", "--secret", SECRET, "--signature", _SIGNED, "--timestamp", str(NOW_MS // 1000),
        "--now", str(NOW_MS), stdin=BODY,
    )  # fmt: skip
    assert code == 1
    assert "why (timestamp_in_seconds)" in out
    assert _BY_LUCK not in out


def test_verify_json_keeps_the_notes_apart_from_the_findings() -> None:
    result = verify_cli(BODY)
    assert result["ok"] is True
    assert result["findings"] == ["the timestamp is 2.0 s in the past"]
    assert len(result["notes"]) == 1
    assert _BY_LUCK in result["notes"][0]


def test_verify_diagnoses_a_timestamp_in_seconds() -> None:
    result = verify_cli(BODY, ts=NOW_MS // 1000)
    assert result["problem"] == "timestamp_in_seconds"
    assert "milliseconds" in result["message"]


def test_verify_diagnoses_clock_skew() -> None:
    result = verify_cli(BODY, ts=NOW_MS - 3_600_000)
    assert result["problem"] == "clock_skew"
    assert "3602 s in the past" in result["message"]


def test_verify_diagnoses_a_secret_without_its_prefix() -> None:
    result = verify_cli(BODY, secret=SECRET.removeprefix("whsec_"))
    assert result["problem"] == "secret_prefix"


def test_verify_diagnoses_a_secret_with_a_trailing_newline() -> None:
    result = verify_cli(BODY, secret=SECRET + "\n")
    assert result["problem"] == "secret_whitespace"


def test_verify_reports_missing_and_malformed_signatures() -> None:
    code, out, _ = run_cli("verify", "--secret", SECRET, "--timestamp", str(NOW_MS), stdin=BODY)
    assert code == 1
    assert "missing_signature" in out
    code, out, _ = run_cli(
        "verify", "--secret", SECRET, "--signature", "abc", "--timestamp", "1", stdin=BODY
    )
    assert code == 1
    assert "malformed_signature" in out


def test_verify_output_never_contains_the_secret_or_expected_signature() -> None:
    wrong = "whsec_" + "A" * 32
    code, out, err = run_cli(
        "verify", "--secret", wrong, "--signature", "0" * 64, "--timestamp", str(NOW_MS),
        stdin=BODY,
    )  # fmt: skip
    assert code == 1
    assert wrong not in out + err
    assert compute_signature(BODY, wrong) not in out + err


def verify_text(signature: str, *extra: str, secret: str = SECRET) -> tuple[int, str]:
    code, out, err = run_cli(
        "verify", "--secret", secret, "--signature", signature, "--timestamp", str(NOW_MS),
        "--now", str(NOW_MS), *extra, stdin=BODY,
    )  # fmt: skip
    assert err == ""
    return code, out


def test_verify_refuses_a_sha256_prefix_as_the_receiver_does_and_says_the_hex_matches() -> None:
    code, out = verify_text("sha256=" + compute_signature(BODY, SECRET))
    assert code == 1
    assert out.splitlines()[:2] == [
        "FAILED: the receiver would answer 401 malformed_signature",
        "  why: the signature carries a 'sha256=' prefix; CortexBuild sends the 64 hex digits "
        "alone, and the receiver refuses anything else",
    ]
    assert (
        "  - the hex after the 'sha256=' prefix is the right signature of this body: without "
        "the prefix the receiver would accept it"
    ) in out.splitlines()
    assert not out.startswith("OK")


def test_verify_says_when_the_hex_after_a_sha256_prefix_would_not_match_either() -> None:
    code, out = verify_text("sha256=" + compute_signature(BODY, "whsec_another"))
    assert code == 1
    assert "FAILED: the receiver would answer 401 malformed_signature" in out
    assert "  - without the prefix it would not verify either: no secret given reproduces" in out


def test_verify_json_names_the_receivers_error_and_the_cause() -> None:
    result = verify_cli(BODY, "--signature", "SHA256=" + compute_signature(BODY, SECRET))
    assert (result["ok"], result["error"], result["problem"]) == (
        False, "malformed_signature", "malformed_signature",
    )  # fmt: skip
    assert result["signature_valid"] is False
    result = verify_cli(BODY, ts=NOW_MS // 1000)
    assert (result["error"], result["problem"]) == (
        "timestamp_out_of_tolerance",
        "timestamp_in_seconds",
    )
    assert result["signature_valid"] is True


def test_verify_headline_is_the_receivers_answer_and_the_cause_follows() -> None:
    code, out = verify_text(compute_signature(BODY, SECRET), secret=SECRET.removeprefix("whsec_"))
    assert code == 1
    assert out.splitlines()[:2] == [
        "FAILED: the receiver would answer 401 signature_mismatch",
        "  why (secret_prefix): the secret is missing its whsec_ prefix: the HMAC key is the "
        "whole string",
    ]


def test_verify_judges_header_values_as_the_receiver_gets_them() -> None:
    # HTTP servers drop the spaces around a field value; an upper-case digest decodes the same.
    code, out = verify_text(f"  {compute_signature(BODY, SECRET).upper()}\t")
    assert code == 0
    assert out.startswith("OK: the receiver would accept this signature and timestamp")


def test_verify_a_secret_a_receiver_would_refuse_is_a_usage_error() -> None:
    code, out, err = run_cli(
        "verify", "--secret", "   ", "--signature", "0" * 64, "--timestamp", str(NOW_MS),
        stdin=BODY,
    )  # fmt: skip
    assert (code, out) == (2, "")
    assert err.startswith("cortexhooks verify: error: A webhook secret is empty")


_SIGNED = compute_signature(BODY, SECRET)
_SIGNATURES = {
    "valid": _SIGNED,
    "valid upper-case": _SIGNED.upper(),
    "sha256= prefix": "sha256=" + _SIGNED,
    "sha256= prefix, other secret": "sha256=" + compute_signature(BODY, "whsec_other"),
    "other secret": compute_signature(BODY, "whsec_other"),
    "secret without whsec_": compute_signature(BODY, SECRET.removeprefix("whsec_")),
    "re-serialised body": compute_signature(json.dumps(json.loads(BODY)).encode(), SECRET),
    "two headers joined": f"{_SIGNED}, {_SIGNED}",
    "63 digits": _SIGNED[:63],
    "not hex": "z" * 64,
    "empty": "",
    "absent": None,
}
_TIMESTAMPS = {
    "now": str(NOW_MS),
    "at the window's edge": str(NOW_MS + 2000 - 300_000),
    "just outside": str(NOW_MS + 2000 - 300_001),
    "in the future": str(NOW_MS + 2000 + 300_000),
    "in seconds": str(NOW_MS // 1000),
    "an hour old": str(NOW_MS - 3_600_000),
    "signed": f"-{NOW_MS}",
    "fractional": f"{NOW_MS}.5",
    "16 digits": "1" * 16,
    "empty": "",
    "absent": None,
}
# The causes a diagnosis may give for each refusal of the receiver.
_CAUSES = {
    "missing_signature": {"missing_signature"},
    "malformed_signature": {"malformed_signature"},
    "missing_timestamp": {"missing_timestamp"},
    "invalid_timestamp": {"invalid_timestamp"},
    "timestamp_out_of_tolerance": {"timestamp_in_seconds", "clock_skew"},
    "signature_mismatch": {
        "secret_whitespace",
        "secret_prefix",
        "body_reserialised",
        "wrong_secret_or_body",
    },
}


@pytest.mark.parametrize("timestamp", list(_TIMESTAMPS), ids=str)
@pytest.mark.parametrize("signature", list(_SIGNATURES), ids=str)
def test_verify_says_ok_exactly_when_the_receiver_accepts(signature: str, timestamp: str) -> None:
    headers = {"Content-Type": "application/json"}
    argv = ["verify", "--secret", SECRET, "--now", str(NOW_MS + 2000), "--json"]
    if (signature_value := _SIGNATURES[signature]) is not None:
        headers["X-CortexBuild-Signature"] = signature_value
        argv += ["--signature", signature_value]
    if (timestamp_value := _TIMESTAMPS[timestamp]) is not None:
        headers["X-CortexBuild-Timestamp"] = timestamp_value
        argv += ["--timestamp", timestamp_value]
    receiver = Receiver(SECRET, router=Router(), now=lambda: (NOW_MS + 2000) / 1000)
    outcome = receiver.handle(BODY, headers)
    code, out, _ = run_cli(*argv, stdin=BODY)
    verdict = json.loads(out)
    refusal = outcome.error.code if outcome.error is not None else None
    assert (code == 0, verdict["ok"], verdict["error"]) == (outcome.ok, outcome.ok, refusal)
    if refusal is not None:
        assert verdict["problem"] in _CAUSES[refusal]


_header_text = st.text(st.characters(blacklist_categories=["Cs"]), max_size=80)


@settings(max_examples=300, deadline=None)
@given(
    signature=st.one_of(
        st.none(),
        st.sampled_from([v for v in _SIGNATURES.values() if v is not None]),
        st.builds(lambda prefix, text: prefix + text, st.sampled_from(["sha256=", "SHA256=", ""]),
                  st.sampled_from([_SIGNED, _SIGNED.upper(), _SIGNED[1:]]) | _header_text),
        _header_text,
    ),
    timestamp=st.one_of(
        st.none(),
        st.integers(NOW_MS - 400_000, NOW_MS + 400_000).map(str),
        st.integers(0, 10**16).map(str),
        _header_text,
    ),
)  # fmt: skip
def test_diagnosis_verdict_and_cause_agree_with_the_receiver(
    signature: str | None, timestamp: str | None
) -> None:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["X-CortexBuild-Signature"] = signature
    if timestamp is not None:
        headers["X-CortexBuild-Timestamp"] = timestamp
    receiver = Receiver(SECRET, router=Router(), now=lambda: NOW_MS / 1000)
    outcome = receiver.handle(BODY, headers)
    verdict = diagnose(BODY, signature, timestamp, [SECRET], now_ms=NOW_MS)
    refusal = outcome.error.code if outcome.error is not None else None
    assert (verdict.ok, verdict.error) == (outcome.ok, refusal)
    if refusal is not None:
        assert verdict.problem in _CAUSES[refusal]


def test_verify_bad_header_line_is_a_usage_error() -> None:
    code, _, err = run_cli("verify", "--secret", SECRET, "-H", "no colon here", stdin=BODY)
    assert code == 2
    assert "Name: value" in err


# --- trigger ------------------------------------------------------------------------------


def test_trigger_sends_a_signed_sample_event(receiver: tuple[VerifyingApp, RunningServer]) -> None:
    app, server = receiver
    code, out, _ = run_cli(
        "trigger", "invoice.paid", "--url", f"{server.url}/hook", "--secret", SECRET,
        "--set", "data.amount=100", "--set", "data.note=hello", "--json",
    )  # fmt: skip
    result = json.loads(out)
    assert code == 0
    assert result["status"] == 200
    assert result["outcome"] == "success"
    payload = json.loads(app.bodies[0])
    assert payload["event"] == "invoice.paid"
    assert payload["data"]["amount"] == 100
    assert payload["data"]["note"] == "hello"
    assert app.bodies[0] == js_dumps(payload)
    assert app.headers[0]["x-cortexbuild-delivery-id"] == result["deliveryId"]


def test_trigger_exits_1_when_the_receiver_fails(
    receiver: tuple[VerifyingApp, RunningServer],
) -> None:
    app, server = receiver
    app.status = 500
    code, out, _ = run_cli(
        "trigger", "task.created", "--url", f"{server.url}/hook", "--secret", SECRET
    )
    assert code == 1
    assert "<- 500  http_error" in out


def test_trigger_refuses_an_unsafe_url_without_sending() -> None:
    code, out, _ = run_cli(
        "trigger", "task.created", "--url", "http://169.254.169.254/", "--secret", SECRET, "--json"
    )
    assert code == 1
    assert json.loads(out)["outcome"] == "refused_url"


def test_trigger_unknown_event_suggests_names() -> None:
    code, _, err = run_cli(
        "trigger", "invoice.payed", "--url", "http://127.0.0.1/", "--secret", "x"
    )
    assert code == 2
    assert "invoice.paid" in err


def test_trigger_dry_run_prints_the_request() -> None:
    code, out, _ = run_cli(
        "trigger", "user.joined", "--url", "https://hooks.example.com/x", "--secret", SECRET,
        "--dry-run", "--json", "--set", "userId=user-42",
    )  # fmt: skip
    request = json.loads(out)
    assert code == 0
    assert request["body"]["userId"] == "user-42"
    assert request["headers"]["X-CortexBuild-Event"] == "user.joined"


@pytest.mark.parametrize(
    ("override", "message"),
    [("data.id.deeper=1", "not an object"), ("data..id=1", "invalid override path 'data..id'")],
)
def test_trigger_bad_override_is_a_usage_error(override: str, message: str) -> None:
    code, _, err = run_cli(
        "trigger", "user.joined", "--url", "https://x.example.com/", "--secret", SECRET,
        "--set", override, "--dry-run",
    )  # fmt: skip
    assert code == 2
    assert message in err


def test_trigger_overrides_follow_the_factories_paths() -> None:
    # One set_path for `--set` and the test factories: snake_case segments become camelCase.
    code, out, _ = run_cli(
        "trigger", "task.created", "--url", "https://hooks.example.com/x", "--secret", SECRET,
        "--dry-run", "--json", "--set", "data.project_id=proj-9", "--set", "data.title=Pour",
    )  # fmt: skip
    data = json.loads(out)["body"]["data"]
    assert code == 0
    assert (data["projectId"], data["title"]) == ("proj-9", "Pour")
    assert "project_id" not in data


# --- listen (in-process app, then one subprocess smoke test) ------------------------------

LISTEN_PATH = "/webhooks/cortexbuild"


def _listen_now() -> float:
    """The listener's clock in the in-process tests: two seconds after BODY's timestamp."""
    return (NOW_MS + 2000) / 1000


def fresh_body() -> bytes:
    """BODY with its signed timestamp set to now (for listeners on the real clock)."""
    return BODY.replace(str(NOW_MS).encode(), str(time.time_ns() // 1_000_000).encode(), 1)


def listen_client(
    out: io.StringIO,
    *,
    now: Callable[[], float] | None = _listen_now,
    **options: Any,
) -> httpx.Client:
    """A client of listen's WSGI app (as run() builds it) printing to ``out``."""
    printer_options = {k: options.pop(k) for k in ("json_lines", "verbose") if k in options}
    printer = ListenConsole(Console(out, io.StringIO()), **printer_options)
    app = listen_app([SECRET], printer, path=LISTEN_PATH, tolerance=300, now=now, **options)
    return httpx.Client(transport=httpx.WSGITransport(app=app), base_url="http://listen.local")


def test_listen_app_verifies_prints_and_flags_duplicates() -> None:
    out = io.StringIO()
    client = listen_client(out)
    headers = sign(BODY, SECRET, timestamp=NOW_MS, event="task.completed", delivery_id="dlv_42")
    first = client.post(LISTEN_PATH, content=BODY, headers=headers)
    again = client.post(LISTEN_PATH, content=BODY, headers=headers)
    forged = client.post(LISTEN_PATH, content=BODY + b" ", headers=headers)
    assert (first.status_code, first.json()) == (200, {"received": True})
    assert again.json() == {"received": True, "duplicate": True}
    assert forged.status_code == 401
    assert forged.json()["error"] == "signature_mismatch"
    assert client.get(LISTEN_PATH).status_code == 405
    assert client.post("/elsewhere", content=BODY, headers=headers).status_code == 404
    text = out.getvalue()
    assert "OK task.completed  delivery=dlv_42" in text
    assert "(duplicate delivery)" in text
    assert '"title": "Install electrical panels"' in text
    assert "REFUSED 401 signature_mismatch" in text
    assert SECRET not in text


def test_listen_flags_a_replayed_body_under_a_new_delivery_id_as_a_duplicate() -> None:
    out = io.StringIO()
    client = listen_client(out, json_lines=True)
    for delivery_id in ("dlv_1", "dlv_2"):
        headers = sign(BODY, SECRET, timestamp=NOW_MS, delivery_id=delivery_id)
        client.post(LISTEN_PATH, content=BODY, headers=headers)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [(line["deliveryId"], line["duplicate"]) for line in lines] == [
        ("dlv_1", False),
        ("dlv_2", True),
    ]


def _signed(body: bytes, **extra: Any) -> dict[str, str]:
    return sign(body, SECRET, timestamp=NOW_MS, **extra)


_OLD_BODY = BODY.replace(str(NOW_MS).encode(), str(NOW_MS - 2 * 86_400_000).encode())
_BIG_BODY = b'{"event":"task.completed","timestamp":%d,"data":{"pad":"%s"}}' % (
    NOW_MS,
    b"x" * 1_048_576,
)
# One request per refusal of the pipeline that is not about the signature: (method, body, headers).
_REFUSED_REQUESTS: dict[str, tuple[str, bytes, dict[str, str]]] = {
    "GET": ("GET", b"", {}),
    "body over the cap": ("POST", _BIG_BODY, _signed(_BIG_BODY)),
    "not JSON": ("POST", BODY, {**_signed(BODY), "Content-Type": "text/plain"}),
    "not a webhook payload": ("POST", b'{"hello":1}', _signed(b'{"hello":1}')),
    "body older than the retention": ("POST", _OLD_BODY, _signed(_OLD_BODY)),
    "bad delivery id": ("POST", BODY, _signed(BODY, delivery_id="dlv 42!")),
    "wrong secret": ("POST", BODY, sign(BODY, SECRET + "x", timestamp=NOW_MS)),
}


@pytest.mark.parametrize("case", list(_REFUSED_REQUESTS))
def test_listen_answers_every_request_as_a_receiver_does_and_prints_it(case: str) -> None:
    method, body, headers = _REFUSED_REQUESTS[case]
    receiver = Receiver(SECRET, router=Router(), now=_listen_now)
    real = httpx.Client(
        transport=httpx.WSGITransport(app=WebhookApp(receiver, path=LISTEN_PATH)),
        base_url="http://receiver.local",
    )
    out = io.StringIO()
    expected = real.request(method, LISTEN_PATH, content=body, headers=headers)
    answer = listen_client(out).request(method, LISTEN_PATH, content=body, headers=headers)
    assert expected.status_code >= 400
    assert (answer.status_code, answer.json(), answer.headers.get("allow")) == (
        expected.status_code,
        expected.json(),
        expected.headers.get("allow"),
    )
    first_line = out.getvalue().splitlines()[0]
    assert f"REFUSED {expected.status_code} {expected.json()['error']}: " in first_line


def test_listen_explains_a_refusal_the_diagnosis_does_not_cover_in_the_receivers_words() -> None:
    out = io.StringIO()
    client = listen_client(out)
    client.post(LISTEN_PATH, content=_OLD_BODY, headers=_signed(_OLD_BODY))
    lines = out.getvalue().splitlines()
    assert lines[0].endswith(
        "REFUSED 401 event_too_old: The signed event timestamp is outside the accepted age."
    )
    assert lines[1].startswith("    - A body older than the receiver's retention")


def test_listen_retention_widens_the_accepted_body_age() -> None:
    out = io.StringIO()
    client = listen_client(out, retention=3 * 86_400)
    answer = client.post(LISTEN_PATH, content=_OLD_BODY, headers=_signed(_OLD_BODY))
    assert answer.status_code == 200
    assert "OK task.completed" in out.getvalue()


def test_listen_refuses_a_retention_a_receiver_refuses() -> None:
    code, out, err = run_cli("listen", "--port", "0", "--secret", SECRET, "--retention", "0")
    assert (code, out) == (2, "")
    assert "retention must be a number >= 1" in err


def test_listen_leaves_other_paths_to_the_adapters_404_and_prints_nothing() -> None:
    out = io.StringIO()
    answer = listen_client(out).post("/elsewhere", content=BODY, headers=_signed(BODY))
    assert (answer.status_code, answer.json()["error"]) == (404, "not_found")
    assert out.getvalue() == ""


def test_listen_dedup_is_the_receivers_bounded_memory_store() -> None:
    printer = ListenConsole(Console(io.StringIO(), io.StringIO()))
    store = listen_app([SECRET], printer).receiver.store
    assert isinstance(store, MemoryStore)
    assert store.max_entries == MemoryStore().max_entries


def test_listen_json_line_of_a_refusal_without_diagnosis_names_its_code() -> None:
    out = io.StringIO()
    listen_client(out, json_lines=True).get(LISTEN_PATH)
    assert json.loads(out.getvalue()) == {
        "ok": False,
        "status": 405,
        "error": "method_not_allowed",
        "problem": "method_not_allowed",
        "message": "Webhook deliveries must use POST.",
        "event": None,
    }


def test_listen_async_face_records_what_the_sync_face_records() -> None:
    records: dict[str, list[Record]] = {"sync": [], "async": []}
    headers = _signed(BODY, delivery_id="dlv_7")
    for face, found in records.items():
        receiver = ListenReceiver([SECRET], found.append, now=_listen_now)
        if face == "sync":
            outcome = receiver.handle(BODY, headers)
        else:
            outcome = asyncio.run(receiver.handle_async(BODY, headers))
        assert outcome.status == 200
    assert (
        [(r.status, r.event, r.delivery_id, r.code) for r in records["async"]]
        == [(r.status, r.event, r.delivery_id, r.code) for r in records["sync"]]
        == [(200, "task.completed", "dlv_7", None)]
    )


@pytest.mark.parametrize("verbose", [False, True])
def test_listen_shows_the_by_luck_note_only_when_verbose(verbose: bool) -> None:
    out = io.StringIO()
    client = listen_client(out, verbose=verbose)
    in_seconds = sign(BODY, SECRET, timestamp=NOW_MS // 1000)
    response = client.post(LISTEN_PATH, content=BODY, headers=in_seconds)
    assert response.status_code == 401
    lines = out.getvalue().splitlines()
    assert lines[0].endswith(
        "REFUSED 401 timestamp_out_of_tolerance: the timestamp is in seconds; CortexBuild sends "
        "Unix milliseconds (multiply by 1000, or compare with Date.now())"
    )
    assert any(_BY_LUCK in line for line in lines) is verbose


def test_listen_forwards_verified_deliveries(
    receiver: tuple[VerifyingApp, RunningServer],
) -> None:
    target, server = receiver
    target.status = 202
    out = io.StringIO()
    client = listen_client(out, now=None, json_lines=True, forward_to=f"{server.url}/app")
    body = fresh_body()
    response = client.post(LISTEN_PATH, content=body, headers=sign(body, SECRET))
    assert response.status_code == 202
    assert target.bodies == [body]
    line = json.loads(out.getvalue().strip())
    assert (line["ok"], line["status"], line["event"]) == (True, 202, "task.completed")


def _spawn(*argv: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        _cli(*argv),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def test_listen_subprocess_smoke() -> None:
    proc = _spawn(
        "listen", "--port", "0", "--secret", SECRET, "--max-events", "2", "--max-seconds", "20",
        "--json",
    )  # fmt: skip
    body = fresh_body()
    with _reaped(proc):
        assert proc.stdout is not None
        url = json.loads(proc.stdout.readline())["listening"]
        good = httpx.post(url, content=body, headers=sign(body, SECRET), timeout=5)
        bad_headers = sign(body, SECRET, timestamp=int(time.time()))  # seconds, not ms
        bad = httpx.post(url, content=body, headers=bad_headers, timeout=5)
        out, err = proc.communicate(timeout=20)
    assert (proc.returncode, err) == (0, "")  # the console says it all: no log lines on stderr
    assert (good.status_code, bad.status_code) == (200, 401)
    lines = [json.loads(line) for line in out.strip().splitlines()]
    assert lines[0]["ok"] is True
    assert lines[1]["problem"] == "timestamp_in_seconds"


# --- serve and replay -------------------------------------------------------------------------


def test_serve_in_process_prints_its_url_and_generated_token(tmp_path: Path) -> None:
    code, out, _ = run_cli(
        "serve", "--port", "0", "--db", str(tmp_path / "e.db"), "--max-seconds", "0.1", "--json"
    )
    info = json.loads(out)
    assert code == 0
    assert info["url"].startswith("http://127.0.0.1:")
    assert len(info["token"]) >= 20
    assert (tmp_path / "e.db").exists()


def test_serve_rejects_a_nonpositive_time_scale(tmp_path: Path) -> None:
    code, _, err = run_cli("serve", "--db", str(tmp_path / "e.db"), "--time-scale", "0")
    assert code == 2
    assert "time-scale" in err


def test_serve_subprocess_answers_the_management_api(tmp_path: Path) -> None:
    proc = _spawn(
        "serve", "--port", "0", "--db", str(tmp_path / "e.db"), "--token", "tok-123",
        "--max-seconds", "30", "--json", "--allow-loopback",
    )  # fmt: skip
    with _reaped(proc):
        assert proc.stdout is not None
        info = json.loads(proc.stdout.readline())
        assert "token" not in info  # a chosen token is never echoed
        with ManagementClient(info["url"], "tok-123", timeout=5) as client:
            hook = client.register("http://localhost:3000/webhooks/cortexbuild", ["task.*"])
            assert [w.id for w in client.list()] == [hook.webhook_id]
        unauthorised = httpx.get(info["url"] + "/api/webhooks", timeout=5)
        assert unauthorised.status_code == 401
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=20)
    assert proc.returncode == 0


def test_replay_resends_logged_deliveries_from_the_db(
    tmp_path: Path, receiver: tuple[VerifyingApp, RunningServer]
) -> None:
    app, server = receiver
    db = tmp_path / "emulator.db"
    emulator = Emulator(db, token="t", policy=URLPolicy(allow_loopback=True))
    _hook, app.secret = emulator.register(f"{server.url}/hook", ["*"])
    emulator.emit("task.created")
    emulator.emit("invoice.paid")
    emulator.drain()
    emulator.close()
    assert len(app.bodies) == 2
    code, out, _ = run_cli(
        "replay", "--allow-loopback", "--db", str(db), "--event", "invoice.paid", "--json"
    )
    results = json.loads(out)
    assert code == 0
    assert [(r["event"], r["status"], r["ok"]) for r in results] == [("invoice.paid", 200, True)]
    assert app.bodies[2] == app.bodies[1]
    assert (
        app.headers[2]["x-cortexbuild-delivery-id"] == app.headers[1]["x-cortexbuild-delivery-id"]
    )
    code, out, _ = run_cli("replay", "--allow-loopback", "--db", str(db), "--last", "2")
    assert code == 0
    assert "task.created" in out
    assert "invoice.paid" in out
    app.status = 503
    code, _, _ = run_cli("replay", "--allow-loopback", "--db", str(db), "--last", "1")
    assert code == 1


def test_replay_without_a_database_or_match_fails_clearly(tmp_path: Path) -> None:
    code, _, err = run_cli(
        "replay", "--allow-loopback", "--db", str(tmp_path / "missing.db"), "--all"
    )
    assert code == 2
    assert "no emulator database" in err
    Emulator(tmp_path / "empty.db", token="t", policy=URLPolicy(allow_loopback=True)).close()
    code, _, err = run_cli(
        "replay", "--allow-loopback", "--db", str(tmp_path / "empty.db"), "--all"
    )
    assert code == 1
    assert "no logged delivery" in err


class LateApp:
    """A WSGI app chosen after its server has a URL (the receiver needs the webhook's secret)."""

    app: Callable[..., Any] | None = None

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        assert self.app is not None
        return self.app(environ, start_response)


@pytest.fixture
def delivered(tmp_path: Path) -> Iterator[tuple[Path, VerifyingApp]]:
    """An emulator database with two deliveries, both accepted by a verifying receiver."""
    app = VerifyingApp()
    with serve_in_thread(app) as server:
        emulator = Emulator(
            tmp_path / "emulator.db", token="t", policy=URLPolicy(allow_loopback=True)
        )
        _hook, app.secret = emulator.register(f"{server.url}/hook", ["*"])
        emulator.emit("task.created")
        emulator.emit("invoice.paid")
        emulator.drain()
        emulator.close()
        yield tmp_path / "emulator.db", app


def test_replay_without_a_selection_is_a_usage_error_that_names_all(
    delivered: tuple[Path, VerifyingApp],
) -> None:
    db, app = delivered
    code, out, err = run_cli("replay", "--allow-loopback", "--db", str(db))
    assert (code, out) == (2, "")
    assert err == (
        "cortexhooks replay: error: which deliveries? pass delivery ids (DELIVERY_ID ...), a "
        "filter (--webhook-id, --event, --last N), or --all to re-send every logged delivery\n"
    )
    assert len(app.bodies) == 2  # nothing was sent again


def test_replay_all_resends_every_logged_delivery(delivered: tuple[Path, VerifyingApp]) -> None:
    db, app = delivered
    code, out, _ = run_cli("replay", "--allow-loopback", "--db", str(db), "--all", "--json")
    assert code == 0
    assert sorted(r["event"] for r in json.loads(out)) == ["invoice.paid", "task.created"]
    assert app.bodies[2:] == app.bodies[:2]


def test_replay_ids_and_all_together_is_a_usage_error(
    delivered: tuple[Path, VerifyingApp],
) -> None:
    db, app = delivered
    delivery_id = app.headers[0]["x-cortexbuild-delivery-id"]
    code, _, err = run_cli("replay", "--allow-loopback", "--db", str(db), delivery_id, "--all")
    assert code == 2
    assert err == "cortexhooks replay: error: pass delivery ids or --all, not both\n"
    assert len(app.bodies) == 2


def test_replay_shows_a_duplicate_answer_as_duplicate(tmp_path: Path) -> None:
    late = LateApp()
    with serve_in_thread(late) as server:
        emulator = Emulator(
            tmp_path / "emulator.db", token="t", policy=URLPolicy(allow_loopback=True)
        )
        _hook, secret = emulator.register(f"{server.url}/hook", ["*"])
        late.app = WebhookApp(Receiver(secret, router=Router()))
        emulator.emit("invoice.paid")
        emulator.drain()
        emulator.close()
        code, out, _ = run_cli(
            "replay", "--allow-loopback", "--db", str(tmp_path / "emulator.db"), "--all"
        )
        assert code == 0
        assert out.splitlines()[0].split() == ["DELIVERY", "EVENT", "STATUS", "RESULT"]
        assert out.splitlines()[2].split()[1:] == ["invoice.paid", "200", "duplicate"]
        code, out, _ = run_cli(
            "replay", "--allow-loopback", "--db", str(tmp_path / "emulator.db"), "--all", "--json"
        )
    [result] = json.loads(out)
    assert (result["status"], result["outcome"], result["duplicate"]) == (200, "success", True)


def test_replay_shows_a_first_delivery_as_success(delivered: tuple[Path, VerifyingApp]) -> None:
    db, _app = delivered
    code, out, _ = run_cli("replay", "--allow-loopback", "--db", str(db), "--event", "invoice.paid")
    assert code == 0
    assert out.splitlines()[2].split()[1:] == ["invoice.paid", "200", "success"]
    code, out, _ = run_cli(
        "replay", "--allow-loopback", "--db", str(db), "--event", "invoice.paid", "--json"
    )
    assert json.loads(out)[0]["duplicate"] is False


# --- demo -------------------------------------------------------------------------------------


def test_demo_runs_end_to_end_and_every_outcome_is_expected() -> None:
    code, out, _ = run_cli("demo", "--json")
    report = json.loads(out)
    assert code == 0
    assert report["ok"] is True
    assert report["elapsedSeconds"] < 30
    cases = [o["case"] for o in report["outcomes"]]
    assert cases.count("event") == 31
    assert cases.count("retry") == 2
    assert cases.count("tampered") == 1
    assert cases.count("duplicate") == 1
    retry = [o for o in report["outcomes"] if o["case"] == "retry"]
    assert [(o["attempt"], o["status"]) for o in retry] == [(1, 500), (2, 200)]
    tampered = next(o for o in report["outcomes"] if o["case"] == "tampered")
    assert (tampered["status"], tampered["result"]) == (401, "refused: signature_mismatch")
    duplicate = next(o for o in report["outcomes"] if o["case"] == "duplicate")
    assert duplicate["result"] == "duplicate, not processed again"
    assert {o["event"] for o in report["outcomes"] if o["case"] == "event"} == {
        e["name"] for e in json.loads(run_cli("events", "--json")[1])
    }


def test_demo_exits_1_and_flags_an_unexpected_outcome(monkeypatch: pytest.MonkeyPatch) -> None:
    bad = demo_module.DemoOutcome(
        case="event", event="task.created", delivery_id="dlv_x", attempt=1, status=500,
        result="handler failed", expected=False,
    )  # fmt: skip
    monkeypatch.setattr(demo_module, "run_demo", lambda **kw: (False, [bad], 0.1))
    code, out, _ = run_cli("demo")
    assert code == 1
    assert "NO" in out
    assert "SOME OUTCOMES WERE NOT AS EXPECTED" in out


def test_demo_subprocess_smoke_prints_the_table() -> None:
    result = subprocess.run(
        _cli("demo"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "all as expected" in result.stdout
    assert "refused: signature_mismatch" in result.stdout


def test_importing_cli_sender_client_and_emulator_does_not_import_httpx() -> None:
    code = (
        "import sys, cortexhooks_receiver.cli, cortexhooks_receiver.sender, "
        "cortexhooks_receiver.client, cortexhooks_receiver.emulator; "
        "print('httpx' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "False"

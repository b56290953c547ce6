"""What the receiver logs is visible in a default logging setup, without flooding.

Python's default (no logging configured) prints WARNING and above to stderr. A wrong secret makes
every request a 401, a receiver without handlers drops every event, and a memory store behind
several worker processes lets retries run twice: each must show there, once, not per request.
"""

from __future__ import annotations

import itertools
import logging
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from typing import Any

import pytest

import cortexhooks_receiver as ch
from cortexhooks_receiver.integrations.wsgi import WebhookApp
from cortexhooks_receiver.stores import MemoryStore
from cortexhooks_receiver.testing import make_body

SECRET = "whsec_logging_test_secret_0123456789"
WRONG = "whsec_not_the_right_secret_987654321"


class Clock:
    def __init__(self) -> None:
        self.now = 1_762_698_600.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


class Records:
    """The records logged during the test (caplog's list is per phase, so read it late)."""

    def __init__(self, caplog: pytest.LogCaptureFixture) -> None:
        self._caplog = caplog

    def __iter__(self) -> Iterator[logging.LogRecord]:
        return iter(self._caplog.records)


@pytest.fixture
def records(caplog: pytest.LogCaptureFixture) -> Records:
    caplog.set_level(logging.DEBUG, logger="cortexhooks_receiver")
    return Records(caplog)


_serial = itertools.count()


def _signed(secret: str, clock: Clock, name: str = "task.created") -> tuple[bytes, dict[str, str]]:
    # A distinct body each time: a repeated one would be a duplicate, not the case under test.
    body = make_body(name, timestamp=int(clock.now * 1000), **{"data.id": f"id-{next(_serial)}"})
    return body, ch.sign(body, secret, timestamp=int(clock.now * 1000))


def _refusal_lines(records: Records) -> list[tuple[int, str]]:
    return [(r.levelno, r.getMessage()) for r in records if "Refused" in r.getMessage()]


def test_first_refusal_of_a_code_is_a_warning_with_its_hint_then_info(
    clock: Clock, records: Records
) -> None:
    receiver = ch.Receiver(SECRET, now=clock, router=ch.Router())
    for _ in range(3):
        assert receiver.handle(*_signed(WRONG, clock)).status == 401
    lines = _refusal_lines(records)
    assert [level for level, _ in lines] == [logging.WARNING, logging.INFO, logging.INFO]
    warning = lines[0][1]
    assert warning.startswith("Refused a webhook request: signature_mismatch (401): ")
    assert "Hint: Use the secret CortexBuild returned" in warning
    assert lines[1][1] == "Refused a webhook request: signature_mismatch (401)"


def test_each_code_gets_its_own_first_warning(clock: Clock, records: Records) -> None:
    receiver = ch.Receiver(SECRET, now=clock, router=ch.Router())
    body, headers = _signed(SECRET, clock)
    receiver.handle(body, {**headers, "X-CortexBuild-Signature": "nope"})
    receiver.handle(*_signed(WRONG, clock))
    receiver.handle(body, headers, method="GET")
    warnings = [m for level, m in _refusal_lines(records) if level == logging.WARNING]
    assert [m.split(": ")[1].split(" ")[0] for m in warnings] == [
        "malformed_signature",
        "signature_mismatch",
        "method_not_allowed",
    ]


def test_a_code_warns_again_after_the_interval_counting_what_was_logged_at_info(
    clock: Clock, records: Records
) -> None:
    receiver = ch.Receiver(SECRET, now=clock, router=ch.Router())
    for _ in range(4):
        receiver.handle(*_signed(WRONG, clock))
    clock.now += 59
    receiver.handle(*_signed(WRONG, clock))
    clock.now += 1
    receiver.handle(*_signed(WRONG, clock))
    lines = _refusal_lines(records)
    assert [level for level, _ in lines] == [logging.WARNING] + [logging.INFO] * 4 + [
        logging.WARNING
    ]
    assert lines[-1][1].endswith("(4 more since the last warning of this code)")


def test_refusal_logs_never_hold_the_secret_the_signature_or_the_body(
    clock: Clock, records: Records
) -> None:
    receiver = ch.Receiver(SECRET, now=clock, router=ch.Router())
    body, headers = _signed(WRONG, clock)
    receiver.handle(body, headers)
    text = "\n".join(r.getMessage() for r in records)
    assert SECRET not in text
    assert WRONG not in text
    assert headers["X-CortexBuild-Signature"] not in text
    assert ch.sign(body, SECRET)["X-CortexBuild-Signature"] not in text
    assert body.decode() not in text
    assert "task.created" not in text


def test_adapter_refusals_are_logged_like_the_pipeline_s(clock: Clock, records: Records) -> None:
    app = WebhookApp(ch.Receiver(SECRET, now=clock, router=ch.Router()))
    environ: dict[str, Any] = {"REQUEST_METHOD": "POST", "CONTENT_LENGTH": "12x"}
    app(environ, lambda status, headers: None)
    assert _refusal_lines(records)[0] == (
        logging.WARNING,
        "Refused a webhook request: invalid_content_length (400): "
        "The Content-Length header is not a valid length.",
    )


def test_a_receiver_without_any_handler_warns_once(clock: Clock, records: Records) -> None:
    receiver = ch.Receiver(SECRET, now=clock, router=ch.Router())
    for name in ("task.created", "task.created", "invoice.paid"):
        assert receiver.handle(*_signed(SECRET, clock, name)).status == 200
    warnings = [r.getMessage() for r in records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert warnings[0].startswith("This receiver has no handlers at all: task.created was")


def test_an_event_nothing_handles_warns_once_per_name(clock: Clock, records: Records) -> None:
    receiver = ch.Receiver(SECRET, now=clock, router=ch.Router())
    receiver.on("invoice.paid")(lambda event: None)
    for name in ("task.created", "task.created", "invoice.paid", "task.updated"):
        assert receiver.handle(*_signed(SECRET, clock, name)).status == 200
    warnings = [r.getMessage() for r in records if r.levelno == logging.WARNING]
    assert [w.split(":")[0] for w in warnings] == [
        "No handler for task.created",
        "No handler for task.updated",
    ]
    assert "@receiver.on('task.created')" in warnings[0]


def test_a_default_logging_setup_shows_a_wrong_secret_once(tmp_path: Any) -> None:
    # No logging configuration at all: what a newcomer's script sees on stderr.
    script = textwrap.dedent(
        f"""
        import cortexhooks_receiver as ch
        from cortexhooks_receiver.testing import make_body
        receiver = ch.Receiver({SECRET!r}, router=ch.Router())
        for _ in range(50):
            body = make_body("task.created")
            assert receiver.handle(body, ch.sign(body, {WRONG!r})).status == 401
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("Refused a webhook request: signature_mismatch (401):")


# --- the memory store behind several processes ---------------------------------------------------


def _store_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "cortexhooks_receiver.stores" and r.levelno == logging.WARNING
    ]


def test_a_memory_store_used_in_a_process_forked_after_its_creation_warns_once() -> None:
    store = MemoryStore()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: claim twice, report what the store logged
        try:
            os.close(read_end)
            seen: list[str] = []

            class Collect(logging.Handler):
                def emit(self, record: logging.LogRecord) -> None:
                    seen.append(record.getMessage())

            logging.getLogger("cortexhooks_receiver.stores").addHandler(Collect())
            store.claim(("d:one",), 60, "t1")
            store.claim(("d:two",), 60, "t2")
            os.write(write_end, "\n".join(seen).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        output = pipe.read().decode()
    os.waitpid(pid, 0)
    lines = output.splitlines()
    assert len(lines) == 1, output
    assert "forked after the store was created" in lines[0]
    assert "sqlite:///" in lines[0]


def test_a_memory_store_in_the_creating_process_does_not_warn(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    store = MemoryStore()
    store.claim(("d:one",), 60, "t1")
    assert _store_warnings(caplog) == []


def test_web_concurrency_above_one_warns_at_creation(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WEB_CONCURRENCY", "4")
    ch.Receiver(SECRET, store="memory://")
    ch.Receiver(SECRET, store="sqlite:///unused.db")  # no warning for a store that spans them
    [warning] = _store_warnings(caplog)
    assert "WEB_CONCURRENCY asks for several worker processes" in warning


def test_a_multiprocess_wsgi_server_warns_once(caplog: pytest.LogCaptureFixture) -> None:
    app = WebhookApp(ch.Receiver(SECRET, router=ch.Router()))
    environ: dict[str, Any] = {"REQUEST_METHOD": "GET", "wsgi.multiprocess": True}
    for _ in range(3):
        app(dict(environ), lambda status, headers: None)
    [warning] = _store_warnings(caplog)
    assert "the WSGI server runs several worker processes" in warning

"""``cortexhooks secret``: a fresh secret in the platform's format, usable as is by a receiver."""

from __future__ import annotations

import io
import json
import re

import pytest

import cortexhooks_receiver as ch
from cortexhooks_receiver.cli import main
from cortexhooks_receiver.emulator import Emulator
from cortexhooks_receiver.sender import URLPolicy
from cortexhooks_receiver.testing.factories import make_body

SECRET_SHAPE = re.compile(r"whsec_[A-Za-z0-9]{32}")


def run_cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_secret_prints_one_line_with_a_new_whsec_secret() -> None:
    code, out, err = run_cli("secret")
    assert code == 0
    assert err == ""
    assert out.endswith("\n")
    assert SECRET_SHAPE.fullmatch(out.removesuffix("\n"))


def test_secret_is_new_every_time() -> None:
    printed = {run_cli("secret")[1] for _ in range(20)}
    assert len(printed) == 20


def test_secret_json_is_an_object_with_the_secret() -> None:
    code, out, _ = run_cli("secret", "--json")
    assert code == 0
    value = json.loads(out)
    assert list(value) == ["secret"]
    assert SECRET_SHAPE.fullmatch(value["secret"])


def test_secret_has_the_shape_of_the_emulators_registration_secrets() -> None:
    emulator = Emulator(token="t", policy=URLPolicy(allow_hosts=["127.0.0.1"]))
    _, registered = emulator.register("http://127.0.0.1/hooks", ["*"])
    assert SECRET_SHAPE.fullmatch(registered)
    _, printed, _ = run_cli("secret")
    assert len(printed.strip()) == len(registered)


def test_printed_secret_verifies_a_delivery_signed_with_it() -> None:
    secret = run_cli("secret")[1].strip()
    receiver = ch.Receiver(secret)
    body = make_body("task.completed")
    assert receiver.handle(body, ch.sign(body, secret)).status == 200


def test_secret_is_listed_in_the_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    assert "secret" in capsys.readouterr().out
    assert main(["secret", "--help"]) == 0
    assert "usage: cortexhooks secret" in capsys.readouterr().out


def test_secret_takes_no_value(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["secret", "whsec_mine"]) == 2
    assert "unrecognized arguments" in capsys.readouterr().err

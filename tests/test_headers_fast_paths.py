"""The header fast paths read the same values as the general lookup."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

import cortexhooks_receiver as ch
from cortexhooks_receiver._headers import (
    HeaderView,
    header_view,
    signature_headers,
    webhook_headers,
)

SECRET = "whsec_K2Fj8sL3mN9pQ4rT7vX1yZ5bC6dE8fG"


def request() -> tuple[bytes, dict[str, str]]:
    body = json.dumps(
        {"event": "task.created", "timestamp": ch.signature.now_ms(), "data": {"id": "t-1"}}
    ).encode()
    return body, ch.sign(body, SECRET, delivery_id="dlv_42", webhook_id="webhook-1")


def environ_of(headers: dict[str, str]) -> dict[str, Any]:
    environ: dict[str, Any] = {
        "wsgi.version": (1, 0),
        "wsgi.input": io.BytesIO(),
        "REQUEST_METHOD": "POST",
        "SERVER_NAME": "localhost",
    }
    for name, value in headers.items():
        key = name.upper().replace("-", "_")
        environ[key if key == "CONTENT_TYPE" else "HTTP_" + key] = value
    return environ


def test_wsgi_environ_is_read_by_cgi_names() -> None:
    body, headers = request()
    environ = environ_of(headers)
    assert webhook_headers(environ) == webhook_headers(headers)
    assert signature_headers(environ) == signature_headers(headers)
    assert signature_headers(environ)[0] == headers["X-CortexBuild-Signature"]
    receiver = ch.Receiver(SECRET, router=ch.Router())
    assert receiver.handle(body, environ).status == 200


def test_server_joined_duplicate_in_environ_is_malformed() -> None:
    body, headers = request()
    environ = environ_of(headers)
    signature = headers["X-CortexBuild-Signature"]
    environ["HTTP_X_CORTEXBUILD_SIGNATURE"] = f"{signature}, {signature}"
    outcome = ch.Receiver(SECRET, router=ch.Router()).handle(body, environ)
    assert (outcome.status, outcome.error and outcome.error.code) == (401, "malformed_signature")


def test_header_view_is_passed_through_unchanged() -> None:
    view = HeaderView({"x-cortexbuild-signature": "a" * 64})
    assert header_view(view) is view


@pytest.mark.parametrize("spelling", [str.lower, str.upper, lambda name: name])
def test_plain_dict_in_any_casing_reads_the_same_values(spelling: Any) -> None:
    _, headers = request()
    recased = {spelling(name): value for name, value in headers.items()}
    assert webhook_headers(recased) == webhook_headers(headers)
    assert webhook_headers(headers)[4:] == ("dlv_42", "webhook-1")

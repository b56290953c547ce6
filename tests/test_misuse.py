"""Misuse of the API gets a TypeError that says what to pass, never a raw Python error.

A body that is not the raw bytes (a ``str``, a parsed dict) and a secret that is not a ``str`` are
programming mistakes, raised as ``UsageError`` subclasses that are also ``TypeError``. ``sign`` and
``verify`` take the same body types.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

import cortexhooks_receiver as ch
from cortexhooks_receiver.errors import BodyTypeError, SecretTypeError, UsageError
from cortexhooks_receiver.signature import SecretKeys, compute_signature, verify_signature
from cortexhooks_receiver.testing import make_body

SECRET = "whsec_misuse_test_secret_0123456789"
BODY = make_body("task.created")
HEADERS = ch.sign(BODY, SECRET)
RECEIVER = ch.Receiver(SECRET, router=ch.Router())


def _handle(body: Any) -> object:
    return RECEIVER.handle(body, HEADERS)


def _handle_async(body: Any) -> object:
    return asyncio.run(RECEIVER.handle_async(body, HEADERS))


CALLERS: dict[str, Callable[[Any], object]] = {
    "Receiver.handle": _handle,
    "Receiver.handle_async": _handle_async,
    "Receiver.verify": lambda body: RECEIVER.verify(body, HEADERS),
    "ch.verify": lambda body: ch.verify(body, HEADERS, SECRET),
    "ch.sign": lambda body: ch.sign(body, SECRET),
    "compute_signature": lambda body: compute_signature(body, SECRET),
    "verify_signature": lambda body: verify_signature(body, HEADERS, SecretKeys(SECRET)),
}


@pytest.mark.parametrize("caller", CALLERS, ids=list(CALLERS))
@pytest.mark.parametrize(
    ("body", "named"),
    [
        (BODY.decode(), "not a str (decoded text)"),
        ({"event": "task.created"}, "not a dict (a parsed JSON body)"),
        ([1, 2], "not a list (a parsed JSON body)"),
        (None, "not a NoneType"),
    ],
    ids=["str", "dict", "list", "None"],
)
def test_a_body_that_is_not_bytes_raises_a_type_error_saying_how_to_get_the_bytes(
    caller: str, body: object, named: str
) -> None:
    with pytest.raises(BodyTypeError) as info:
        CALLERS[caller](body)
    message = str(info.value)
    assert message.startswith("The webhook body must be the raw request body as bytes, " + named)
    assert "request.get_data()" in message
    assert "await request.body()" in message
    assert "request.body in Django" in message
    assert isinstance(info.value, TypeError)
    assert isinstance(info.value, UsageError)
    assert isinstance(info.value, ch.CortexHooksError)
    assert not isinstance(info.value, ch.WebhookError)  # a mistake in code, not a bad request


@pytest.mark.parametrize("body", [BODY, bytearray(BODY), memoryview(BODY)], ids=type)
def test_bytes_bytearray_and_memoryview_are_all_accepted_by_sign_and_verify(body: Any) -> None:
    headers = ch.sign(body, SECRET)
    assert ch.verify(body, headers, SECRET).event == "task.created"
    assert RECEIVER.handle(body, headers).status == 200


@pytest.mark.parametrize(
    "make",
    [
        lambda: ch.Receiver(secret=SECRET.encode()),  # type: ignore[arg-type]
        lambda: ch.Receiver(secrets=[SECRET.encode()]),  # type: ignore[list-item]
        lambda: ch.verify(BODY, HEADERS, SECRET.encode()),  # type: ignore[arg-type]
        lambda: ch.sign(BODY, SECRET.encode()),  # type: ignore[arg-type]
    ],
    ids=["Receiver(secret=bytes)", "Receiver(secrets=[bytes])", "verify", "sign"],
)
def test_a_bytes_secret_says_the_secret_must_be_a_str(make: Callable[[], object]) -> None:
    with pytest.raises(SecretTypeError) as info:
        make()
    assert str(info.value).startswith("A webhook secret must be a str such as 'whsec_...'")
    assert "secret.decode()" in str(info.value)
    assert "At most" not in str(info.value)
    assert isinstance(info.value, TypeError)
    assert isinstance(info.value, ch.ConfigurationError)  # still caught as a setup mistake

"""What mutation testing of cortexhooks_receiver.signature found untested (docs/hardening.md).

The exact words of every configuration error (a user reads them when the receiver refuses to
start), the shape of generated delivery ids, and the edges of the "looks like seconds" hint.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import pytest

import cortexhooks_receiver as ch
from cortexhooks_receiver.errors import TimestampOutOfTolerance
from cortexhooks_receiver.signature import (
    SecretKeys,
    check_body,
    check_tolerance,
    compute_signature,
    looks_like_seconds,
    new_delivery_id,
    now_ms,
)

_EMPTY = (
    "A webhook secret is empty; set it to the secret CortexBuild returned at registration "
    "(CORTEXBUILD_WEBHOOK_SECRET)."
)
_NOT_TEXT = (
    "A webhook secret must be a str such as 'whsec_...' (the text CortexBuild returned, prefix "
    "included), not bytes; use secret.decode() if you read it as bytes."
)


@pytest.mark.parametrize(
    ("secrets", "error", "message"),
    [
        (None, ch.SecretTypeError, "Webhook secrets must be a str or a list of str."),
        (123, ch.SecretTypeError, "Webhook secrets must be a str or a list of str."),
        ([], ch.ConfigurationError, "At least one webhook secret is required."),
        (
            ["whsec_a"] * 6,
            ch.ConfigurationError,
            "At most 5 secrets can be active at once (rotation needs two).",
        ),
        ("  ", ch.ConfigurationError, _EMPTY),
        (b"whsec_x", ch.SecretTypeError, _NOT_TEXT),
        (["whsec_ok", 7], ch.SecretTypeError, _NOT_TEXT),
        ("\ud800", ch.ConfigurationError, "A webhook secret is not valid Unicode text."),
    ],
)
def test_every_secret_misconfiguration_says_exactly_what_is_wrong(
    secrets: Any, error: type[Exception], message: str
) -> None:
    with pytest.raises(error) as info:
        SecretKeys(secrets)
    assert str(info.value) == message


def test_a_naive_datetime_for_now_says_it_must_be_aware() -> None:
    with pytest.raises(ch.ConfigurationError) as info:
        now_ms(datetime(2025, 11, 9, 14, 30))
    assert str(info.value) == "now must be timezone-aware."


@pytest.mark.parametrize(
    ("body", "what"),
    [
        ("{}", "a str (decoded text)"),
        ({"event": "x"}, "a dict (a parsed JSON body)"),
        ([1], "a list (a parsed JSON body)"),
        (7, "a int"),
    ],
)
def test_a_body_that_is_not_bytes_says_how_each_framework_gives_the_bytes(
    body: object, what: str
) -> None:
    with pytest.raises(ch.BodyTypeError) as info:
        check_body(body)
    assert str(info.value) == (
        f"The webhook body must be the raw request body as bytes, not {what}: the "
        "signature covers the exact bytes received. Read them with request.get_data() in Flask, "
        "await request.body() in Starlette or FastAPI, request.body in Django."
    )


def test_a_new_delivery_id_is_dlv_and_128_random_bits_in_hex() -> None:
    ids = {new_delivery_id() for _ in range(50)}
    assert len(ids) == 50
    for delivery_id in ids:
        assert re.fullmatch(r"dlv_[0-9a-f]{32}", delivery_id), delivery_id


def test_the_seconds_window_is_counted_in_whole_seconds_of_now() -> None:
    # now has a fraction of a second: the window is measured from its whole seconds.
    now = 1_764_000_000_999
    assert looks_like_seconds(1_764_000_000 - 300, now, 300)
    assert looks_like_seconds(1_764_000_000 + 300, now, 300)
    assert not looks_like_seconds(1_764_000_000 - 301, now, 300)


def test_the_seconds_hint_uses_the_tolerance_in_whole_seconds_at_least_one() -> None:
    now = 1_764_000_000_000
    now_s = now // 1000
    with pytest.raises(TimestampOutOfTolerance) as info:
        check_tolerance(now_s - 300, now, 300_000)  # exactly the tolerance away, as seconds
    assert "seconds" in info.value.hint
    with pytest.raises(TimestampOutOfTolerance) as info:
        check_tolerance(now_s - 1, now, 0)  # no tolerance: a one-second window still applies
    assert "seconds" in info.value.hint
    with pytest.raises(TimestampOutOfTolerance) as info:
        check_tolerance(now_s - 2, now, 0)
    assert "seconds" not in info.value.hint
    assert info.value.hint == TimestampOutOfTolerance.default_hint
    with pytest.raises(TimestampOutOfTolerance) as info:
        check_tolerance(now_s - 1, now, 1_500)  # 1.5 s counts as one whole second
    assert info.value.hint == (
        "The timestamp looks like seconds; CortexBuild sends Unix milliseconds."
    )
    with pytest.raises(TimestampOutOfTolerance) as info:
        check_tolerance(now_s - 2, now, 1_500)
    assert "seconds" not in info.value.hint


def test_with_two_equal_secrets_the_newest_is_reported() -> None:
    keys = SecretKeys(["whsec_same", "whsec_same"])
    body = b"{}"
    signature = bytes.fromhex(compute_signature(body, "whsec_same"))
    index, digests = keys.search(body, signature)
    assert index == 0
    assert digests[0] == digests[1]
    assert keys.match(body, signature) == digests[0]

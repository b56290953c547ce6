"""Signature scheme: the shared vectors, the strict header formats, the time window and rotation."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from freezegun import freeze_time

import cortexhooks_receiver as ch
from cortexhooks_receiver.errors import (
    ConfigurationError,
    InvalidTimestamp,
    MalformedSignature,
    MissingSignature,
    MissingTimestamp,
    SignatureMismatch,
    TimestampOutOfTolerance,
    VerificationError,
)
from cortexhooks_receiver.signature import (
    DEFAULT_TOLERANCE,
    MAX_SECRETS,
    SecretKeys,
    compute_signature,
    looks_like_seconds,
    now_ms,
    sign,
    verify_signature,
)

NOW_MS = 1_762_698_600_000  # 2025-11-09T14:30:00Z
NOW = NOW_MS / 1000
BODY = b'{"event":"task.completed","timestamp":1762698600000,"data":{"id":"t_1"}}'


def _headers(body: bytes, secret: str, timestamp: int | str = NOW_MS) -> dict[str, str]:
    return {
        "X-CortexBuild-Signature": compute_signature(body, secret),
        "X-CortexBuild-Timestamp": str(timestamp),
    }


def _verify(
    body: bytes | bytearray | memoryview, headers: Any, secret: str | list[str], **kwargs: Any
) -> bytes:
    kwargs.setdefault("now", NOW)
    return verify_signature(body, headers, SecretKeys(secret), **kwargs)


def _vector_body(vectors: dict[str, Any], name: str) -> bytes:
    for item in vectors["valid"]:
        if item["name"] == name:
            return str(item["body"]).encode("utf-8")
    raise AssertionError(f"no valid vector named {name!r}")


# --- the shared vectors -----------------------------------------------------------------------


def test_vectors_file_has_valid_and_refused_cases(vectors: dict[str, Any]) -> None:
    assert len(vectors["valid"]) >= 4
    assert len(vectors["must_not_verify"]) >= 2


def test_every_valid_vector_is_reproduced_by_compute_signature(vectors: dict[str, Any]) -> None:
    for item in vectors["valid"]:
        body = item["body"].encode("utf-8")
        assert compute_signature(body, vectors["secret"]) == item["signature"], item["name"]


def test_every_valid_vector_verifies_with_a_fresh_timestamp(vectors: dict[str, Any]) -> None:
    for item in vectors["valid"]:
        body = item["body"].encode("utf-8")
        headers = {
            "X-CortexBuild-Signature": item["signature"],
            "X-CortexBuild-Timestamp": str(NOW_MS),
        }
        digest = _verify(body, headers, vectors["secret"])
        assert digest == bytes.fromhex(item["signature"]), item["name"]


def test_every_must_not_verify_vector_is_a_signature_mismatch(vectors: dict[str, Any]) -> None:
    for item in vectors["must_not_verify"]:
        body = _vector_body(vectors, item["body_of"])
        headers = {
            "X-CortexBuild-Signature": item["signature"],
            "X-CortexBuild-Timestamp": str(NOW_MS),
        }
        with pytest.raises(SignatureMismatch):
            _verify(body, headers, vectors["secret"])


def test_stripping_the_whsec_prefix_gives_the_refused_vector_signature(
    vectors: dict[str, Any],
) -> None:
    # The prefix is part of the key: a receiver that strips it computes the refused signature.
    item = vectors["must_not_verify"][0]
    body = _vector_body(vectors, item["body_of"])
    stripped = vectors["secret"].removeprefix("whsec_")
    assert compute_signature(body, stripped) == item["signature"]


def test_guide_payload_is_259_bytes(vectors: dict[str, Any]) -> None:
    # The benchmarks call this "the guide's 259-byte task payload".
    assert len(vectors["valid"][0]["body"].encode("utf-8")) == 259


# --- sign() ---------------------------------------------------------------------------------


def test_sign_produces_headers_that_verify(secret: str) -> None:
    headers = sign(BODY, secret, timestamp=NOW_MS, event="task.completed", webhook_id="wh_1")
    assert (
        headers["X-CortexBuild-Signature"]
        == hmac.new(secret.encode(), BODY, hashlib.sha256).hexdigest()
    )
    assert headers["X-CortexBuild-Timestamp"] == str(NOW_MS)
    assert headers["X-CortexBuild-Event"] == "task.completed"
    assert headers["X-CortexBuild-Webhook-Id"] == "wh_1"
    assert headers["Content-Type"] == "application/json"
    assert _verify(BODY, headers, secret) == hmac.digest(secret.encode(), BODY, "sha256")


def test_sign_generates_a_distinct_delivery_id_per_call(secret: str) -> None:
    first = sign(BODY, secret, timestamp=NOW_MS)["X-CortexBuild-Delivery-Id"]
    second = sign(BODY, secret, timestamp=NOW_MS)["X-CortexBuild-Delivery-Id"]
    assert first != second
    assert sign(BODY, secret, delivery_id="dlv_1")["X-CortexBuild-Delivery-Id"] == "dlv_1"


def test_sign_omits_optional_headers_when_not_given(secret: str) -> None:
    headers = sign(BODY, secret, timestamp=NOW_MS)
    assert "X-CortexBuild-Event" not in headers
    assert "X-CortexBuild-Webhook-Id" not in headers


def test_sign_defaults_the_timestamp_to_now(secret: str) -> None:
    with freeze_time("2025-11-09T14:30:00Z"):
        assert sign(BODY, secret)["X-CortexBuild-Timestamp"] == str(NOW_MS)


def test_public_sign_is_the_signature_module_function() -> None:
    assert ch.sign is sign


# --- signature header format ------------------------------------------------------------------


def test_upper_case_hex_signature_is_accepted(secret: str) -> None:
    # Policy (documented in signature.py): the comparison is on the decoded bytes, so case is free.
    headers = _headers(BODY, secret)
    headers["X-CortexBuild-Signature"] = headers["X-CortexBuild-Signature"].upper()
    assert _verify(BODY, headers, secret) == hmac.digest(secret.encode(), BODY, "sha256")


def test_upper_case_hex_policy_is_documented_in_the_module() -> None:
    import cortexhooks_receiver.signature as module

    assert module.__doc__ is not None
    assert "upper- and lower-case hex digits are both accepted" in module.__doc__


def test_missing_signature_header_is_refused(secret: str) -> None:
    with pytest.raises(MissingSignature):
        _verify(BODY, {"X-CortexBuild-Timestamp": str(NOW_MS)}, secret)


@pytest.mark.parametrize(
    ("label", "mangle"),
    [
        ("empty", lambda s: ""),
        ("63 digits", lambda s: s[:-1]),
        ("65 digits", lambda s: s + "0"),
        ("sha256= prefix", lambda s: "sha256=" + s),
        ("sha256= prefix replacing 7 digits", lambda s: "sha256=" + s[7:]),
        ("joined duplicate", lambda s: s + ", " + s),
        ("joined short duplicates", lambda s: "aaa, bbb"),
        ("64 chars with a space", lambda s: s[:31] + " " + s[32:]),
        ("64 chars with a tab", lambda s: s[:10] + "\t" + s[11:]),
        ("64 chars with a newline", lambda s: s[:-1] + "\n"),
        ("leading space", lambda s: " " + s[1:]),
        ("non-hex letter", lambda s: "g" + s[1:]),
        ("full-width digit", lambda s: "\uff10" + s[1:]),
        ("base64 of the digest", lambda s: "ugwNMeS1Z7cr8n+aGLRm1OxlozPguv47kTnpE5iT9OY="),
        ("0x prefix", lambda s: "0x" + s[2:]),
    ],
)
def test_signature_that_is_not_exactly_64_hex_digits_is_malformed(
    secret: str, label: str, mangle: Any
) -> None:
    headers = _headers(BODY, secret)
    headers["X-CortexBuild-Signature"] = mangle(headers["X-CortexBuild-Signature"])
    with pytest.raises(MalformedSignature):
        _verify(BODY, headers, secret)


def test_signature_format_is_checked_before_the_timestamp(secret: str) -> None:
    # Pipeline order: a malformed signature wins over a missing timestamp.
    with pytest.raises(MalformedSignature):
        _verify(BODY, {"X-CortexBuild-Signature": "nothex"}, secret)


def test_wrong_secret_is_a_mismatch(secret: str) -> None:
    headers = _headers(BODY, "whsec_someone_else")
    with pytest.raises(SignatureMismatch):
        _verify(BODY, headers, secret)


def test_reserialised_body_is_a_mismatch(secret: str) -> None:
    headers = _headers(BODY, secret)
    reserialised = b'{"event": "task.completed", "timestamp": 1762698600000, "data": {"id": "t_1"}}'
    with pytest.raises(SignatureMismatch):
        _verify(reserialised, headers, secret)


def test_bytearray_and_memoryview_bodies_verify(secret: str) -> None:
    headers = _headers(BODY, secret)
    assert _verify(bytearray(BODY), headers, secret) == _verify(memoryview(BODY), headers, secret)


# --- timestamp header format ------------------------------------------------------------------


def test_missing_timestamp_header_is_refused(secret: str) -> None:
    headers = _headers(BODY, secret)
    del headers["X-CortexBuild-Timestamp"]
    with pytest.raises(MissingTimestamp):
        _verify(BODY, headers, secret)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "+1762698600000",
        "-1762698600000",
        "1_762_698_600_000",
        "1_000",
        " 1762698600000",
        "1762698600000 ",
        "1762698600000\n",
        "１７６２６９８６０００００",  # full-width digits: str.isdigit() would say yes  # noqa: RUF001
        "１２３",  # noqa: RUF001
        "\u0661\u0662\u0663",  # Arabic-Indic digits
        "\u00b2",  # superscript two
        "1762698600000.0",
        "1762698600.5",
        "1.7626986e12",
        "0x19a6b2e1f40",
        "9" * 16,
        "1" + "0" * 15,
        "NaN",
        "1762698600000, 1762698600000",
    ],
)
def test_timestamp_that_is_not_plain_ascii_digits_is_invalid(secret: str, value: str) -> None:
    headers = _headers(BODY, secret, timestamp=value)
    with pytest.raises(InvalidTimestamp):
        _verify(BODY, headers, secret)


def test_timestamp_with_15_digits_is_parsed_not_refused_as_invalid(secret: str) -> None:
    # 15 digits is the longest accepted form; it is a valid integer, just far in the future.
    headers = _headers(BODY, secret, timestamp="9" * 15)
    with pytest.raises(TimestampOutOfTolerance):
        _verify(BODY, headers, secret)


def test_timestamp_with_leading_zeros_is_still_an_integer(secret: str) -> None:
    headers = _headers(BODY, secret, timestamp="00" + str(NOW_MS))
    assert _verify(BODY, headers, secret)


# --- the time window --------------------------------------------------------------------------


@pytest.mark.parametrize("offset_ms", [-300_000, -1, 0, 1, 300_000])
def test_timestamp_within_the_window_is_accepted(secret: str, offset_ms: int) -> None:
    headers = _headers(BODY, secret, timestamp=NOW_MS + offset_ms)
    assert _verify(BODY, headers, secret)


@pytest.mark.parametrize("offset_ms", [-300_001, 300_001, -86_400_000, 86_400_000])
def test_timestamp_one_ms_beyond_the_window_is_refused(secret: str, offset_ms: int) -> None:
    headers = _headers(BODY, secret, timestamp=NOW_MS + offset_ms)
    with pytest.raises(TimestampOutOfTolerance):
        _verify(BODY, headers, secret)


def test_default_tolerance_is_the_guides_five_minutes() -> None:
    assert DEFAULT_TOLERANCE == 300


def test_custom_tolerance_moves_the_boundary(secret: str) -> None:
    inside = _headers(BODY, secret, timestamp=NOW_MS - 10_000)
    outside = _headers(BODY, secret, timestamp=NOW_MS - 10_001)
    assert _verify(BODY, inside, secret, tolerance=10)
    with pytest.raises(TimestampOutOfTolerance):
        _verify(BODY, outside, secret, tolerance=10)


def test_fractional_tolerance_is_honoured_to_the_millisecond(secret: str) -> None:
    assert _verify(BODY, _headers(BODY, secret, timestamp=NOW_MS + 1500), secret, tolerance=1.5)
    with pytest.raises(TimestampOutOfTolerance):
        _verify(BODY, _headers(BODY, secret, timestamp=NOW_MS + 1501), secret, tolerance=1.5)


def test_timestamp_is_checked_before_the_hmac(secret: str) -> None:
    # A stale request with a wrong signature is refused for its age: no HMAC work is done.
    headers = _headers(BODY, "whsec_wrong", timestamp=NOW_MS - 600_000)
    with pytest.raises(TimestampOutOfTolerance):
        _verify(BODY, headers, secret)


def test_seconds_looking_timestamp_gets_a_hint_about_milliseconds(secret: str) -> None:
    headers = _headers(BODY, secret, timestamp=NOW_MS // 1000)
    with pytest.raises(TimestampOutOfTolerance) as info:
        _verify(BODY, headers, secret)
    assert "seconds" in info.value.hint
    assert "milliseconds" in info.value.hint


def test_seconds_are_recognised_only_within_the_window_the_caller_gives() -> None:
    # The receiver's hint uses its tolerance as the window; `cortexhooks verify` ten times it.
    now_s = NOW_MS // 1000
    assert looks_like_seconds(now_s, NOW_MS, 1)
    assert looks_like_seconds(now_s - 300, NOW_MS, 300)
    assert looks_like_seconds(now_s + 300, NOW_MS, 300)
    assert not looks_like_seconds(now_s - 301, NOW_MS, 300)
    assert not looks_like_seconds(NOW_MS, NOW_MS, 300)  # milliseconds, as it should be
    assert not looks_like_seconds(100_000_000_000, NOW_MS, 10**12)  # as ms: 1973, no earlier


def test_stale_millisecond_timestamp_gets_the_clock_hint_not_the_seconds_hint(secret: str) -> None:
    headers = _headers(BODY, secret, timestamp=NOW_MS - 3_600_000)
    with pytest.raises(TimestampOutOfTolerance) as info:
        _verify(BODY, headers, secret)
    assert "seconds" not in info.value.hint
    assert "clock" in info.value.hint


def test_now_accepts_an_aware_datetime(secret: str) -> None:
    moment = datetime.fromtimestamp(NOW, UTC)
    headers = _headers(BODY, secret, timestamp=NOW_MS + 300_000)
    assert _verify(BODY, headers, secret, now=moment)
    with pytest.raises(TimestampOutOfTolerance):
        _verify(BODY, headers, secret, now=moment - timedelta(milliseconds=1))


def test_now_ms_refuses_a_naive_datetime() -> None:
    with pytest.raises(ConfigurationError):
        now_ms(datetime(2025, 11, 9, 14, 30))


def test_now_ms_converts_seconds_and_datetimes_exactly() -> None:
    assert now_ms(NOW) == NOW_MS
    assert now_ms(1_762_698_600.123) == 1_762_698_600_123
    assert now_ms(datetime(2025, 11, 9, 14, 30, 0, 123_000, tzinfo=UTC)) == NOW_MS + 123


def test_now_ms_follows_freezegun() -> None:
    with freeze_time("2025-11-09T14:30:00Z") as frozen:
        assert now_ms() == NOW_MS
        frozen.tick(timedelta(seconds=301))
        assert now_ms() == NOW_MS + 301_000


def test_verification_uses_the_frozen_clock_when_now_is_not_given(secret: str) -> None:
    headers = _headers(BODY, secret, timestamp=NOW_MS)
    keys = SecretKeys(secret)
    with freeze_time("2025-11-09T14:35:00Z") as frozen:
        assert verify_signature(BODY, headers, keys)
        frozen.tick(timedelta(seconds=1))
        with pytest.raises(TimestampOutOfTolerance):
            verify_signature(BODY, headers, keys)


# --- constant-time comparison -----------------------------------------------------------------


def test_comparison_goes_through_compare_digest_on_32_byte_values(
    secret: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[object, object]] = []
    real = hmac.compare_digest

    def spy(a: Any, b: Any) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    headers = _headers(BODY, secret)
    _verify(BODY, headers, secret)
    with pytest.raises(SignatureMismatch):
        _verify(BODY + b" ", headers, secret)
    assert len(calls) == 2
    for a, b in calls:
        assert type(a) is bytes
        assert type(b) is bytes
        assert len(a) == len(b) == 32


# --- rotation and secret validation -----------------------------------------------------------


def test_rotation_accepts_signatures_made_with_either_secret() -> None:
    new, old = "whsec_new_secret_value", "whsec_old_secret_value"
    for signer in (new, old):
        headers = _headers(BODY, signer)
        digest = _verify(BODY, headers, [new, old])
        assert digest == hmac.digest(signer.encode(), BODY, "sha256")


def test_rotation_still_refuses_a_third_secret() -> None:
    with pytest.raises(SignatureMismatch):
        _verify(BODY, _headers(BODY, "whsec_third"), ["whsec_new", "whsec_old"])


def test_up_to_max_secrets_are_allowed() -> None:
    secrets = [f"whsec_{i}" for i in range(MAX_SECRETS)]
    assert MAX_SECRETS == 5
    assert len(SecretKeys(secrets).keys) == MAX_SECRETS
    assert _verify(BODY, _headers(BODY, secrets[-1]), secrets)


@pytest.mark.parametrize(
    "secrets",
    [
        [f"whsec_{i}" for i in range(MAX_SECRETS + 1)],
        [],
        (),
        "",
        "   ",
        "\t\n",
        ["whsec_ok", ""],
        ["whsec_ok", "  "],
        [b"whsec_bytes"],
        ["whsec_ok", None],
        [123],
        None,
        123,
        b"whsec_bytes",
        "\ud800",  # a lone surrogate cannot be encoded as UTF-8
    ],
)
def test_bad_secret_configuration_is_a_configuration_error(secrets: Any) -> None:
    with pytest.raises(ConfigurationError):
        SecretKeys(secrets)


def test_configuration_error_is_a_value_error_not_a_webhook_error() -> None:
    assert issubclass(ConfigurationError, ValueError)
    assert not issubclass(ConfigurationError, ch.WebhookError)


def test_secret_keys_repr_does_not_show_the_secret(secret: str) -> None:
    assert secret not in repr(SecretKeys(secret))
    assert secret[6:] not in repr(SecretKeys(secret))


def test_secret_is_used_as_is_not_stripped_or_decoded(secret: str) -> None:
    padded = " " + secret
    assert compute_signature(BODY, padded) != compute_signature(BODY, secret)
    assert SecretKeys(secret).keys == (secret.encode("utf-8"),)


def test_compute_signature_refuses_an_empty_secret() -> None:
    with pytest.raises(ConfigurationError):
        compute_signature(BODY, "")


def test_every_refusal_is_a_verification_error_with_status_401(secret: str) -> None:
    cases: list[dict[str, str]] = [
        {},
        {"X-CortexBuild-Signature": "x"},
        {"X-CortexBuild-Signature": "a" * 64},
        {"X-CortexBuild-Signature": "a" * 64, "X-CortexBuild-Timestamp": "x"},
        {"X-CortexBuild-Signature": "a" * 64, "X-CortexBuild-Timestamp": "1"},
        {"X-CortexBuild-Signature": "a" * 64, "X-CortexBuild-Timestamp": str(NOW_MS)},
    ]
    seen = set()
    for headers in cases:
        with pytest.raises(VerificationError) as info:
            _verify(BODY, headers, secret)
        assert info.value.status == 401
        seen.add(info.value.code)
    assert seen == {
        "missing_signature",
        "malformed_signature",
        "missing_timestamp",
        "invalid_timestamp",
        "timestamp_out_of_tolerance",
        "signature_mismatch",
    }


@pytest.mark.parametrize("length", [1, 63, 64, 65, 128, 1000])
def test_secrets_of_any_length_give_the_standard_hmac(length: int) -> None:
    # Keys longer than SHA-256's 64-byte block are hashed first (RFC 2104), like hmac does.
    secret = ("whsec_" + "k" * length)[:length]
    digest = _verify(BODY, _headers(BODY, secret), secret)
    assert digest == hmac.new(secret.encode(), BODY, hashlib.sha256).digest()

"""Properties of signing and verification, checked with hypothesis over arbitrary input.

The last group is the robustness contract: whatever body and header container arrive (any bytes,
any types, bytes keys, lists of pairs, duplicates), verification either succeeds or raises a
:class:`~cortexhooks_receiver.errors.WebhookError`; the Receiver always answers with an Outcome.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable
from typing import Any

import pytest
from django.http.request import HttpHeaders
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from starlette.datastructures import Headers as StarletteHeaders
from werkzeug.datastructures import Headers as WerkzeugHeaders

import cortexhooks_receiver as ch
from cortexhooks_receiver.errors import (
    MalformedSignature,
    SignatureMismatch,
    WebhookError,
)
from cortexhooks_receiver.signature import SecretKeys, compute_signature, sign, verify_signature

NOW_MS = 1_762_698_600_000
NOW = NOW_MS / 1000
SECRET = "whsec_K2Fj8sL3mN9pQ4rT7vX1yZ5bC6dE8fG"

secrets_text = st.text(min_size=1, max_size=160).filter(lambda s: bool(s.strip()))
bodies = st.binary(max_size=2048)


def _verify(body: bytes, headers: Any, secret: str | list[str]) -> bytes:
    return verify_signature(body, headers, SecretKeys(secret), now=NOW)


# --- sign -> verify ---------------------------------------------------------------------------


@given(body=bodies, secret=secrets_text)
def test_sign_then_verify_round_trips_for_any_body_and_secret(body: bytes, secret: str) -> None:
    headers = sign(body, secret, timestamp=NOW_MS)
    assert _verify(body, headers, secret) == hmac.digest(secret.encode("utf-8"), body, "sha256")


@given(body=bodies, new=secrets_text, old=secrets_text)
def test_rotation_verifies_a_body_signed_with_the_old_secret(
    body: bytes, new: str, old: str
) -> None:
    headers = sign(body, old, timestamp=NOW_MS)
    assert _verify(body, headers, [new, old]) == hmac.digest(old.encode(), body, "sha256")


@given(body=bodies.filter(bool), secret=secrets_text, data=st.data())
def test_any_single_bit_change_of_the_body_is_refused(
    body: bytes, secret: str, data: st.DataObject
) -> None:
    headers = sign(body, secret, timestamp=NOW_MS)
    index = data.draw(st.integers(0, len(body) - 1), label="byte")
    bit = data.draw(st.integers(0, 7), label="bit")
    tampered = bytearray(body)
    tampered[index] ^= 1 << bit
    with pytest.raises(SignatureMismatch):
        _verify(bytes(tampered), headers, secret)


@given(body=bodies, secret=secrets_text, index=st.integers(0, 31), bit=st.integers(0, 7))
def test_any_single_bit_change_of_the_signature_digest_is_refused(
    body: bytes, secret: str, index: int, bit: int
) -> None:
    headers = sign(body, secret, timestamp=NOW_MS)
    digest = bytearray(bytes.fromhex(headers["X-CortexBuild-Signature"]))
    digest[index] ^= 1 << bit
    headers["X-CortexBuild-Signature"] = digest.hex()
    with pytest.raises(SignatureMismatch):
        _verify(body, headers, secret)


@given(body=bodies, secret=secrets_text, index=st.integers(0, 63), bit=st.integers(0, 6))
def test_any_single_bit_change_of_the_signature_text_is_refused_unless_only_case_changes(
    body: bytes, secret: str, index: int, bit: int
) -> None:
    headers = sign(body, secret, timestamp=NOW_MS)
    text = headers["X-CortexBuild-Signature"]
    flipped = chr(ord(text[index]) ^ (1 << bit))
    changed = text[:index] + flipped + text[index + 1 :]
    headers["X-CortexBuild-Signature"] = changed
    if changed.lower() == text:  # the documented upper-case hex policy
        assert _verify(body, headers, secret)
        return
    with pytest.raises((SignatureMismatch, MalformedSignature)):
        _verify(body, headers, secret)


@given(body=bodies, secret=secrets_text, keep=st.integers(0, 63))
def test_any_truncation_of_the_signature_is_malformed(body: bytes, secret: str, keep: int) -> None:
    headers = sign(body, secret, timestamp=NOW_MS)
    headers["X-CortexBuild-Signature"] = headers["X-CortexBuild-Signature"][:keep]
    with pytest.raises(MalformedSignature):
        _verify(body, headers, secret)


@given(body=bodies, secret=secrets_text, extra=st.text(min_size=1, max_size=70))
def test_any_extension_of_the_signature_is_malformed(body: bytes, secret: str, extra: str) -> None:
    headers = sign(body, secret, timestamp=NOW_MS)
    sig = headers["X-CortexBuild-Signature"]
    for value in (sig + extra, extra + sig):
        headers["X-CortexBuild-Signature"] = value
        with pytest.raises(MalformedSignature):
            _verify(body, headers, secret)


@given(body=bodies, secret=secrets_text, other=secrets_text)
def test_a_different_secret_never_verifies(body: bytes, secret: str, other: str) -> None:
    assume(secret != other)
    headers = sign(body, other, timestamp=NOW_MS)
    with pytest.raises(SignatureMismatch):
        _verify(body, headers, secret)


@given(timestamp=st.integers(-(10**16), 10**16))
def test_window_is_exactly_plus_minus_tolerance(timestamp: int) -> None:
    headers = {
        "X-CortexBuild-Signature": compute_signature(b"{}", SECRET),
        "X-CortexBuild-Timestamp": str(timestamp),
    }
    inside = abs(NOW_MS - timestamp) <= 300_000 and timestamp >= 0 and timestamp < 10**15
    if inside:
        assert _verify(b"{}", headers, SECRET)
    else:
        with pytest.raises(WebhookError) as info:
            _verify(b"{}", headers, SECRET)
        assert info.value.code in ("invalid_timestamp", "timestamp_out_of_tolerance")


# --- any input: success or a WebhookError, never anything else ------------------------------

GOOD_BODY = (
    b'{"event":"task.completed","timestamp":1762698600000,"data":{"id":"task-123",'
    b'"title":"Install electrical panels","status":"completed"},"companyId":"comp-1",'
    b'"userId":"user-789"}'
)

NAMES = [
    "X-CortexBuild-Signature",
    "x-cortexbuild-signature",
    "HTTP_X_CORTEXBUILD_SIGNATURE",
    "X-CortexBuild-Timestamp",
    "x-cortexbuild-timestamp",
    "HTTP_X_CORTEXBUILD_TIMESTAMP",
    "X-CortexBuild-Delivery-Id",
    "X-CortexBuild-Event",
    "X-CortexBuild-Webhook-Id",
    "Content-Type",
    "CONTENT_TYPE",
    "Content-Length",
    "Content-Encoding",
]

str_names = st.sampled_from(NAMES) | st.text(max_size=30)
any_names = st.one_of(
    str_names, str_names.map(lambda s: s.encode("utf-8")), st.integers(), st.none()
)


@st.composite
def scalar_values(draw: st.DrawFn, body: bytes) -> Any:
    good_sig = compute_signature(body, SECRET)
    return draw(
        st.one_of(
            st.sampled_from(
                [
                    good_sig,
                    good_sig.upper(),
                    f"{good_sig}, {good_sig}",
                    str(NOW_MS),
                    str(NOW_MS // 1000),
                    "application/json",
                    "application/json; charset=utf-8",
                    "text/plain",
                    "gzip",
                    "dlv_1",
                    "",
                ]
            ),
            st.text(max_size=80),
            st.text(alphabet="0123456789abcdefABCDEF ,\t=sha", min_size=60, max_size=70),
            st.text(alphabet="0123456789+-_. \uff11", max_size=20),
            st.binary(max_size=80),
            st.integers(),
            st.floats(),
            st.booleans(),
            st.none(),
        )
    )


@st.composite
def header_containers(draw: st.DrawFn, body: bytes) -> Any:
    scalar = scalar_values(body)
    value = st.recursive(
        scalar, lambda inner: st.lists(inner, max_size=3) | st.tuples(inner), max_leaves=6
    )
    pair = st.one_of(
        st.tuples(any_names, value),
        st.lists(st.one_of(any_names, value), max_size=3),
        scalar,
    )
    text_pairs = st.lists(st.tuples(str_names, st.text(max_size=80) | scalar.filter(_is_str)))
    kind = draw(
        st.sampled_from(
            [
                "signed dict",
                "dict",
                "pairs",
                "tuple of pairs",
                "werkzeug",
                "starlette",
                "django",
                "environ",
                "scalar",
            ]
        )
    )
    if kind == "signed dict":
        headers: dict[Any, Any] = dict(sign(body, SECRET, timestamp=NOW_MS))
        extra = draw(st.dictionaries(str_names, value, max_size=3))
        headers.update(extra)
        return headers
    if kind == "dict":
        return draw(st.dictionaries(any_names, value, max_size=8))
    if kind == "pairs":
        return draw(st.lists(pair, max_size=8))
    if kind == "tuple of pairs":
        return tuple(draw(st.lists(pair, max_size=8)))
    if kind == "werkzeug":
        return WerkzeugHeaders(draw(text_pairs.map(_printable_pairs)))
    if kind == "starlette":
        raw = draw(text_pairs)
        return StarletteHeaders(
            raw=[(k.lower().encode("utf-8"), v.encode("utf-8")) for k, v in raw]
        )
    if kind == "django":
        environ = draw(st.dictionaries(str_names, st.text(max_size=80) | scalar.filter(_is_str)))
        return HttpHeaders(environ)
    if kind == "environ":
        return {
            "HTTP_X_CORTEXBUILD_SIGNATURE": draw(scalar),
            "HTTP_X_CORTEXBUILD_TIMESTAMP": draw(scalar),
            "CONTENT_TYPE": draw(scalar),
            "CONTENT_LENGTH": draw(scalar),
        }
    return draw(scalar)


def _is_str(value: Any) -> bool:
    return isinstance(value, str)


def _printable_pairs(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    # Werkzeug refuses newlines in header values at construction: that is not our input.
    return [(k, v) for k, v in pairs if "\n" not in k + v and "\r" not in k + v]


@st.composite
def requests(draw: st.DrawFn) -> tuple[bytes, Any]:
    body = draw(
        st.one_of(
            st.binary(max_size=512),
            st.just(GOOD_BODY),
            st.just(b""),
            st.sampled_from([b"[]", b"null", b'{"event":1}', b'{"event":"x","timestamp":1}']),
        )
    )
    return body, draw(header_containers(body))


def _run_verify_signature(body: bytes, headers: Any) -> None:
    verify_signature(body, headers, SecretKeys(SECRET), now=NOW)


def _run_ch_verify(body: bytes, headers: Any) -> None:
    ch.verify(body, headers, SECRET, now=NOW)


def _run_receiver(body: bytes, headers: Any) -> None:
    receiver = ch.Receiver(SECRET, now=lambda: NOW)
    outcome = receiver.handle(body, headers)
    assert outcome.status in (200, 400, 401, 405, 409, 413, 415, 500, 503)
    parsed = json.loads(outcome.body)
    assert isinstance(parsed, dict)
    if outcome.status >= 400:
        assert set(parsed) == {"error", "message"}
    assert ("Content-Type", "application/json") in outcome.headers


TARGETS: dict[str, Callable[[bytes, Any], None]] = {
    "verify_signature": _run_verify_signature,
    "ch.verify": _run_ch_verify,
    "Receiver.handle": _run_receiver,
}


@pytest.mark.parametrize("target", list(TARGETS))
@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(req=requests())
def test_any_input_is_accepted_or_refused_with_a_webhook_error(
    target: str, req: tuple[bytes, Any]
) -> None:
    body, headers = req
    refusal: WebhookError | None = None
    try:
        TARGETS[target](body, headers)
    except WebhookError as exc:
        refusal = exc
    if refusal is not None:
        assert refusal.code
        assert 400 <= refusal.status <= 599

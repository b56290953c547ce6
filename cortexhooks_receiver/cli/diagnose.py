"""Why does a signature not verify? A diagnosis of the usual mistakes, for ``cortexhooks verify``.

Checked, in order: the signature header's presence and shape; the HMAC over the raw body with
each secret given; variants of the secret (surrounding whitespace, the ``whsec_`` prefix missing
or doubled); re-serialised forms of the body (the guide's own examples verify
``JSON.stringify(req.body)``, and frameworks hand out parsed JSON: if the signature matches a
re-serialised form, the bytes being verified are not the bytes that were signed); then the
timestamp: missing, not an integer, in seconds instead of milliseconds, or outside the tolerance
(clock skew). Nothing here prints a secret or an expected signature.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable, Sequence
from typing import Any, Final

import msgspec

from cortexhooks_receiver.sender.jsonjs import dumps as js_dumps

__all__ = ["Diagnosis", "diagnose"]

_SECONDS_LIMIT: Final = 100_000_000_000  # below this a millisecond value would be 1973


class Diagnosis(msgspec.Struct, frozen=True):
    """The verdict: ``ok``, the main ``problem`` code (``None`` when ok), a sentence and findings.

    Problem codes: ``missing_signature``, ``malformed_signature``, ``secret_whitespace``,
    ``secret_prefix``, ``body_reserialised``, ``wrong_secret_or_body``, ``missing_timestamp``,
    ``invalid_timestamp``, ``timestamp_in_seconds``, ``clock_skew``.
    """

    ok: bool
    problem: str | None
    message: str
    findings: list[str]
    signature_valid: bool
    timestamp_valid: bool


def _digest(secret: str, body: bytes) -> bytes:
    return hmac.digest(secret.encode("utf-8"), body, "sha256")


def _parse_signature(text: str) -> bytes | None:
    text = text.strip()
    if text.lower().startswith("sha256="):
        text = text[7:]
    if len(text) != 64:
        return None
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        return None
    return raw if len(raw) == 32 else None


def _body_forms(body: bytes) -> list[tuple[str, bytes]]:
    try:
        value = json.loads(body)
    except ValueError:
        return []
    forms: list[tuple[str, Callable[[], bytes]]] = [
        ("JSON.stringify (compact, raw UTF-8)", lambda: js_dumps(value)),
        ("Python json.dumps() defaults", lambda: json.dumps(value).encode()),
        (
            "compact json.dumps() with ASCII escapes",
            lambda: json.dumps(value, separators=(",", ":")).encode(),
        ),
        (
            "compact json.dumps(ensure_ascii=False)",
            lambda: json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode(),
        ),
        (
            "json.dumps() with sorted keys",
            lambda: json.dumps(value, sort_keys=True, separators=(",", ":")).encode(),
        ),
        ("pretty-printed (indent=2)", lambda: json.dumps(value, indent=2).encode()),
        ("the body without its trailing newline", lambda: body.rstrip(b"\r\n")),
        ("the body with a trailing newline", lambda: body + b"\n"),
    ]
    result: list[tuple[str, bytes]] = []
    for name, make in forms:
        try:
            candidate = make()
        except (TypeError, ValueError):
            continue
        if candidate != body:
            result.append((name, candidate))
    return result


def _secret_variants(secret: str) -> list[tuple[str, str, str]]:
    variants: list[tuple[str, str, str]] = []
    stripped = secret.strip()
    if stripped != secret:
        variants.append(
            (
                "secret_whitespace",
                stripped,
                "the secret has surrounding whitespace or a newline; remove it",
            )
        )
    if not stripped.startswith("whsec_"):
        variants.append(
            (
                "secret_prefix",
                "whsec_" + stripped,
                "the secret is missing its whsec_ prefix: the HMAC key is the whole string",
            )
        )
    else:
        variants.append(
            (
                "secret_prefix",
                stripped[len("whsec_") :],
                "the sender keyed the HMAC without the whsec_ prefix; CortexBuild uses the "
                "whole string, prefix included",
            )
        )
    return variants


def diagnose(
    body: bytes,
    signature: str | None,
    timestamp: str | None,
    secrets: Sequence[str],
    *,
    now_ms: int,
    tolerance: float = 300,
) -> Diagnosis:
    """Check one request like a receiver would and explain every failure found.

    Never raises for any input.
    """
    findings: list[str] = []
    problems: list[tuple[str, str]] = []
    signature_ok = False

    if signature is None or not signature.strip():
        problems.append(("missing_signature", "the X-CortexBuild-Signature header is missing"))
    else:
        raw = _parse_signature(signature)
        if raw is None:
            problems.append(
                (
                    "malformed_signature",
                    "the signature is not 64 hex digits (an HMAC-SHA256 hex digest)",
                )
            )
        else:
            if signature.strip().lower().startswith("sha256="):
                findings.append("the signature carries a 'sha256=' prefix; CortexBuild sends none")
            signature_ok = _check_signature(body, raw, secrets, findings, problems)

    timestamp_ok = _check_timestamp(timestamp, now_ms, tolerance, findings, problems)
    if problems:
        code, message = problems[0]
        return Diagnosis(
            ok=False,
            problem=code,
            message=message,
            findings=findings,
            signature_valid=signature_ok,
            timestamp_valid=timestamp_ok,
        )
    return Diagnosis(
        ok=True,
        problem=None,
        message="the signature is valid and the timestamp is within tolerance",
        findings=findings,
        signature_valid=True,
        timestamp_valid=True,
    )


def _check_signature(
    body: bytes,
    raw: bytes,
    secrets: Sequence[str],
    findings: list[str],
    problems: list[tuple[str, str]],
) -> bool:
    for index, secret in enumerate(secrets):
        if hmac.compare_digest(_digest(secret, body), raw):
            if len(secrets) > 1:
                findings.append(f"the signature matches secret #{index + 1}")
            _note_reserialisation(body, findings)
            return True
    for secret in secrets:
        for code, variant, advice in _secret_variants(secret):
            if variant and hmac.compare_digest(_digest(variant, body), raw):
                problems.append((code, advice))
                return False
    for name, candidate in _body_forms(body):
        for secret in secrets:
            if hmac.compare_digest(_digest(secret, candidate), raw):
                problems.append(
                    (
                        "body_reserialised",
                        f"the signature matches the body re-serialised as {name}: the bytes "
                        "being verified are not the bytes that were signed. Verify the raw "
                        "request body, before any JSON parsing",
                    )
                )
                return False
    _note_reserialisation(body, findings)
    problems.append(
        (
            "wrong_secret_or_body",
            "no secret given reproduces the signature: the secret is wrong (check the webhook "
            "id it belongs to) or the body was changed after signing",
        )
    )
    return False


def _note_reserialisation(body: bytes, findings: list[str]) -> None:
    try:
        value: Any = json.loads(body)
    except ValueError:
        findings.append("the body is not valid JSON")
        return
    try:
        same = js_dumps(value) == body
    except (TypeError, ValueError):
        return
    if same:
        findings.append(
            "re-serialising this body with JSON.stringify rules gives the same bytes "
            "(so a receiver that re-serialises would still match, by luck)"
        )
    else:
        findings.append(
            "re-serialising this body changes its bytes: a receiver must verify the raw body"
        )


def _check_timestamp(
    timestamp: str | None,
    now_ms: int,
    tolerance: float,
    findings: list[str],
    problems: list[tuple[str, str]],
) -> bool:
    if timestamp is None or not timestamp.strip():
        problems.append(("missing_timestamp", "the X-CortexBuild-Timestamp header is missing"))
        return False
    text = timestamp.strip()
    if not (text.isascii() and text.isdigit() and len(text) <= 15):
        problems.append(
            ("invalid_timestamp", "the timestamp is not a plain integer of Unix milliseconds")
        )
        return False
    value = int(text)
    skew_ms = now_ms - value
    if abs(skew_ms) <= tolerance * 1000:
        findings.append(f"the timestamp is {abs(skew_ms) / 1000:.1f} s {_direction(skew_ms)}")
        return True
    if value < _SECONDS_LIMIT and abs(now_ms // 1000 - value) <= max(tolerance, 1) * 10:
        problems.append(
            (
                "timestamp_in_seconds",
                "the timestamp is in seconds; CortexBuild sends Unix milliseconds "
                "(multiply by 1000, or compare with Date.now())",
            )
        )
        return False
    problems.append(
        (
            "clock_skew",
            f"the timestamp is {abs(skew_ms) / 1000:.0f} s {_direction(skew_ms)}, beyond the "
            f"±{tolerance:g} s tolerance: check the clocks (NTP) or whether this is a replay",
        )
    )
    return False


def _direction(skew_ms: int) -> str:
    return "in the past" if skew_ms >= 0 else "in the future"

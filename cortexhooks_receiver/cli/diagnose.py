"""Why does a signature not verify? A diagnosis of the usual mistakes, for ``cortexhooks verify``.

The verdict is the receiver's own: :func:`~cortexhooks_receiver.signature.authenticate`, with the
same secrets, clock and tolerance, so "verify says OK" holds exactly when a receiver would accept
the signature and timestamp. The diagnosis explains that verdict with the same parsing and
checking functions (``parse_signature``, ``parse_timestamp``, ``check_tolerance``,
``SecretKeys.match``), in the receiver's order: the signature header's presence and shape (a
``sha256=`` prefix is named, and the hex after it is still checked); the timestamp: missing, not
an integer, in seconds instead of milliseconds, or outside the tolerance (clock skew); then the
HMAC over the raw body with each secret given, variants of the secret (surrounding whitespace, the
``whsec_`` prefix missing or doubled) and re-serialised forms of the body (the guide's own
examples verify ``JSON.stringify(req.body)``, and frameworks hand out parsed JSON: if the
signature matches a re-serialised form, the bytes being verified are not the bytes that were
signed). Nothing here prints a secret or an expected signature.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable, Sequence
from typing import Any, Final

import msgspec

from cortexhooks_receiver.errors import (
    InvalidTimestamp,
    MalformedSignature,
    MissingTimestamp,
    SignatureMismatch,
    TimestampOutOfTolerance,
    VerificationError,
)
from cortexhooks_receiver.sender.jsonjs import dumps as js_dumps
from cortexhooks_receiver.signature import (
    DEFAULT_TOLERANCE,
    SecretKeys,
    authenticate,
    check_tolerance,
    compute_signature,
    looks_like_seconds,
    parse_signature,
    parse_timestamp,
)

__all__ = ["Diagnosis", "diagnose"]

_SHA256_PREFIX: Final = "sha256="


class Diagnosis(msgspec.Struct, frozen=True):
    """The verdict and its explanation.

    ``ok`` is the receiver's verdict on the signature and timestamp and ``error`` the code it
    refuses with (``None`` when ok). ``problem`` names the cause (``None`` when ok), ``message``
    says it in a sentence, ``findings`` are facts worth reading and ``notes`` facts that only
    matter when digging deeper (``cortexhooks verify --verbose``).

    Problem codes, each with the receiver's ``error``: ``missing_signature``,
    ``malformed_signature`` (also for a ``sha256=`` prefix), ``missing_timestamp``,
    ``invalid_timestamp``; ``timestamp_in_seconds`` and ``clock_skew``
    (``timestamp_out_of_tolerance``); ``secret_whitespace``, ``secret_prefix``,
    ``body_reserialised`` and ``wrong_secret_or_body`` (``signature_mismatch``).
    """

    ok: bool
    error: str | None
    problem: str | None
    message: str
    findings: list[str]
    notes: list[str]
    signature_valid: bool
    timestamp_valid: bool


class _Report:
    """What the checks found, in the receiver's order: the first problem is the one it answers."""

    def __init__(self) -> None:
        self.problems: list[tuple[str, str]] = []
        self.findings: list[str] = []
        self.notes: list[str] = []


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
    tolerance: float = DEFAULT_TOLERANCE,
) -> Diagnosis:
    """Judge one request's signature and timestamp as the receiver does, and explain the verdict.

    ``signature`` and ``timestamp`` are the header values as the receiver gets them (``None``
    when absent); ``tolerance`` is in seconds.

    Raises:
        ConfigurationError: the secrets are not ones a receiver accepts (empty, whitespace only,
            more than :data:`~cortexhooks_receiver.signature.MAX_SECRETS`).
    """
    keys = SecretKeys(secrets)
    tolerance_ms = int(tolerance * 1000)
    error: VerificationError | None = None
    try:
        authenticate(body, signature, timestamp, keys, now_ms, tolerance_ms)
    except VerificationError as exc:
        error = exc

    report = _Report()
    raw, as_sent = _read_signature(signature, report)
    mismatch = None if raw is None else _check_signature(body, raw, keys, secrets, report)
    signature_ok = raw is not None and as_sent and mismatch is None
    if raw is not None and not as_sent:
        report.findings.append(
            "the hex after the 'sha256=' prefix is the right signature of this body: without "
            "the prefix the receiver would accept it"
            if mismatch is None
            else f"without the prefix it would not verify either: {mismatch[1]}"
        )
    timestamp_ok = _check_timestamp(timestamp, now_ms, tolerance_ms, report)
    if as_sent and mismatch is not None:
        report.problems.append(mismatch)  # the receiver checks the HMAC after the timestamp

    if error is None:
        return Diagnosis(
            ok=True,
            error=None,
            problem=None,
            message="the receiver would accept this signature and timestamp",
            findings=report.findings,
            notes=report.notes,
            signature_valid=signature_ok,
            timestamp_valid=timestamp_ok,
        )
    # The checks above follow the receiver's order, so the first problem explains its answer;
    # the receiver's own words stand in should a refusal ever have no explanation here.
    problem, message = report.problems[0] if report.problems else (error.code, error.message)
    return Diagnosis(
        ok=False,
        error=error.code,
        problem=problem,
        message=message,
        findings=report.findings,
        notes=report.notes,
        signature_valid=signature_ok,
        timestamp_valid=timestamp_ok,
    )


def _read_signature(signature: str | None, report: _Report) -> tuple[bytes | None, bool]:
    """Return the signature's 32 bytes and whether the receiver reads them as sent."""
    if signature is None:
        report.problems.append(
            ("missing_signature", "the X-CortexBuild-Signature header is missing")
        )
        return None, False
    try:
        return parse_signature(signature), True
    except MalformedSignature:
        pass
    if signature[: len(_SHA256_PREFIX)].lower() == _SHA256_PREFIX:
        try:
            raw = parse_signature(signature[len(_SHA256_PREFIX) :])
        except MalformedSignature:
            pass
        else:
            report.problems.append(
                (
                    "malformed_signature",
                    "the signature carries a 'sha256=' prefix; CortexBuild sends the 64 hex "
                    "digits alone, and the receiver refuses anything else",
                )
            )
            return raw, False
    report.problems.append(
        (
            "malformed_signature",
            "the signature is not 64 hex digits (an HMAC-SHA256 hex digest)",
        )
    )
    return None, False


def _check_signature(
    body: bytes, raw: bytes, keys: SecretKeys, secrets: Sequence[str], report: _Report
) -> tuple[str, str] | None:
    """Return ``None`` when ``raw`` signs ``body``, else the problem that explains why not."""
    try:
        digest = keys.match(body, raw)
    except SignatureMismatch:
        pass
    else:
        if len(secrets) > 1:
            hex_digest = digest.hex()
            index = next(
                i for i, s in enumerate(secrets) if compute_signature(body, s) == hex_digest
            )
            report.findings.append(f"the signature matches secret #{index + 1}")
        _note_reserialisation(body, report, explains_mismatch=False)
        return None
    for secret in secrets:
        for code, variant, advice in _secret_variants(secret):
            if variant and hmac.compare_digest(compute_signature(body, variant), raw.hex()):
                return code, advice
    for name, candidate in _body_forms(body):
        for secret in secrets:
            if hmac.compare_digest(compute_signature(candidate, secret), raw.hex()):
                return (
                    "body_reserialised",
                    f"the signature matches the body re-serialised as {name}: the bytes "
                    "being verified are not the bytes that were signed. Verify the raw "
                    "request body, before any JSON parsing",
                )
    _note_reserialisation(body, report, explains_mismatch=True)
    return (
        "wrong_secret_or_body",
        "no secret given reproduces the signature: the secret is wrong (check the webhook "
        "id it belongs to) or the body was changed after signing",
    )


def _note_reserialisation(body: bytes, report: _Report, *, explains_mismatch: bool) -> None:
    try:
        value: Any = json.loads(body)
    except ValueError:
        report.findings.append("the body is not valid JSON")
        return
    try:
        same = js_dumps(value) == body
    except (TypeError, ValueError):
        return
    if not same:
        report.findings.append(
            "re-serialising this body changes its bytes: a receiver must verify the raw body"
        )
    elif explains_mismatch:
        # Only here does it help: a receiver that re-serialises would hash these very bytes,
        # so re-serialising is not what broke this signature.
        report.findings.append(
            "re-serialising this body with JSON.stringify rules gives the same bytes, so "
            "re-serialising it is not what breaks this signature"
        )
    else:
        report.notes.append(
            "re-serialising this body with JSON.stringify rules gives the same bytes "
            "(so a receiver that re-serialises would still match, by luck)"
        )


def _check_timestamp(
    timestamp: str | None, now_ms: int, tolerance_ms: int, report: _Report
) -> bool:
    try:
        value = parse_timestamp(timestamp)
    except MissingTimestamp:
        report.problems.append(
            ("missing_timestamp", "the X-CortexBuild-Timestamp header is missing")
        )
        return False
    except InvalidTimestamp:
        report.problems.append(
            ("invalid_timestamp", "the timestamp is not a plain integer of Unix milliseconds")
        )
        return False
    skew_ms = now_ms - value
    try:
        check_tolerance(value, now_ms, tolerance_ms)
    except TimestampOutOfTolerance:
        pass
    else:
        report.findings.append(
            f"the timestamp is {abs(skew_ms) / 1000:.1f} s {_direction(skew_ms)}"
        )
        return True
    tolerance = tolerance_ms / 1000
    if looks_like_seconds(value, now_ms, max(tolerance, 1) * 10):
        report.problems.append(
            (
                "timestamp_in_seconds",
                "the timestamp is in seconds; CortexBuild sends Unix milliseconds "
                "(multiply by 1000, or compare with Date.now())",
            )
        )
        return False
    report.problems.append(
        (
            "clock_skew",
            f"the timestamp is {abs(skew_ms) / 1000:.0f} s {_direction(skew_ms)}, beyond the "
            f"±{tolerance:g} s tolerance: check the clocks (NTP) or whether this is a replay",
        )
    )
    return False


def _direction(skew_ms: int) -> str:
    return "in the past" if skew_ms >= 0 else "in the future"

"""The error hierarchy: stable codes, the pipeline table's statuses, safe bodies and messages."""

from __future__ import annotations

import json
import logging

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cortexhooks_receiver as ch
from cortexhooks_receiver import errors
from cortexhooks_receiver.errors import (
    ConfigurationError,
    EventTooOld,
    HandlerError,
    InProgress,
    InvalidDeliveryId,
    InvalidPayload,
    InvalidTimestamp,
    MalformedSignature,
    MethodNotAllowed,
    MissingSignature,
    MissingTimestamp,
    PayloadTooLarge,
    QueueUnavailable,
    SignatureMismatch,
    StoreUnavailable,
    TimestampOutOfTolerance,
    UnsupportedMediaType,
    VerificationError,
    WebhookError,
)
from cortexhooks_receiver.signature import SecretKeys, compute_signature, verify_signature

# The pipeline table of DESIGN.md, row by row: (error, code, status).
PIPELINE_TABLE: list[tuple[type[WebhookError], str, int]] = [
    (errors.RateLimited, "rate_limited", 429),
    (MethodNotAllowed, "method_not_allowed", 405),
    (PayloadTooLarge, "payload_too_large", 413),
    (UnsupportedMediaType, "unsupported_media_type", 415),
    (errors.UnknownWebhook, "unknown_webhook", 401),
    (errors.SecretLookupFailed, "secret_lookup_failed", 503),
    (MissingSignature, "missing_signature", 401),
    (MalformedSignature, "malformed_signature", 401),
    (MissingTimestamp, "missing_timestamp", 401),
    (InvalidTimestamp, "invalid_timestamp", 401),
    (TimestampOutOfTolerance, "timestamp_out_of_tolerance", 401),
    (SignatureMismatch, "signature_mismatch", 401),
    (InvalidPayload, "invalid_payload", 400),
    (EventTooOld, "event_too_old", 401),
    (InvalidDeliveryId, "invalid_delivery_id", 400),
    (InProgress, "in_progress", 409),
    (StoreUnavailable, "store_unavailable", 503),
    (QueueUnavailable, "queue_unavailable", 503),  # background mode: not durably enqueued
    (HandlerError, "handler_error", 500),
]
BASES: list[type[WebhookError]] = [WebhookError, VerificationError]
# Refusals an adapter decides before the body exists (integrations/_common.py's table).
ADAPTER_TABLE: list[tuple[type[WebhookError], str, int]] = [
    (errors.InvalidContentLength, "invalid_content_length", 400),
    (errors.BodyAlreadyConsumed, "body_already_consumed", 500),
    (errors.IncompleteBody, "incomplete_body", 400),
    (errors.ReceiverMisconfigured, "receiver_misconfigured", 500),
]

NOW_MS = 1_762_698_600_000
NOW = NOW_MS / 1000


def _all_subclasses(cls: type[WebhookError]) -> set[type[WebhookError]]:
    found: set[type[WebhookError]] = set()
    for sub in cls.__subclasses__():
        if sub.__module__.startswith("cortexhooks_receiver"):
            found.add(sub)
        found |= _all_subclasses(sub)
    return found


@pytest.mark.parametrize(("error", "code", "status"), PIPELINE_TABLE)
def test_error_has_the_code_and_status_of_its_pipeline_row(
    error: type[WebhookError], code: str, status: int
) -> None:
    assert error.code == code
    assert error.status == status
    instance = error()
    assert instance.code == code
    assert instance.status == status


def test_every_core_error_subclass_is_a_row_of_the_pipeline_or_adapter_table() -> None:
    in_table = {row[0] for row in PIPELINE_TABLE + ADAPTER_TABLE}
    core = {c for c in _all_subclasses(WebhookError) if c.__module__ == errors.__name__}
    assert core - set(BASES) == in_table


def test_adapter_errors_have_codes_of_their_own() -> None:
    adapter_errors = [row[0] for row in ADAPTER_TABLE]
    core_codes = {row[0].code for row in PIPELINE_TABLE} | {cls.code for cls in BASES}
    assert {cls.code for cls in adapter_errors}.isdisjoint(core_codes)
    assert [(cls.code, cls.status) for cls in adapter_errors] == [
        (code, status) for _, code, status in ADAPTER_TABLE
    ]


def test_error_codes_are_unique() -> None:
    classes = [row[0] for row in PIPELINE_TABLE] + BASES
    codes = [cls.code for cls in classes]
    assert len(codes) == len(set(codes))


def test_authentication_failures_share_the_verification_base() -> None:
    for error, _code, status in PIPELINE_TABLE:
        assert issubclass(error, VerificationError) == (status == 401), error


def test_every_error_is_exported_from_the_package() -> None:
    for error, _code, _status in PIPELINE_TABLE:
        assert getattr(ch, error.__name__) is error
        assert error.__name__ in errors.__all__
    assert ch.WebhookError is WebhookError
    assert ch.ConfigurationError is ConfigurationError


@pytest.mark.parametrize(("error", "code", "status"), PIPELINE_TABLE)
def test_to_body_is_the_code_and_a_safe_message(
    error: type[WebhookError], code: str, status: int
) -> None:
    body = json.loads(error().to_body())
    assert body == {"error": code, "message": error.default_message}


@pytest.mark.parametrize(("error", "code", "status"), PIPELINE_TABLE)
def test_every_error_has_a_docstring_and_a_one_sentence_message(
    error: type[WebhookError], code: str, status: int
) -> None:
    assert error.__doc__
    assert error.default_message.endswith(".")
    assert "\n" not in error.default_message


def test_custom_message_and_hint_are_used() -> None:
    exc = SignatureMismatch("Custom.", hint="Try again.")
    assert json.loads(exc.to_body()) == {"error": "signature_mismatch", "message": "Custom."}
    assert str(exc) == "Custom. (Try again.)"
    assert exc.hint == "Try again."
    assert repr(exc) == "SignatureMismatch(code='signature_mismatch', message='Custom.')"


def test_empty_hint_is_kept_and_str_is_just_the_message() -> None:
    exc = SignatureMismatch(hint="")
    assert str(exc) == SignatureMismatch.default_message


def test_message_with_quotes_is_still_valid_json() -> None:
    exc = InvalidPayload('A "quoted" \\ message.')
    assert json.loads(exc.to_body())["message"] == 'A "quoted" \\ message.'


def test_default_bodies_are_built_once() -> None:
    assert MissingSignature().to_body() is MissingSignature().to_body()


def test_errors_can_be_caught_by_the_base_class() -> None:
    with pytest.raises(WebhookError):
        raise TimestampOutOfTolerance
    with pytest.raises(VerificationError):
        raise SignatureMismatch


# --- nothing secret ever leaks into an error ---------------------------------------------------

MARKER = "SEKRET-MARKER-7f3a"


def _failing_requests(body: bytes, secret: str) -> list[tuple[str, dict[str, str]]]:
    good = compute_signature(body, secret)
    wrong = compute_signature(body, secret + "x")
    return [
        ("missing_signature", {"X-CortexBuild-Timestamp": str(NOW_MS)}),
        (
            "malformed_signature",
            {"X-CortexBuild-Signature": f"{good}{MARKER}", "X-CortexBuild-Timestamp": str(NOW_MS)},
        ),
        ("missing_timestamp", {"X-CortexBuild-Signature": good}),
        (
            "invalid_timestamp",
            {"X-CortexBuild-Signature": good, "X-CortexBuild-Timestamp": MARKER},
        ),
        (
            "timestamp_out_of_tolerance",
            {"X-CortexBuild-Signature": good, "X-CortexBuild-Timestamp": str(NOW_MS - 10**7)},
        ),
        (
            "timestamp_out_of_tolerance",
            {"X-CortexBuild-Signature": good, "X-CortexBuild-Timestamp": str(NOW_MS // 1000)},
        ),
        (
            "signature_mismatch",
            {"X-CortexBuild-Signature": wrong, "X-CortexBuild-Timestamp": str(NOW_MS)},
        ),
    ]


def _assert_clean(exc: WebhookError, forbidden: list[str]) -> None:
    views = [str(exc), repr(exc), exc.to_body().decode(), exc.hint, exc.message, str(exc.args)]
    for view in views:
        for text in forbidden:
            assert text not in view, (exc.code, view)


@settings(max_examples=60)
@given(
    prefix=st.text(max_size=40),
    suffix=st.text(max_size=40),
    secret_tail=st.text(min_size=0, max_size=20),
)
def test_errors_never_contain_the_secret_the_signature_or_the_body(
    prefix: str, suffix: str, secret_tail: str
) -> None:
    body = f'{{"event":"{prefix}{MARKER}{suffix}","timestamp":1,"data":{{}}}}'.encode()
    secret = f"whsec_{MARKER}{secret_tail}"
    good = compute_signature(body, secret)
    for expected_code, headers in _failing_requests(body, secret):
        with pytest.raises(WebhookError) as info:
            verify_signature(body, headers, SecretKeys(secret), now=NOW)
        assert info.value.code == expected_code
        forbidden = [MARKER, good, good.upper(), headers.get("X-CortexBuild-Signature", MARKER)]
        _assert_clean(info.value, forbidden)


def test_configuration_errors_do_not_echo_the_secret() -> None:
    for bad in ([f"whsec_{MARKER}"] * 6, [f"whsec_{MARKER}", "  "]):
        with pytest.raises(ConfigurationError) as info:
            SecretKeys(bad)
        assert MARKER not in str(info.value)
        assert MARKER not in repr(info.value)


def test_receiver_refusals_and_logs_never_contain_secret_signature_or_body(
    caplog: pytest.LogCaptureFixture,
) -> None:
    body = (
        b'{"event":"task.completed","timestamp":1762698600000,"data":{"id":"t_1","title":"'
        + MARKER.encode()
        + b'"},"companyId":"c","userId":"u"}'
    )
    secret = f"whsec_{MARKER}"
    good = compute_signature(body, secret)
    receiver = ch.Receiver(secret, now=lambda: NOW)
    cases = [(code, body, headers) for code, headers in _failing_requests(body, secret)]
    not_json = b"[" + body
    cases.append(
        (
            "invalid_payload",
            not_json,
            {
                "X-CortexBuild-Signature": compute_signature(not_json, secret),
                "X-CortexBuild-Timestamp": str(NOW_MS),
            },
        )
    )
    with caplog.at_level(logging.DEBUG):
        for expected_code, payload, headers in cases:
            outcome = receiver.handle(payload, {"Content-Type": "application/json", **headers})
            assert json.loads(outcome.body)["error"] == expected_code
            text = outcome.body.decode() + repr(outcome.headers)
            for forbidden in (MARKER, good, headers.get("X-CortexBuild-Signature", MARKER)):
                assert forbidden not in text
        # An accepted delivery, logged at debug level, must not leak either.
        outcome = receiver.handle(
            body,
            {
                "Content-Type": "application/json",
                "X-CortexBuild-Signature": good,
                "X-CortexBuild-Timestamp": str(NOW_MS),
            },
        )
        assert outcome.status == 200
    for forbidden in (MARKER, good):
        assert forbidden not in caplog.text
        for record in caplog.records:
            assert forbidden not in repr(record.args)


# --- one root, drawn as a tree ---------------------------------------------------------------


def _package_exceptions() -> dict[str, type[BaseException]]:
    """Every exception class defined in the package's modules (optional extras included)."""
    import importlib
    import pkgutil

    import cortexhooks_receiver

    found: dict[str, type[BaseException]] = {}
    for info in pkgutil.walk_packages(cortexhooks_receiver.__path__, "cortexhooks_receiver."):
        if ".integrations.django" in info.name or info.name.endswith("__main__"):
            continue  # Django needs configured settings to import its models
        module = importlib.import_module(info.name)
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, BaseException)
                and value.__module__ == info.name
            ):
                found[value.__name__] = value
    return found


def test_every_exception_the_package_defines_is_under_cortexhooks_error() -> None:
    classes = _package_exceptions()
    assert len(classes) > 25
    outside = sorted(n for n, c in classes.items() if not issubclass(c, ch.CortexHooksError))
    assert outside == []


def test_programming_mistakes_are_type_or_value_errors_on_their_own_branch() -> None:
    assert issubclass(errors.ConfigurationError, (errors.UsageError, ValueError))
    assert issubclass(errors.SecretTypeError, TypeError)
    assert issubclass(errors.BodyTypeError, (errors.UsageError, TypeError))
    assert not issubclass(errors.UsageError, WebhookError)


def test_the_tree_in_the_errors_docstring_is_the_real_hierarchy() -> None:
    classes = _package_exceptions()
    drawn: dict[str, str | None] = {}
    stack: list[tuple[int, str]] = []
    for line in (errors.__doc__ or "").splitlines():
        stripped = line.lstrip(" │├└─")
        if not stripped or not stripped[0].isupper() or stripped.split()[0] not in classes:
            continue
        name, depth = stripped.split()[0], len(line) - len(stripped)
        while stack and stack[-1][0] >= depth:
            stack.pop()
        drawn[name] = stack[-1][1] if stack else None
        stack.append((depth, name))
    assert set(drawn) == {name for name in classes if not name.startswith("_")}
    for name, parent in drawn.items():
        cls = classes[name]
        if parent is None:
            assert cls.__bases__ == (Exception,)
        else:
            assert classes[parent] in cls.__bases__, (name, parent)


def test_a_refusal_carries_its_own_response_headers() -> None:
    assert MethodNotAllowed().headers == (("Allow", "POST"),)
    assert InProgress(retry_after=7).headers == (("Retry-After", "7"),)
    assert SignatureMismatch().headers == ()

"""A refusal keeps nothing alive: no frame, no traceback, no secret, no expected digest.

An ``Outcome`` is a ``gc=False`` struct. If the refusal it carries kept its traceback, the
traceback's frames (and the caller's locals, which hold the outcome) would form a cycle through an
object the collector never visits: every refused request would leak, and an error tracker that
records locals would record the secret's HMAC state and the valid digest of the attacker's body.
"""

from __future__ import annotations

import asyncio
import gc
import hashlib
import types
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import cortexhooks_receiver as ch
from cortexhooks_receiver.integrations.wsgi import WebhookApp

SECRETS = ["whsec_new_0123456789abcdefghijklmn", "whsec_old_abcdefghijklmn0123456789"]
NOW = 1_767_225_600.0
NOW_MS = int(NOW * 1000)
BODY = b'{"event":"task.created","timestamp":%d,"data":{"id":"t-1"}}' % NOW_MS


def _receiver() -> ch.Receiver:
    return ch.Receiver(secrets=SECRETS, now=lambda: NOW, router=ch.Router())


def _requests() -> Iterator[tuple[bytes, dict[str, str], str]]:
    """One request per refusal of the pipeline that reads the headers or the body."""
    good = ch.sign(BODY, SECRETS[0], timestamp=NOW_MS)
    forged = ch.sign(BODY, "whsec_attacker_guess_000000000000", timestamp=NOW_MS)
    yield BODY, forged, "POST"  # signature_mismatch: the expected digest was computed
    yield BODY, {**good, "X-CortexBuild-Signature": "sha256=" + "0" * 57}, "POST"
    yield BODY, {**good, "X-CortexBuild-Timestamp": "12x"}, "POST"
    yield BODY, {**good, "X-CortexBuild-Timestamp": str(NOW_MS - 3_600_000)}, "POST"
    yield BODY, {**good, "Content-Type": "text/plain"}, "POST"
    yield BODY, good, "GET"
    bad = b'{"event":"task.created","timestamp":%d,"data":[]}' % NOW_MS
    yield bad, ch.sign(bad, SECRETS[1], timestamp=NOW_MS), "POST"  # invalid_payload


def _live_webhook_errors() -> int:
    gc.collect()
    # type(), not isinstance(): a lazy object (Django's) would set itself up on __class__.
    return sum(1 for o in gc.get_objects() if issubclass(type(o), ch.WebhookError))


def _view(receiver: ch.Receiver, body: bytes, headers: dict[str, str], method: str) -> int:
    # What a sync view does: the outcome is a local of a frame that then returns.
    outcome = receiver.handle(body, headers, method)
    return outcome.status


def _refuse_keeping_the_outcome_in_a_local(receiver: ch.Receiver, times: int) -> None:
    for _ in range(times):
        for body, headers, method in _requests():
            assert _view(receiver, body, headers, method) >= 400


def test_a_thousand_refusals_leave_no_error_alive() -> None:
    receiver = _receiver()
    _refuse_keeping_the_outcome_in_a_local(receiver, 10)  # warm: caches, decoder
    before = _live_webhook_errors()
    _refuse_keeping_the_outcome_in_a_local(receiver, 150)  # 1 050 refusals
    assert _live_webhook_errors() - before == 0


def test_refusals_through_the_wsgi_adapter_leave_no_error_alive() -> None:
    app = WebhookApp(_receiver())

    def post(body: bytes, headers: dict[str, str], method: str) -> None:
        environ: dict[str, Any] = {
            "REQUEST_METHOD": method,
            "CONTENT_LENGTH": str(len(body)),
            "wsgi.input": __import__("io").BytesIO(body),
            "wsgi.version": (1, 0),
        }
        for name, value in headers.items():
            key = name.upper().replace("-", "_")
            environ[key if key == "CONTENT_TYPE" else "HTTP_" + key] = value
        app(environ, lambda status, headers: None)

    for body, headers, method in _requests():
        post(body, headers, method)
    before = _live_webhook_errors()
    for _ in range(100):
        for body, headers, method in _requests():
            post(body, headers, method)
    assert _live_webhook_errors() - before == 0


def _reachable(root: object, limit: int = 20_000) -> Iterator[object]:
    seen: set[int] = set()
    stack = [root]
    while stack and len(seen) < limit:
        item = stack.pop()
        if id(item) in seen or isinstance(item, type | types.ModuleType):
            continue
        seen.add(id(item))
        yield item
        stack.extend(gc.get_referents(item))


def _secret_material(body: bytes) -> set[bytes]:
    keys = ch.signature.SecretKeys(SECRETS)
    material = {secret.encode() for secret in SECRETS}
    material.update(keys.digests(body))
    material.update(digest.hex().encode() for digest in keys.digests(body))
    return material


@pytest.mark.parametrize(
    "handle",
    [
        lambda r, b, h, m: r.handle(b, h, m),
        lambda r, b, h, m: asyncio.run(r.handle_async(b, h, m)),
    ],
    ids=["handle", "handle_async"],
)
def test_nothing_reachable_from_a_refusal_holds_a_frame_or_secret_material(
    handle: Callable[..., ch.Outcome],
) -> None:
    for body, headers, method in _requests():
        outcome = handle(_receiver(), body, headers, method)
        assert outcome.error is not None
        secrets = _secret_material(body)
        for item in _reachable(outcome.error):
            assert not isinstance(item, types.FrameType | types.TracebackType), outcome.error
            assert not isinstance(item, type(hashlib.sha256())), outcome.error
            if isinstance(item, bytes | str):
                raw = item.encode() if isinstance(item, str) else item
                assert not any(secret in raw for secret in secrets), outcome.error


def test_errors_raised_by_verify_carry_no_frame_of_the_secret_check() -> None:
    receiver = _receiver()
    forged = ch.sign(BODY, "whsec_attacker_guess_000000000000", timestamp=NOW_MS)
    for call in (
        lambda: receiver.verify(BODY, forged),
        lambda: ch.verify(BODY, forged, SECRETS, now=NOW),
    ):
        with pytest.raises(ch.SignatureMismatch) as info:
            call()
        frames = [frame.f_code.co_name for frame, _ in __import__("traceback").walk_tb(info.tb)]
        assert "search" not in frames
        assert "authenticate" not in frames
        assert info.value.__context__ is None

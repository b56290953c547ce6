"""A body is remembered whichever secret signed it: rotations never reopen a processed body.

The dedup keys of a request are its delivery id and its digest under *every* configured secret,
and a duplicate's keys are all remembered too. So a retry the platform re-signed after a rotation
(or re-serialised), captured and resent under a fresh delivery id, is still a duplicate; and so is
a capture signed with the old secret, replayed once a rotation has begun. ``outcome.secret_index``
says which secret matched.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

import cortexhooks_receiver as ch
from cortexhooks_receiver.stores import MemoryStore

OLD = "whsec_old_secret_0123456789abcdefghij"
NEW = "whsec_new_secret_abcdefghij0123456789"
NOW = 1_767_225_600.0
NOW_MS = int(NOW * 1000)
BODY = (
    b'{"event":"invoice.paid","timestamp":%d,"data":{"id":"inv-1","amount":10},'
    b'"companyId":"c-1","userId":"u-1"}' % NOW_MS
)


def _receiver(secrets: list[str], store: Any, runs: list[str]) -> ch.Receiver:
    receiver = ch.Receiver(secrets=secrets, store=store, now=lambda: NOW, router=ch.Router())
    receiver.on("invoice.paid")(lambda event: runs.append(event.delivery_id))
    return receiver


def _send(receiver: ch.Receiver, secret: str, delivery_id: str) -> ch.Outcome:
    return receiver.handle(BODY, ch.sign(BODY, secret, timestamp=NOW_MS, delivery_id=delivery_id))


STORES: dict[str, Callable[[Any], Any]] = {
    "memory": lambda tmp: MemoryStore(clock=lambda: NOW),
    "sqlite": lambda tmp: f"sqlite:///{tmp / 'dedup.db'}",
}


@pytest.fixture(params=list(STORES))
def store(request: pytest.FixtureRequest, tmp_path: Any) -> Any:
    return STORES[request.param](tmp_path)


def test_a_retry_re_signed_after_a_rotation_cannot_be_replayed_under_a_new_id(store: Any) -> None:
    runs: list[str] = []
    receiver = _receiver([NEW, OLD], store, runs)
    assert _send(receiver, OLD, "dlv_1").status == 200  # first attempt, signed before rotating
    retry = _send(receiver, NEW, "dlv_1")  # the platform's retry, signed with the new secret
    assert retry.duplicate
    replay = _send(receiver, NEW, "dlv_forged")  # the captured retry under a fresh id
    assert (replay.status, replay.duplicate) == (200, True)
    assert runs == ["dlv_1"]


def test_a_capture_signed_before_a_rotation_began_is_a_duplicate_during_it(store: Any) -> None:
    runs: list[str] = []
    before = _receiver([OLD], store, runs)
    assert _send(before, OLD, "dlv_1").status == 200
    during = _receiver([NEW, OLD], store, runs)  # the rotation starts on the receiver
    replay = _send(during, OLD, "dlv_forged")
    assert (replay.status, replay.duplicate, replay.secret_index) == (200, True, 1)
    signed_new = _send(during, NEW, "dlv_forged_2")  # the same body under the new secret
    assert signed_new.duplicate
    assert runs == ["dlv_1"]


def test_a_body_processed_during_a_rotation_stays_known_after_it(store: Any) -> None:
    runs: list[str] = []
    during = _receiver([NEW, OLD], store, runs)
    assert _send(during, OLD, "dlv_1").status == 200
    after = _receiver([NEW], store, runs)  # the old secret is retired
    assert _send(after, NEW, "dlv_forged").duplicate
    assert runs == ["dlv_1"]


def test_secret_index_says_which_secret_matched_and_is_none_before_the_check() -> None:
    runs: list[str] = []
    receiver = _receiver([NEW, OLD], MemoryStore(clock=lambda: NOW), runs)
    assert _send(receiver, NEW, "dlv_1").secret_index == 0
    assert _send(receiver, OLD, "dlv_2").secret_index == 1  # a duplicate says it too
    headers = ch.sign(BODY, "whsec_someone_else_entirely_000", timestamp=NOW_MS)
    assert receiver.handle(BODY, headers).secret_index is None  # 401: no secret matched
    assert receiver.handle(BODY, headers, method="GET").secret_index is None


def test_every_secret_is_hashed_so_timing_does_not_tell_which_matched() -> None:
    keys = ch.signature.SecretKeys([NEW, OLD])
    signature = bytes.fromhex(ch.sign(BODY, NEW)["X-CortexBuild-Signature"])
    index, digests = keys.search(BODY, signature)
    assert index == 0
    assert len(digests) == 2
    assert digests == keys.digests(BODY)
    assert digests[1].hex() == ch.sign(BODY, OLD)["X-CortexBuild-Signature"]

"""What every real app shares: the receiver from the environment, the recording handlers, and
the bare hand-written verification of the platform guide (the benchmark's baseline)."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from typing import Any

import cortexhooks_receiver as ch

SECRET = os.environ["CORTEXBUILD_WEBHOOK_SECRET"]
_KEY = SECRET.encode()
_LOG = os.environ.get("CORTEXHOOKS_HANDLED_LOG")
FAILING_EVENT = os.environ.get("CORTEXHOOKS_FAILING_EVENT")
"""An event whose handler records the delivery, then raises (set by the adversarial matrix)."""
BARE_OK = b'{"received":true}'
BARE_REFUSED = b'{"error":"Invalid signature"}'


def record(event: Any) -> None:
    """Append one line per handled delivery (O_APPEND: whole lines, even across workers)."""
    if _LOG:
        line = f"{os.getpid()} {event.event} {event.delivery_id}\n".encode()
        fd = os.open(_LOG, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)


async def arecord(event: Any) -> None:
    """The async twin of :func:`record`, for the ASGI apps (awaited on the event loop)."""
    record(event)


def fail(event: Any) -> None:
    """Record the delivery, then raise: a handler that always fails."""
    record(event)
    raise RuntimeError("this handler always fails")


async def afail(event: Any) -> None:
    """The async twin of :func:`fail`."""
    fail(event)


def make_receiver(*, asynchronous: bool = False) -> ch.Receiver:
    """A receiver configured from the environment, recording every event."""
    receiver = ch.Receiver(store=os.environ.get("CORTEXHOOKS_STORE", "memory://"))
    receiver.on("*")(arecord if asynchronous else record)
    if FAILING_EVENT:
        receiver.on(FAILING_EVENT)(afail if asynchronous else fail)
    return receiver


def bare_verify(body: bytes, signature: str | None) -> tuple[int, bytes]:
    """The guide's own verification: hex HMAC, compare_digest, json parse."""
    expected = hmac.new(_KEY, body, hashlib.sha256).hexdigest()
    if signature is None or not hmac.compare_digest(expected, signature):
        return 401, BARE_REFUSED
    json.loads(body)
    return 200, BARE_OK

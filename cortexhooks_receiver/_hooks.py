"""Failure hooks: what a receiver tells your code when a handler fails or a request is refused.

``receiver.on_error(callback)``: ``callback(event, exc)`` after a handler raised (inline, or in
a background worker through :meth:`Receiver.report_handler_error`).
``receiver.on_rejected(callback)``: ``callback(error, request)`` for every refused request, with
the :class:`WebhookError` and a :class:`RejectedRequest` of safe facts (never the body, the
headers wholesale or a secret).

A hook never changes the answer: one that raises is logged (at WARNING, at most once a minute per
hook, without a traceback) and the next one runs.
Async hooks are awaited by ``handle_async``; sync code (``handle``, a worker thread) runs them to
completion with :func:`~cortexhooks_receiver._concurrency.run_sync`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, NamedTuple

import msgspec

from ._concurrency import is_async_callable, run_sync
from ._headers import Headers, header_values
from ._logs import FailureLog
from ._logs import receiver_logger as logger
from .errors import ConfigurationError

__all__ = ["Hook", "Hooks", "RejectedRequest", "rejected_request"]

_MAX_FACT_CHARS: Final = 200  # header values are the sender's text: bounded before a hook sees them
_FACT_HEADERS: Final = (
    "x-cortexbuild-event",
    "x-cortexbuild-delivery-id",
    "x-cortexbuild-webhook-id",
)


class Hook(NamedTuple):
    """A registered hook: the function, whether it must be awaited, the log of its failures."""

    func: Callable[..., Any]
    is_async: bool
    failures: FailureLog


class RejectedRequest(msgspec.Struct, frozen=True, gc=False):
    """Safe facts about a refused request, for an ``on_rejected`` hook.

    Header values are as the sender wrote them (unverified: a refused request proves nothing),
    cut to 200 characters; ``None`` when absent.

    Attributes:
        client: the sender's address as the adapter saw it (after ``trusted_proxies``).
        method: the HTTP method.
        event: the ``X-CortexBuild-Event`` header.
        delivery_id: the ``X-CortexBuild-Delivery-Id`` header.
        webhook_id: the ``X-CortexBuild-Webhook-Id`` header.
    """

    client: str | None
    method: str
    event: str | None = None
    delivery_id: str | None = None
    webhook_id: str | None = None


def rejected_request(headers: Headers, method: str, client: str | None) -> RejectedRequest:
    """Return the :class:`RejectedRequest` of a request with these headers. Never raises."""
    event, delivery_id, webhook_id = (
        None if value is None else value[:_MAX_FACT_CHARS]
        for value in header_values(headers, _FACT_HEADERS)
    )
    return RejectedRequest(client, method[:_MAX_FACT_CHARS], event, delivery_id, webhook_id)


class Hooks(list[Hook]):
    """The hooks of one kind (``"on_error"`` or ``"on_rejected"``), in registration order.

    A list, so that ``if hooks:`` (the receiver's only cost while none is registered) calls no
    Python code.
    """

    __slots__ = ("_clock", "kind")

    def __init__(self, kind: str, clock: Callable[[], float]) -> None:
        super().__init__()
        self.kind = kind
        self._clock = clock

    def add(self, callback: Callable[..., Any]) -> None:
        """Register ``callback`` (a plain or an ``async`` function).

        Raises:
            ConfigurationError: ``callback`` is not callable.
        """
        if not callable(callback):
            raise ConfigurationError(f"{self.kind}() takes a function, not {callback!r}")
        name = getattr(callback, "__qualname__", None) or type(callback).__qualname__
        failures = FailureLog(logger, f"The {self.kind} hook {name} raised", self._clock)
        self.append(Hook(callback, is_async_callable(callback), failures))

    def call(self, *args: Any) -> None:
        """Call every hook with ``args``, async ones run to completion. Never raises."""
        for hook, is_async, failures in self:
            try:
                if is_async:
                    run_sync(hook(*args))
                else:
                    hook(*args)
            except Exception as exc:
                failures.failed(exc)

    async def acall(self, *args: Any) -> None:
        """Call every hook with ``args``, awaiting async ones. Never raises."""
        for hook, is_async, failures in self:
            try:
                if is_async:
                    await hook(*args)
                else:
                    hook(*args)
            except Exception as exc:
                failures.failed(exc)

"""The Receiver: the whole webhook pipeline, with no I/O of its own.

``Receiver.handle(body, headers, method)`` runs every check of the design's pipeline table in
order, deduplicates the delivery, dispatches the typed event to its handlers and returns an
:class:`Outcome` (status, JSON body, headers) for the adapter to write back. It never reads a
socket or a framework request; time comes from an injectable ``now``.

Replay defence (the signature covers only the body; the timestamp and delivery-id headers are
not signed): the header timestamp must lie within ±``tolerance``; the *signed* body ``timestamp``
must be younger than ``retention``; and dedup remembers both the delivery id and the body's HMAC for
``retention``. A captured body resent with a fresh timestamp header and a new delivery id is a
duplicate while remembered and ``event_too_old`` after that: no authentic body runs twice.
"""

from __future__ import annotations

import itertools
import logging
import os
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Final, TypeVar

import msgspec

from ._headers import Headers, webhook_headers
from ._logs import RefusalLog, UnhandledLog
from ._logs import receiver_logger as logger
from ._run_sync import run_sync
from ._typed_on import TypedOn
from .errors import (
    ConfigurationError,
    EventTooOld,
    HandlerError,
    InProgress,
    InvalidDeliveryId,
    MethodNotAllowed,
    PayloadTooLarge,
    StoreUnavailable,
    UnsupportedMediaType,
    WebhookError,
)
from .events import AnyEvent, decode_event
from .routing import Router, default_router
from .signature import (
    DEFAULT_TOLERANCE,
    Now,
    SecretKeys,
    authenticate,
    check_body,
    now_ms,
)
from .stores import AsyncStore, ClaimState, MemoryStore, Store, SyncStoreAsAsync
from .stores import open_store as _open_store

__all__ = ["DEFAULT_PATH", "Outcome", "Receiver", "verify"]

DEFAULT_PATH: Final = "/webhooks/cortexbuild"
DEFAULT_RETENTION: Final = 86_400
DEFAULT_MAX_BODY_BYTES: Final = 1_048_576
DEFAULT_LEASE: Final = 60.0
SECRET_ENV_VAR: Final = "CORTEXBUILD_WEBHOOK_SECRET"  # noqa: S105 (a variable name)

_JSON: Final = ("Content-Type", "application/json")
_OK_HEADERS: Final[tuple[tuple[str, str], ...]] = (_JSON,)
_ALLOW_HEADERS: Final[tuple[tuple[str, str], ...]] = (_JSON, ("Allow", "POST"))
_OK_BODY: Final = b'{"received":true}'
_DUPLICATE_BODY: Final = b'{"received":true,"duplicate":true}'
_DELIVERY_ID_CHARS: Final = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-"
)

_F = TypeVar("_F", bound=Callable[..., Any])


class Outcome(msgspec.Struct, frozen=True, gc=False):
    """What the adapter answers: an HTTP status, a JSON body and headers.

    Attributes:
        status: the HTTP status code.
        body: the JSON response body (constant bytes for the common answers).
        headers: ``(name, value)`` pairs; always ``Content-Type: application/json``, plus
            ``Retry-After`` on 409 and ``Allow`` on 405.
        event: the typed event when the body was verified and parsed, else ``None``.
        error: the refusal, when there was one.
        duplicate: ``True`` when the delivery had already been processed.
    """

    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...] = _OK_HEADERS
    event: AnyEvent | None = None
    error: WebhookError | None = None
    duplicate: bool = False

    @property
    def ok(self) -> bool:
        """``True`` for a 2xx answer."""
        return 200 <= self.status < 300


def _resolve_secrets(secret: str | None, secrets: Iterable[str] | None) -> SecretKeys:
    if secret is not None and secrets is not None:
        raise ConfigurationError("Pass either secret= or secrets=, not both.")
    if secrets is not None:
        return SecretKeys(secrets)
    if secret is None:
        secret = os.environ.get(SECRET_ENV_VAR)
        if secret is None:
            raise ConfigurationError(
                f"No webhook secret: pass secret='whsec_...' or set {SECRET_ENV_VAR}."
            )
    return SecretKeys(secret)


def _check_number(name: str, value: float, minimum: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= minimum:
        raise ConfigurationError(f"{name} must be a number >= {minimum}, not {value!r}.")
    return value


def _is_json(content_type: str) -> bool:
    media = content_type.partition(";")[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


class _Tokens:
    """Claim tokens unique across threads and worker processes, without a syscall per request."""

    def __init__(self) -> None:
        self._reset()
        os.register_at_fork(after_in_child=self._reset)

    def _reset(self) -> None:
        self._prefix = f"{os.getpid():x}.{os.urandom(4).hex()}."
        self._counter = itertools.count(1)

    def next(self) -> str:
        return self._prefix + str(next(self._counter))


_tokens: Final = _Tokens()


class Receiver(TypedOn):
    """Verifies, deduplicates and dispatches CortexBuild webhook deliveries.

    Args:
        secret: the webhook secret (``whsec_...``); default the ``CORTEXBUILD_WEBHOOK_SECRET``
            environment variable.
        secrets: several secrets during a rotation, newest first (instead of ``secret``).
        tolerance: seconds the timestamp header may differ from now, both directions.
        retention: seconds deliveries are remembered for dedup; also the maximum age of the
            signed body ``timestamp``.
        store: ``"memory://"``, ``"sqlite:///path.db"``, ``"redis://host:6379/0"`` or a store.
        max_body_bytes: larger bodies are refused with 413.
        router: where handlers are registered; default a new router that also dispatches to
            handlers registered with the module-level :func:`cortexhooks_receiver.on`.
        lease: seconds a claim is held before another worker may take it over (a crashed worker).
        now: a clock returning Unix seconds, for tests; default :func:`time.time`.

    Raises:
        ConfigurationError: no secret or an empty one, a bad number, or an unknown store URL.
    """

    def __init__(
        self,
        secret: str | None = None,
        *,
        secrets: Iterable[str] | None = None,
        tolerance: float = DEFAULT_TOLERANCE,
        retention: float = DEFAULT_RETENTION,
        store: str | Store = "memory://",
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        router: Router | None = None,
        lease: float = DEFAULT_LEASE,
        now: Callable[[], float] | None = None,
    ) -> None:
        self._keys = _resolve_secrets(secret, secrets)
        self.tolerance = _check_number("tolerance", tolerance, 0)
        self.retention = _check_number("retention", retention, 1)
        self.lease = _check_number("lease", lease, 0.001)
        self.max_body_bytes = int(_check_number("max_body_bytes", max_body_bytes, 1))
        self._tolerance_ms = int(tolerance * 1000)
        self._retention_ms = int(retention * 1000)
        self._clock = now
        self.store: Store = _open_store(store)
        self._async_store: AsyncStore = (
            self.store
            if isinstance(self.store, AsyncStore)
            else SyncStoreAsAsync(self.store, inline=isinstance(self.store, MemoryStore))
        )
        if router is None:
            router = Router()
            router.include(default_router)
        self.router = router
        self._retry_after = (("Retry-After", str(max(1, min(int(lease), 10)))),)
        self._refusals = RefusalLog(time.monotonic if now is None else now)
        self._unhandled = UnhandledLog()

    def __repr__(self) -> str:
        return (
            f"Receiver(<{len(self._keys.keys)} secret(s)>, tolerance={self.tolerance}, "
            f"retention={self.retention}, store={type(self.store).__name__})"
        )

    # -- registration -------------------------------------------------------------------------

    def _on(
        self, names: tuple[str | Iterable[str], ...], allow_unknown: bool
    ) -> Callable[[_F], _F]:
        # ``on()`` itself, with overloads typed from the catalog, comes from TypedOn.
        return self.router._on(names, allow_unknown)

    # -- the pipeline ---------------------------------------------------------------------------

    def _admit(
        self, body: bytes | bytearray | memoryview, headers: Headers, method: str
    ) -> tuple[AnyEvent, tuple[str, ...]]:
        """Run every check up to dedup; return the verified event and its dedup keys."""
        if type(body) is not bytes:
            check_body(body)
        if method != "POST":  # method names are case-sensitive (RFC 9110, section 9.1)
            raise MethodNotAllowed
        if len(body) > self.max_body_bytes:
            raise PayloadTooLarge
        content_type, encoding, signature_text, timestamp_text, delivery_id, webhook_id = (
            webhook_headers(headers)
        )
        if content_type != "application/json" and (
            content_type is None or not _is_json(content_type)
        ):
            raise UnsupportedMediaType
        if encoding is not None and encoding.strip().lower() not in ("", "identity"):
            raise UnsupportedMediaType(
                "Compressed webhook bodies are not accepted (Content-Encoding must be identity)."
            )
        clock = self._clock
        now_ms = time.time_ns() // 1_000_000 if clock is None else int(clock() * 1000)
        tolerance_ms = self._tolerance_ms
        digest = authenticate(
            body, signature_text, timestamp_text, self._keys, now_ms, tolerance_ms
        )
        event = decode_event(body)
        age = now_ms - event.timestamp
        if age >= self._retention_ms or age < -tolerance_ms:
            raise EventTooOld
        # The digest we computed, never the header's text: it identifies the signed body.
        body_key = "b:" + digest.hex()
        if delivery_id is None:
            keys: tuple[str, ...] = (body_key,)
        else:
            if not 0 < len(delivery_id) <= 128 or not _DELIVERY_ID_CHARS.issuperset(delivery_id):
                raise InvalidDeliveryId
            keys = ("d:" + delivery_id, body_key)
        _attach_delivery(event, delivery_id, webhook_id)
        return event, keys

    def verify(
        self, body: bytes | bytearray | memoryview, headers: Headers, method: str = "POST"
    ) -> AnyEvent:
        """Run every check of the pipeline up to dedup and return the typed event.

        Method, size, media type, signature, timestamp window, payload and body age are checked
        with this receiver's secrets and settings, and the delivery id is validated. Nothing is
        recorded and no handler runs: use :meth:`handle` for exactly-once processing.

        Raises:
            WebhookError: the refusal :meth:`handle` would answer with.
            BodyTypeError: ``body`` is not the raw bytes (a ``str`` or a parsed dict).
        """
        return self._admit(body, headers, method)[0]

    def handle(
        self, body: bytes | bytearray | memoryview, headers: Headers, method: str = "POST"
    ) -> Outcome:
        """Run the whole pipeline on one request and return the answer to send.

        Never raises for any request: every refusal is an :class:`Outcome` with the status and
        error body of the design's pipeline table. Async handlers are run to completion too.

        Raises:
            BodyTypeError: ``body`` is not the raw bytes (a ``str`` or a parsed dict): a
                mistake in the calling code, not a bad request.
        """
        try:
            event, keys = self._admit(body, headers, method)
        except WebhookError as exc:
            return self._refuse(exc)
        handlers = self.router.resolve(event.event)
        token = _tokens.next()
        try:
            state = self.store.claim(keys, self.lease, token)
        except Exception as exc:  # StoreError, or a third-party store's own exception
            return self._store_down(exc, event)
        if state is not ClaimState.NEW:
            return self._not_new(state, event)
        try:
            for registration in handlers:
                if registration.is_async:
                    run_sync(registration.func(event), thread_name="cortexhooks-async-handler")
                else:
                    registration.func(event)
        except Exception:
            return self._handler_failed(event, keys, token)
        try:
            self.store.complete(keys, self.retention, token)
        except Exception:
            # The handlers ran: answering 200 stops the retries. Only dedup memory is lost.
            logger.warning(_COMPLETE_FAILED, event.event, event.delivery_id, exc_info=True)
        return self._processed(event, len(handlers))

    async def handle_async(
        self, body: bytes | bytearray | memoryview, headers: Headers, method: str = "POST"
    ) -> Outcome:
        """Coroutine form of :meth:`handle` for async frameworks.

        Async handlers are awaited; sync handlers run in a worker thread so they never block the
        event loop. Never raises for any request.

        Raises:
            BodyTypeError: ``body`` is not the raw bytes (a ``str`` or a parsed dict).
        """
        try:
            event, keys = self._admit(body, headers, method)
        except WebhookError as exc:
            return self._refuse(exc)
        handlers = self.router.resolve(event.event)
        token = _tokens.next()
        store = self._async_store
        try:
            state = await store.aclaim(keys, self.lease, token)
        except Exception as exc:
            return self._store_down(exc, event)
        if state is not ClaimState.NEW:
            return self._not_new(state, event)
        try:
            for registration in handlers:
                if registration.is_async:
                    await registration.func(event)
                else:
                    await _to_thread(registration.func, event)
        except Exception:
            try:
                await store.arelease(keys, token)
            except Exception:
                logger.warning("Could not release the claim on a failed delivery", exc_info=True)
            return self._handler_failed(event, None, token)
        try:
            await store.acomplete(keys, self.retention, token)
        except Exception:
            logger.warning(_COMPLETE_FAILED, event.event, event.delivery_id, exc_info=True)
        return self._processed(event, len(handlers))

    # -- answers --------------------------------------------------------------------------------

    def refuse(self, error: WebhookError) -> Outcome:
        """Return the answer to a refusal decided before the pipeline ran, and log it.

        For adapters: a body that could not be read (``body_already_consumed``), a bad or too
        large ``Content-Length``. The refusal is logged like the pipeline's own (the first of each
        code at WARNING with its hint, then rate-limited). Never raises.
        """
        return self._refuse(error)

    def _refuse(self, exc: WebhookError) -> Outcome:
        self._refusals.refused(exc)
        headers = _ALLOW_HEADERS if isinstance(exc, MethodNotAllowed) else _OK_HEADERS
        return Outcome(exc.status, exc.to_body(), headers, None, exc)

    def _store_down(self, exc: BaseException, event: AnyEvent) -> Outcome:
        logger.error("Dedup store unavailable; refusing with 503: %s", type(exc).__name__)
        error = StoreUnavailable()
        return Outcome(error.status, error.to_body(), _OK_HEADERS, event, error)

    def _not_new(self, state: ClaimState, event: AnyEvent) -> Outcome:
        if state is ClaimState.DONE:
            if logger.isEnabledFor(logging.INFO):
                logger.info(
                    "Duplicate delivery %s of %s acknowledged", event.delivery_id, event.event
                )
            return Outcome(200, _DUPLICATE_BODY, _OK_HEADERS, event, None, True)
        error = InProgress()
        return Outcome(error.status, error.to_body(), (_JSON, *self._retry_after), event, error)

    def _handler_failed(self, event: AnyEvent, keys: tuple[str, ...] | None, token: str) -> Outcome:
        logger.exception(
            "A handler failed on %s (delivery %s); the claim is released for the retry",
            event.event,
            event.delivery_id,
        )
        if keys is not None:
            try:
                self.store.release(keys, token)
            except Exception:
                logger.warning("Could not release the claim on a failed delivery", exc_info=True)
        error = HandlerError()
        return Outcome(error.status, error.to_body(), _OK_HEADERS, event, error)

    def _processed(self, event: AnyEvent, handled: int) -> Outcome:
        if not handled:
            self._unhandled.unhandled(event.event, self.router.handler_count())
        return Outcome(200, _OK_BODY, _OK_HEADERS, event)


_COMPLETE_FAILED: Final = (
    "Handlers of %s (delivery %s) ran, but the store could not record it as done"
)


def _attach_delivery(event: AnyEvent, delivery_id: str | None, webhook_id: str | None) -> None:
    # The ids come from the (unsigned) headers, never the body; events are frozen, hence force.
    if delivery_id is not None or webhook_id is not None:
        msgspec.structs.force_setattr(event, "delivery_id", delivery_id)
        msgspec.structs.force_setattr(event, "webhook_id", webhook_id)


async def _to_thread(func: Callable[[AnyEvent], object], event: AnyEvent) -> object:
    # asyncio is imported on first use: it costs a third of the package's import time.
    from asyncio import to_thread

    return await to_thread(func, event)


def verify(
    body: bytes | bytearray | memoryview,
    headers: Headers,
    secret: str | Sequence[str],
    tolerance: float = DEFAULT_TOLERANCE,
    now: Now | None = None,
) -> AnyEvent:
    """Verify one request statelessly and return its typed event.

    Checks the signature and timestamp headers (see :mod:`cortexhooks_receiver.signature`) and
    parses the body. It does not deduplicate and does not check the body's age: use a
    :class:`Receiver` for the full replay defence.

    Raises:
        WebhookError: the matching subclass for a missing, malformed or wrong signature or
            timestamp, or an invalid payload.
        BodyTypeError: ``body`` is not the raw bytes (a ``str`` or a parsed dict).
        ConfigurationError: an empty secret, or one that is not a ``str``.
    """
    check_body(body)
    keys = SecretKeys(secret)
    _, _, signature_text, timestamp_text, delivery_id, webhook_id = webhook_headers(headers)
    authenticate(body, signature_text, timestamp_text, keys, now_ms(now), int(tolerance * 1000))
    event = decode_event(body)
    _attach_delivery(event, delivery_id, webhook_id)
    return event

"""The Receiver: the whole webhook pipeline, with no I/O of its own.

``Receiver.handle(body, headers, method)`` runs every check of the design's pipeline table in
order, deduplicates the delivery, dispatches the typed event to its handlers and returns an
:class:`Outcome` (status, JSON body, headers) for the adapter to write back. It never reads a
socket or a framework request; time comes from an injectable ``now``.

Replay defence (the signature covers only the body; the timestamp and delivery-id headers are
not signed): the header timestamp must lie within ±``tolerance``; the *signed* body ``timestamp``
must be younger than ``retention``; and dedup remembers both the delivery id and the body's HMAC
for ``retention`` (longer for a body signed ahead of this clock: until it is too old). A captured
body resent with a fresh timestamp header and a new delivery id is a duplicate while remembered
and ``event_too_old`` after that: no authentic body runs twice.

For a genuine delivery in the plain configuration (the memory store, handlers inline), ``handle``
takes a straight path: the same checks and the same dedup in one frame, which hands anything
else to the pipeline unchanged (see the comment in :meth:`Receiver.handle`).
"""

from __future__ import annotations

import enum
import hmac
import itertools
import logging
import os
import time
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Final, TypeVar, cast

import msgspec
from msgspec.structs import force_setattr

from . import routing as _routing
from ._concurrency import run_sync, to_thread
from ._config import DEFAULT_SECRET_FOR_TTL, SECRET_ENV_VAR
from ._headers import ID_CHARS, Headers, header_values, plain_headers, webhook_headers
from ._heartbeat import Heartbeat
from ._hooks import Hooks, RejectedRequest, rejected_request
from ._logs import FailureLog, RefusalLog, UnhandledLog, journal_logger
from ._logs import receiver_logger as logger
from ._typed_on import TypedOn
from ._unrecorded import UnrecordedCompletions
from .errors import (
    ConfigurationError,
    CortexHooksError,
    EventTooOld,
    HandlerError,
    InProgress,
    InvalidDeliveryId,
    MethodNotAllowed,
    PayloadTooLarge,
    QueueError,
    QueueUnavailable,
    RateLimited,
    StoreUnavailable,
    UnsupportedMediaType,
    WebhookError,
)
from .events import AnyEvent, decode_event
from .events._decode import typed_decoder
from .routing import Registration, Router, accepted, default_router
from .signature import (
    _MAX_TIMESTAMP_DIGITS,
    DEFAULT_TOLERANCE,
    Body,
    Now,
    SecretKeys,
    authenticate,
    check_body,
    now_ms,
)
from .stores import AsyncStore, ClaimState, MemoryStore, Store, SyncStoreAsAsync
from .stores import open_store as _open_store
from .stores.memory import _CLAIMED, _DONE

if TYPE_CHECKING:  # the options' modules are imported when an option is used
    from ._proxies import TrustedProxies
    from ._tenants import SecretFor, SecretsByWebhook
    from .jobs import Job, Queue
    from .journal import Journal, Receipt
    from .ratelimit import Buckets, Rate, RateLimiter
    from .telemetry import Telemetry

__all__ = [
    "DEFAULT_LEASE",
    "DEFAULT_MAX_BODY_BYTES",
    "DEFAULT_PATH",
    "DEFAULT_RETENTION",
    "Outcome",
    "Receiver",
    "refusal_outcome",
    "verify",
]

DEFAULT_PATH: Final = "/webhooks/cortexbuild"
DEFAULT_RETENTION: Final = 86_400
DEFAULT_MAX_BODY_BYTES: Final = 1_048_576
DEFAULT_LEASE: Final = 60.0

_JSON: Final = ("Content-Type", "application/json")
_OK_HEADERS: Final[tuple[tuple[str, str], ...]] = (_JSON,)
_OK_BODY: Final = b'{"received":true}'
_DUPLICATE_BODY: Final = b'{"received":true,"duplicate":true}'
_QUEUED_BODY: Final = b'{"received":true,"queued":true}'

# What the straight path needs of the plain configuration, gathered once: the secret's keyed
# HMAC states (inner, outer), the memory store with its entries, lock (acquire, release) and
# clock, and the typed decoder's decode.
_Straight = tuple[
    Any,
    Any,
    MemoryStore,
    dict[str, Any],
    Callable[[], Any],
    Callable[[], None],
    Callable[[], float],
    Callable[[bytes], AnyEvent],
]
_time_ns: Final = time.time_ns
_compare_digest: Final = hmac.compare_digest
_is_id: Final = ID_CHARS.issuperset

_F = TypeVar("_F", bound=Callable[..., Any])
_OnError = TypeVar("_OnError", bound=Callable[[Any, Exception], object])
_OnRejected = TypeVar("_OnRejected", bound=Callable[[WebhookError, RejectedRequest], object])


class Outcome(msgspec.Struct, frozen=True, gc=False):
    """What the adapter answers: an HTTP status, a JSON body and headers.

    Attributes:
        status: the HTTP status code.
        body: the JSON response body (constant bytes for the common answers).
        headers: ``(name, value)`` pairs; always ``Content-Type: application/json``, plus
            ``Retry-After`` on 409 and ``Allow`` on 405.
        event: the typed event when the body was verified and parsed, else ``None``.
        error: the refusal, when there was one.
        duplicate: ``True`` when the delivery had already been processed (or queued).
        secret_index: which secret the signature matched (0 = the newest), once the signature
            was checked; ``None`` before that. During a rotation it tells when the old secret
            stops being used.
    """

    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...] = _OK_HEADERS
    event: AnyEvent | None = None
    error: WebhookError | None = None
    duplicate: bool = False
    secret_index: int | None = None

    @property
    def ok(self) -> bool:
        """``True`` for a 2xx answer."""
        return 200 <= self.status < 300


def _resolve_secrets(
    secret: str | None, secrets: Iterable[str] | None, secret_for: SecretFor | None
) -> SecretKeys | None:
    if secret is not None and secrets is not None:
        raise ConfigurationError("Pass either secret= or secrets=, not both.")
    if secret_for is not None:
        if secret is not None or secrets is not None:
            raise ConfigurationError(
                "Pass secret_for= alone: it chooses the secrets of each request by its webhook id."
            )
        return None
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


def _token_counter() -> Iterator[int]:
    # Claim tokens must be unique across threads, processes and hosts: each process counts up
    # from its own random 96-bit start (ranges of two processes overlap with a probability of
    # about 2**-56), with no syscall or string building per request.
    return itertools.count(int.from_bytes(os.urandom(12), "big"))


_tokens = _token_counter()


def _new_tokens_after_fork() -> None:
    global _tokens
    _tokens = _token_counter()


os.register_at_fork(after_in_child=_new_tokens_after_fork)


class _Delivery:
    """One request on its way through the pipeline: what the steps found, what the I/O returned.

    The pipeline (:meth:`Receiver._steps`) reads and writes it; a driver only sets ``result``
    (what the I/O it performed returned) or ``failure`` (what it raised).
    """

    __slots__ = (
        "body",
        "client",
        "error",
        "event",
        "failure",
        "handlers",
        "headers",
        "keys",
        "method",
        "outcome",
        "receipt",
        "received_at",
        "refusal",
        "released",
        "result",
        "retention",
        "screened",
        "secret_index",
        "started",
        "token",
        "webhook_id",
    )

    event: AnyEvent
    keys: tuple[str, ...]
    retention: float  # seconds its keys are remembered once done (see _retention_of)
    token: str
    webhook_id: str  # set when secret_for must look the webhook id up
    handlers: tuple[Registration, ...]
    outcome: Outcome
    # Set only when the receiver has a journal (read with getattr where it may be missing):
    error: str  # the handler's or store's failure, for the receipt
    received_at: float  # Unix seconds
    started: float  # time.perf_counter()
    receipt: Receipt

    def __init__(
        self,
        body: Body,
        headers: Headers,
        method: str,
        client: str | None,
        refusal: WebhookError | None = None,
        screened: bool = False,
    ) -> None:
        self.body = body
        self.headers = headers
        self.method = method
        self.client = client
        self.refusal = refusal  # decided before the pipeline ran (an adapter's refusal)
        self.screened = screened  # the straight path ran the screens: the client is the result
        self.released = False  # its claim was given up (a handler failed): see _extend_claim
        self.secret_index: int | None = None
        self.result: Any = None
        self.failure: Exception | None = None


class _SecretsNotCached(CortexHooksError):
    """Raised by ``_admit`` (and caught by the pipeline) when ``secret_for`` must be asked.

    A signal inside the receiver, never seen by a caller; an exception so that a cached
    webhook id costs nothing (``try`` is free).
    """

    def __init__(self, webhook_id: str) -> None:
        super().__init__(webhook_id)
        self.webhook_id = webhook_id


class _Action(enum.Enum):
    """The I/O the pipeline asks a driver to perform, on the fields of the :class:`_Delivery`."""

    CLAIM = "claim"  # result: the store's ClaimState for delivery.keys
    RUN = "run"  # run those of delivery.handlers whose filters accept delivery.event
    COMPLETE = "complete"  # remember delivery.keys as done
    RELEASE = "release"  # forget the claim on delivery.keys
    RECORD_PENDING = "record_pending"  # record completions the store missed while it was down
    RECORD = "record"  # write delivery.receipt to the journal; result: its id
    # Background mode: make the delivery a job. Where the queue's database holds the dedup keys
    # this is the claim, the enqueue and the completion in one transaction (result: ClaimState);
    # otherwise it follows a NEW claim and only enqueues.
    ENQUEUE = "enqueue"
    REPORT_ERROR = "report_error"  # on_error hooks: delivery.event, delivery.failure
    REPORT_REJECTION = "report_rejection"  # on_rejected hooks: delivery.outcome.error, facts
    LOOK_UP_SECRETS = "look_up_secrets"  # result: the SecretKeys of delivery.webhook_id
    LIMIT = "limit"  # result: 0, or Retry-After seconds: delivery.client is over a rate limit


(
    CLAIM,
    RUN,
    COMPLETE,
    RELEASE,
    RECORD_PENDING,
    RECORD,
    ENQUEUE,
    REPORT_ERROR,
    REPORT_REJECTION,
    LOOK_UP_SECRETS,
    LIMIT,
) = _Action


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
        journal: where a receipt of every request is written (refused ones included):
            ``"memory://"``, ``"sqlite:///path.db"``, ``"redis://host:6379/0"`` or a journal;
            default ``None``, no journal. See :mod:`cortexhooks_receiver.journal`.
        journal_bodies: also keep each request's body, with its signature and timestamp
            headers, in its receipt (so it can be rerun); off by default.
        queue: background mode: ``"sqlite:///hooks.db"``, ``"postgresql://..."`` or a queue
            object (a handoff to Celery or RQ). Each verified delivery is durably enqueued and
            answered 202; a :class:`~cortexhooks_receiver.jobs.worker.Worker` runs the handlers.
            Give ``store`` the queue's URL too: the dedup claim and the enqueue are then one
            transaction. ``None`` (the default): handlers run inline, before the answer.

        secret_for: instead of ``secret``/``secrets``, one endpoint for many webhooks:
            ``secret_for(webhook_id)`` returns the secret(s) of the ``X-CortexBuild-Webhook-Id``
            header (a ``str``, a list newest first, or ``None``: 401 ``unknown_webhook``); it
            may be ``async`` (awaited by ``handle_async``, run to completion by ``handle``). The
            signature must match the chosen secrets. Delivery ids are deduplicated per webhook.
        secret_for_ttl: seconds an answer of ``secret_for`` is reused (``None`` answers at most
            10 s); 0 asks every time.
        rate_limit: the whole endpoint's rate, ``"200/s"`` (a burst of 200, then 200 a second;
            also ``/min``, ``/h``, ``/10s``): requests beyond it are answered 429
            ``rate_limited`` with ``Retry-After``, before anything else is read.
        rate_limit_per_client: the same for each client address (``client=``).
        rate_limit_store: where the buckets live: ``"memory://"`` (this process) or
            ``"redis://host:6379/0"`` (every host); a store that fails lets requests through.
        trusted_proxies: networks (``["10.0.0.0/8"]``) whose ``X-Forwarded-For`` is believed:
            through them the client is the right-most untrusted address of that header. By
            default the header is ignored.

    Raises:
        ConfigurationError: no secret or an empty one (or a secret together with
            ``secret_for``), a bad number, an unknown store or journal URL, or ``journal_bodies``
            without a journal.
        SecretTypeError: a secret that is not a ``str``.
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
        journal: str | Journal | None = None,
        journal_bodies: bool = False,
        queue: str | Queue | None = None,
        secret_for: SecretFor | None = None,
        secret_for_ttl: float = DEFAULT_SECRET_FOR_TTL,
        rate_limit: str | Rate | None = None,
        rate_limit_per_client: str | Rate | None = None,
        rate_limit_store: str | Buckets = "memory://",
        trusted_proxies: str | Iterable[str] | None = None,
    ) -> None:
        self._keys = _resolve_secrets(secret, secrets, secret_for)
        self.tolerance = _check_number("tolerance", tolerance, 0)
        self.retention = _check_number("retention", retention, 1)
        self.lease = _check_number("lease", lease, 0.001)
        self.max_body_bytes = int(_check_number("max_body_bytes", max_body_bytes, 1))
        self._tolerance_ms = int(tolerance * 1000)
        self._retention_ms = int(retention * 1000)
        self._clock = now
        self._telemetry: Telemetry | None = None  # set by telemetry.instrument(receiver)
        self.queue: Queue | None = None
        if queue is not None:
            from .jobs import attach_queue

            self.queue, store = attach_queue(queue, store, self)
        self.store: Store = _open_store(store)
        # The queue's database holds the dedup keys: claim and enqueue are one transaction.
        self._queue_claims = self.store is cast(object, self.queue)
        self._async_store: AsyncStore = (
            self.store
            if isinstance(self.store, AsyncStore)
            else SyncStoreAsAsync(self.store, inline=isinstance(self.store, MemoryStore))
        )
        if router is None:
            router = Router()
            router.include(default_router)
        self.router = router
        self._memory_store = self.store if type(self.store) is MemoryStore else None
        self._retry_after = max(1, min(int(lease), 10))
        self._refusals = RefusalLog(time.monotonic if now is None else now)
        self._unhandled = UnhandledLog()
        self._unrecorded = UnrecordedCompletions()
        self._heartbeat = Heartbeat(self._extend_claim, self.lease)
        self._open_journal(journal, journal_bodies, now)
        self._error_hooks = Hooks("on_error", time.monotonic if now is None else now)
        self._rejected_hooks = Hooks("on_rejected", time.monotonic if now is None else now)
        self._by_webhook: SecretsByWebhook | None = None
        if secret_for is not None:
            from ._tenants import SecretsByWebhook

            self._by_webhook = SecretsByWebhook(secret_for, secret_for_ttl, self._now_ms)
        self._proxies: TrustedProxies | None = None
        if trusted_proxies is not None:
            from ._proxies import TrustedProxies

            self._proxies = TrustedProxies(trusted_proxies)
        self.rate_limiter: RateLimiter | None = None
        if rate_limit is not None or rate_limit_per_client is not None:
            from .ratelimit import RateLimiter

            self.rate_limiter = RateLimiter(
                rate_limit, rate_limit_per_client, rate_limit_store, now
            )
        self._screens = self._proxies is not None or self.rate_limiter is not None
        self._limiter_failures = FailureLog(
            logger,
            "The rate limit store failed, so the request was let through",
            time.monotonic if now is None else now,
        )
        self._plan_straight()

    @property
    def telemetry(self) -> Telemetry | None:
        """The OpenTelemetry reporting set by :func:`~cortexhooks_receiver.telemetry.instrument`."""
        return self._telemetry

    @telemetry.setter
    def telemetry(self, telemetry: Telemetry | None) -> None:
        self._telemetry = telemetry
        self._plan_straight()

    def _plan_straight(self) -> None:
        # The straight path (see handle) serves the plain configuration only: one secret (or
        # secret_for), the memory store, handlers inline, rate limits (if any) in this process,
        # and nothing that needs the pipeline's exit on a processed delivery (journal, telemetry).
        # With secret_for, the keyed states are looked up per request (cached answers only).
        keys = self._keys
        memory = self._memory_store
        states = (None, None) if keys is None else keys.sole_states()
        limiter = self.rate_limiter
        plain = (
            states is not None
            and memory is not None
            and self.queue is None
            and (limiter is None or limiter.inline)
            and self.journal is None
            and self._telemetry is None
        )
        self._straight: _Straight | None = None
        if plain and states is not None and memory is not None:
            self._straight = (*states, memory, *memory.straight_access(), typed_decoder())

    def _now_ms(self) -> int:
        clock = self._clock
        return now_ms(None if clock is None else clock())

    def __repr__(self) -> str:
        secrets = "secret_for" if self._keys is None else f"<{len(self._keys.keys)} secret(s)>"
        return (
            f"Receiver({secrets}, tolerance={self.tolerance}, "
            f"retention={self.retention}, store={type(self.store).__name__})"
        )

    def _open_journal(
        self, journal: str | Journal | None, bodies: bool, now: Callable[[], float] | None
    ) -> None:
        if journal is None and bodies:
            raise ConfigurationError(
                "journal_bodies=True keeps bodies in the journal, but there is no journal: "
                "pass journal='sqlite:///hooks.db' (or another journal) too."
            )
        self.journal: Journal | None = None
        self.journal_bodies = bool(bodies)
        self._journal_inline = False
        if journal is not None:  # imported only then: the journal costs nothing until asked for
            from .journal import MemoryJournal, base, open_journal

            self._journal_base = base
            self.journal = open_journal(journal)
            self._journal_inline = type(self.journal) is MemoryJournal  # never blocks nor fails
        self._journal_failures = FailureLog(
            journal_logger,
            "The receipt journal could not record a request",
            time.monotonic if now is None else now,
        )

    # -- registration -------------------------------------------------------------------------

    def _on(
        self, names: tuple[str | Iterable[str], ...], allow_unknown: bool, **filters: Any
    ) -> Callable[[_F], _F]:
        # ``on()`` itself, with overloads typed from the catalog, comes from TypedOn.
        return self.router._on(names, allow_unknown, **filters)

    def on_error(self, callback: _OnError) -> _OnError:
        """Register ``callback(event, exc)``, called when a handler failed on ``event``.

        Inline (``handle``/``handle_async``, the answer is then 500 ``handler_error``) and in a
        background worker alike; a ``where`` filter that raised counts as a failed handler. The
        callback may be ``async`` (awaited by ``handle_async``, run to completion elsewhere). One
        that raises is logged and ignored: a hook never changes the answer. Returns
        ``callback``, so it can be used as a decorator.

        Raises:
            ConfigurationError: ``callback`` is not callable.
        """
        self._error_hooks.add(callback)
        return callback

    def on_rejected(self, callback: _OnRejected) -> _OnRejected:
        """Register ``callback(error, request)``, called for every refused request.

        ``error`` is the :class:`WebhookError` answered (its ``code`` and ``status``);
        ``request`` a :class:`RejectedRequest` of safe facts (client, method, the event,
        delivery-id and webhook-id headers), never the body or a secret. Every refusal counts
        (rate limited, unknown webhook, bad signature, duplicate in progress, store down...)
        except a failed handler, which goes to :meth:`on_error` only. Async callbacks are
        awaited by ``handle_async``; one that raises is logged and ignored. Returns
        ``callback``.

        Raises:
            ConfigurationError: ``callback`` is not callable.
        """
        self._rejected_hooks.add(callback)
        return callback

    def report_handler_error(self, event: AnyEvent, exc: Exception) -> None:
        """Tell the :meth:`on_error` hooks that a handler failed on ``event`` outside ``handle``.

        For code that runs handlers itself, such as a background worker: call it once per failed
        attempt, after the handler raised. Async hooks are run to completion. Never raises.
        """
        if self._error_hooks:
            self._error_hooks.call(event, exc)

    async def report_handler_error_async(self, event: AnyEvent, exc: Exception) -> None:
        """Coroutine form of :meth:`report_handler_error` (async hooks awaited). Never raises."""
        if self._error_hooks:
            await self._error_hooks.acall(event, exc)

    # -- the two drivers: they perform the I/O the pipeline asks for, nothing else --------------

    def handle(
        self, body: Body, headers: Headers, method: str = "POST", *, client: str | None = None
    ) -> Outcome:
        """Run the whole pipeline on one request and return the answer to send.

        ``client`` is the sender's address as the adapter knows it (for rate limiting and the
        record of the request); it is never read from a header here.

        Never raises for any request: every refusal is an :class:`Outcome` with the status and
        error body of the design's pipeline table. Async handlers are run to completion too.

        Raises:
            BodyTypeError: ``body`` is not the raw bytes (a ``str`` or a parsed dict): a
                mistake in the calling code, not a bad request.
        """
        # The straight path: the pipeline for a genuine delivery, in this one frame. It is taken
        # only in the plain configuration (see _plan_straight: one secret or secret_for, the
        # memory store, handlers inline, rate limits in this process), for plainly sent headers,
        # while every check passes and none of the delivery's keys is known to the store. At the
        # first thing that is not so, ``return self._pipeline(...)`` hands the request to the
        # pipeline, which decides and words it: nothing has been changed before the claim (the
        # rate limit's tokens, once taken, are not taken again: ``screened``), and a known key
        # is not claimed. A handler that fails joins the pipeline where it would have failed
        # there. So every answer is the pipeline's: tests/test_straight_path.py checks that both
        # give the same answer, run the same handlers and leave the same store for any request.
        # What it does is what _admit (with signature.authenticate and events.decode_event) and
        # the memory store's claim and complete do for such a delivery, inlined: this is every
        # request's common case, where each call and each step costs (see docs/benchmarks.md).
        straight = self._straight
        if (
            straight is None
            or method != "POST"
            or type(body) is not bytes
            or len(body) > self.max_body_bytes
        ):
            return self._pipeline(body, headers, method, client)
        screened = False  # once true, the pipeline takes the client as found and skips the limits
        limiter = self.rate_limiter
        if limiter is not None:  # in this process (the plan): it never blocks nor fails
            proxies = self._proxies
            if proxies is not None:
                client = proxies.client(client, headers)
            screened = True
            retry_after = limiter.check(client)
            if retry_after:
                limited = RateLimited(retry_after=retry_after)
                return self._pipeline(body, headers, method, client, screened, limited)
        content_type = headers.get("Content-Type") if type(headers) is dict else None
        if content_type is not None:
            # As CortexBuild sends them (and ch.sign returns them): in its casing, nothing else
            # (the event name's header may be there too), so no name is there twice.
            get = headers.get  # type: ignore[union-attr]
            signature_text = get("X-CortexBuild-Signature")
            timestamp_text = get("X-CortexBuild-Timestamp")
            delivery_id = get("X-CortexBuild-Delivery-Id")
            webhook_id = get("X-CortexBuild-Webhook-Id")
            if not (
                content_type == "application/json"
                and type(signature_text) is str
                and type(timestamp_text) is str
                and type(delivery_id) is str
                and len(headers)  # type: ignore[arg-type]
                == 4 + (type(webhook_id) is str) + (type(get("X-CortexBuild-Event")) is str)
            ):
                return self._pipeline(body, headers, method, client, screened)
        else:
            found = plain_headers(headers)  # a WSGI environ, an adapter's HeaderView
            if found is None:
                return self._pipeline(body, headers, method, client, screened)
            signature_text, timestamp_text, delivery_id, webhook_id = found
        if not (
            0 < len(timestamp_text) <= _MAX_TIMESTAMP_DIGITS
            and timestamp_text.isascii()
            and timestamp_text.isdigit()
            and 0 < len(delivery_id) <= 128
            # An identifier in ASCII is made of id characters; anything else is checked in full.
            and ((delivery_id.isascii() and delivery_id.isidentifier()) or _is_id(delivery_id))
        ):
            return self._pipeline(body, headers, method, client, screened)
        clock = self._clock
        now_ms = _time_ns() // 1_000_000 if clock is None else int(clock() * 1000)
        tolerance_ms = self._tolerance_ms
        if not -tolerance_ms <= now_ms - int(timestamp_text) <= tolerance_ms:
            return self._pipeline(body, headers, method, client, screened)
        inner_state, outer_state, memory, entries, acquire, release, store_clock, decode = straight
        del straight
        if inner_state is None:  # secret_for: the webhook's secret, if its answer is cached
            assert self._by_webhook is not None
            try:
                secret_keys = self._by_webhook.keys_for(webhook_id, now_ms)
            except WebhookError:
                return self._pipeline(body, headers, method, client, screened)
            states = None if secret_keys is None else secret_keys.sole_states()
            if states is None:  # to be looked up, or several secrets
                return self._pipeline(body, headers, method, client, screened)
            inner_state, outer_state = states
            del secret_keys, states
            # Delivery ids are each webhook's own (see _admit).
            delivery_key = f"d:{webhook_id}/{delivery_id}"
        else:
            delivery_key = "d:" + delivery_id
        # HMAC-SHA256 from the secret's keyed states, as SecretKeys.search computes it, compared
        # as text: in constant time, as ASCII (any other text raises TypeError; the pipeline
        # also takes upper-case hex).
        inner = inner_state.copy()
        inner.update(body)
        outer = outer_state.copy()
        outer.update(inner.digest())
        expected = outer.hexdigest()
        del inner_state, outer_state, inner, outer  # a handler's traceback keeps no HMAC state
        try:
            if not _compare_digest(expected, signature_text):
                return self._pipeline(body, headers, method, client, screened)
        except TypeError:
            return self._pipeline(body, headers, method, client, screened)
        try:
            event = decode(body)
        except Exception:
            return self._pipeline(body, headers, method, client, screened)
        if event.attempt != 1:  # the body names a field of the receiver's: decode_event resets it
            return self._pipeline(body, headers, method, client, screened)
        signed_at = event.timestamp
        age = now_ms - signed_at
        if age >= self._retention_ms or age < -tolerance_ms or signed_at <= memory.floor_ms:
            return self._pipeline(body, headers, method, client, screened)
        router = self.router  # Router.resolve's cached answer, looked up here; else resolve
        handlers = (
            router._cache.get(event.event)
            if router._cache_generation == _routing._generation
            else None
        ) or router.resolve(event.event)
        if not handlers:
            return self._pipeline(body, headers, method, client, screened)
        force_setattr(event, "raw", body)
        force_setattr(event, "delivery_id", delivery_id)
        force_setattr(event, "webhook_id", webhook_id)
        body_key = "b:" + expected
        token = hex(next(_tokens))
        # MemoryStore.claim when neither key is known: both take one new claim, in this order.
        if memory._forked:  # the store's own claim warns about the fork first
            return self._pipeline(body, headers, method, client, screened)
        now = store_clock()
        claim = (_CLAIMED, token, now + self.lease, signed_at)
        acquire()
        try:
            # One lookup a key: each is inserted unless known (the first is taken back if the
            # second is known; nobody sees it in between, under the store's lock).
            known = entries.setdefault(delivery_key, claim) is not claim
            if not known and entries.setdefault(body_key, claim) is not claim:
                del entries[delivery_key]
                known = True
            if not known and len(entries) > memory.max_entries:
                memory._evict(now)
        finally:
            release()
        if known:  # done, held or expired: the pipeline's own claim tells which
            return self._pipeline(body, headers, method, client, screened)
        keys = (delivery_key, body_key)
        heartbeat = self._heartbeat
        if not heartbeat.started:
            heartbeat.start()
        running = heartbeat.running
        running[token] = keys  # its lease is extended while it runs
        failure = None
        try:
            if type(handlers) is not tuple:  # FilteredHandlers: those whose filters accept it
                handlers = accepted(handlers, event)
            for registration in handlers:  # as _run_handlers runs them
                if registration.is_async:
                    run_sync(registration.func(event))
                else:
                    registration.func(event)
        except Exception as exc:
            failure = exc
        finally:
            del running[token]
        if failure is not None:  # the pipeline's own answer to a failed handler, from there
            delivery = _Delivery(body, headers, method, client)
            delivery.secret_index = 0
            delivery.event = event
            delivery.handlers = handlers
            delivery.keys = keys
            delivery.token = token
            delivery.failure = failure
            return self._drive(delivery, self._failed(delivery, failure, queued=False))
        # MemoryStore.complete: both keys done, in their places, for _retention_of's time.
        retention = self.retention
        if signed_at > now_ms:  # signed ahead of this clock: remembered that much longer
            retention += (signed_at - now_ms) / 1000
        now = store_clock()
        acquire()
        try:
            entries[delivery_key] = entries[body_key] = (_DONE, None, now + retention, signed_at)
            if len(entries) > memory.max_entries:
                memory._evict(now)
        finally:
            release()
        return Outcome(200, _OK_BODY, _OK_HEADERS, event, None, False, 0)

    def _pipeline(
        self,
        body: Body,
        headers: Headers,
        method: str,
        client: str | None,
        screened: bool = False,
        refusal: WebhookError | None = None,
    ) -> Outcome:
        # The whole pipeline, for every request the straight path hands over (with the refusal
        # it decided already, a rate limit's).
        return self._drive(_Delivery(body, headers, method, client, refusal, screened))

    async def handle_async(
        self, body: Body, headers: Headers, method: str = "POST", *, client: str | None = None
    ) -> Outcome:
        """Coroutine form of :meth:`handle` for async frameworks.

        Async handlers are awaited; sync handlers run in a worker thread so they never block the
        event loop. Never raises for any request.

        Raises:
            BodyTypeError: ``body`` is not the raw bytes (a ``str`` or a parsed dict).
        """
        return await self._drive_async(_Delivery(body, headers, method, client))

    def refuse(self, error: WebhookError, *, client: str | None = None) -> Outcome:
        """Answer a refusal an adapter decided before the pipeline could run, through its exit.

        For a body that could not be read (``body_already_consumed``) or a bad or too large
        ``Content-Length``: logged, recorded and reported like the pipeline's own refusals (the
        first of each code at WARNING with its hint, then rate-limited). Never raises.
        """
        return self._drive(_Delivery(b"", (), "POST", client, error))

    async def refuse_async(self, error: WebhookError, *, client: str | None = None) -> Outcome:
        """Coroutine form of :meth:`refuse`, for async adapters. Never raises."""
        return await self._drive_async(_Delivery(b"", (), "POST", client, error))

    def _steps_of(self, delivery: _Delivery) -> Iterator[_Action]:
        # With nothing attached to the exit (no journal, telemetry or on_rejected hook), the
        # pipeline's own steps are all there is: one generator fewer on every request.
        if self.journal is None and self._telemetry is None and not self._rejected_hooks:
            return self._decide(delivery)
        return self._steps(delivery)

    def _drive(self, delivery: _Delivery, steps: Iterator[_Action] | None = None) -> Outcome:
        # The sync driver: performs each step the pipeline asks for, and nothing else. ``steps``:
        # a part of the pipeline to drive from where the straight path left it.
        for action in self._steps_of(delivery) if steps is None else steps:
            try:
                delivery.result = self._perform(action, delivery)
            except Exception as exc:  # the pipeline decides what a failed step means
                delivery.failure = exc
        delivery.failure = None  # a failed step's exception and its frames end with the request
        return delivery.outcome

    async def _drive_async(self, delivery: _Delivery) -> Outcome:
        # The async driver: the same steps, awaited (sync handlers in a worker thread).
        for action in self._steps_of(delivery):
            try:
                delivery.result = await self._perform_async(action, delivery)
            except Exception as exc:
                delivery.failure = exc
        delivery.failure = None
        return delivery.outcome

    def _perform(self, action: _Action, delivery: _Delivery) -> object:
        if action is RUN:
            _run_handlers(delivery.event, delivery.handlers, None)
            return None
        if action is RECORD_PENDING:
            for keys, token, expires_at in self._unrecorded.pending():
                self.store.complete(keys, max(1.0, expires_at - self._now()), token)
                self._unrecorded.recorded(keys)
            return None
        if action is RECORD:
            journal = self.journal
            assert journal is not None  # RECORD is asked for only when there is one
            return journal.record(delivery.receipt)
        if action is ENQUEUE:
            return self._enqueue(delivery)
        store = self.store
        if action is CLAIM:
            return store.claim(delivery.keys, self.lease, delivery.token)
        if action is COMPLETE:
            store.complete(delivery.keys, delivery.retention, delivery.token)
        elif action is RELEASE:
            store.release(delivery.keys, delivery.token)
        elif action is REPORT_ERROR:
            self._error_hooks.call(delivery.event, delivery.failure)
        elif action is REPORT_REJECTION:
            self._rejected_hooks.call(*_rejection(delivery))
        elif action is LOOK_UP_SECRETS:
            assert self._by_webhook is not None
            return self._by_webhook.look_up(delivery.webhook_id)
        else:  # LIMIT
            assert self.rate_limiter is not None
            return self.rate_limiter.check(delivery.client)
        return None

    async def _perform_async(self, action: _Action, delivery: _Delivery) -> object:
        if action is RECORD_PENDING:
            for keys, token, expires_at in self._unrecorded.pending():
                retention = max(1.0, expires_at - self._now())
                await self._async_store.acomplete(keys, retention, token)
                self._unrecorded.recorded(keys)
            return None
        if action is RUN:
            event = delivery.event
            handlers = delivery.handlers
            if type(handlers) is not tuple:  # FilteredHandlers: some have a filter
                handlers = accepted(handlers, event)
            for registration in handlers:
                if registration.is_async:
                    await registration.func(event)
                else:
                    await to_thread(registration.func, event)
            return None
        if action is RECORD:
            journal = self.journal
            assert journal is not None
            if self._journal_inline:
                return journal.record(delivery.receipt)
            return await to_thread(journal.record, delivery.receipt)
        if action is ENQUEUE:
            return await to_thread(self._enqueue, delivery)
        store = self._async_store
        if action is CLAIM:
            return await store.aclaim(delivery.keys, self.lease, delivery.token)
        if action is COMPLETE:
            await store.acomplete(delivery.keys, delivery.retention, delivery.token)
        elif action is RELEASE:
            await store.arelease(delivery.keys, delivery.token)
        elif action is REPORT_ERROR:
            await self._error_hooks.acall(delivery.event, delivery.failure)
        elif action is REPORT_REJECTION:
            await self._rejected_hooks.acall(*_rejection(delivery))
        elif action is LOOK_UP_SECRETS:
            assert self._by_webhook is not None
            return await self._by_webhook.alook_up(delivery.webhook_id)
        else:  # LIMIT
            assert self.rate_limiter is not None
            return await self.rate_limiter.acheck(delivery.client)
        return None

    # -- the pipeline: decides every step, performs no I/O ----------------------------------------

    def _steps(self, delivery: _Delivery) -> Iterator[_Action]:
        """Decide the request's fate, yielding each I/O step for the driver to perform.

        After each yield the driver has set ``delivery.result`` or ``delivery.failure``. Every
        request, refused or processed, leaves through the end of this method: the one place
        where what is recorded or reported about an answer attaches.
        """
        journal = self.journal
        if journal is not None:
            self._start(delivery)
        telemetry = self._telemetry
        started = 0 if telemetry is None else telemetry.now()
        yield from self._decide(delivery)
        if telemetry is not None:
            telemetry.delivered(delivery.outcome, started)
        if self._rejected_hooks and _is_rejection(delivery.outcome.error):
            yield REPORT_REJECTION
        delivery.failure = None  # before the journal's own step, which may fail
        if journal is not None:
            yield from self._record(delivery)

    def _decide(self, delivery: _Delivery) -> Iterator[_Action]:
        """The pipeline table, row by row; sets ``delivery.outcome`` on every path."""
        if self._screens and not delivery.screened:  # before anything else is read
            if self._proxies is not None:
                delivery.client = self._proxies.client(delivery.client, delivery.headers)
            limiter = self.rate_limiter
            if limiter is not None:
                if limiter.inline:  # in this process, never blocks nor fails
                    retry_after = limiter.check(delivery.client)
                else:
                    retry_after = yield from self._limit(delivery)
                if retry_after:
                    limited = RateLimited(retry_after=retry_after)
                    return self._finish(delivery, self._refusal(limited, delivery))
        if delivery.refusal is not None:
            return self._finish(delivery, self._refusal(delivery.refusal, delivery))
        try:
            self._admit(delivery)
        except WebhookError as exc:
            return self._finish(delivery, self._refusal(exc, delivery))
        except _SecretsNotCached as missing:  # secret_for: look this webhook id up first
            refusal = yield from self._admit_looked_up(delivery, missing.webhook_id)
            if refusal is not None:
                return self._finish(delivery, self._refusal(refusal, delivery))
        if self._queue_claims and delivery.handlers:
            yield ENQUEUE  # the claim, the enqueue and the completion: one transaction
            if delivery.failure is not None:
                return self._finish(delivery, self._queue_down(delivery))
            state = delivery.result
            if state is ClaimState.IN_PROGRESS:
                return self._finish(
                    delivery, self._answer(delivery, InProgress(retry_after=self._retry_after))
                )
            if state is ClaimState.DONE:
                return self._finish(delivery, self._duplicate(delivery))
            return self._finish(delivery, self._queued(delivery))
        memory = self._memory_store
        if memory is None:
            if self._unrecorded and self._unrecorded.holds(delivery.keys, self._now()):
                return self._finish(delivery, self._duplicate(delivery))
            yield CLAIM
            if delivery.failure is not None:
                return self._finish(delivery, self._store_down(delivery))
            state = delivery.result
        else:  # in this process, never blocks nor fails: nothing for a driver to perform
            state = memory.claim(
                delivery.keys, self.lease, delivery.token, delivery.event.timestamp
            )
        if state is ClaimState.IN_PROGRESS:
            return self._finish(
                delivery, self._answer(delivery, InProgress(retry_after=self._retry_after))
            )
        queued = False
        if state is ClaimState.NEW and delivery.handlers:
            queued = self.queue is not None
            if queued:
                yield ENQUEUE
            else:
                heartbeat = self._heartbeat
                if not heartbeat.started:
                    heartbeat.start()
                running = heartbeat.running
                running[delivery.token] = delivery  # its lease is extended while it runs
                try:
                    yield RUN
                finally:  # also when the driver is interrupted (a cancelled task)
                    del running[delivery.token]
            failure = delivery.failure
            if failure is not None:
                yield from self._failed(delivery, failure, queued)
                return
        # Done now, or already: either way every key of this request is remembered, so a body
        # that is a duplicate by its delivery id (a retry re-signed after a rotation, or
        # re-serialised) cannot come back later under a fresh delivery id.
        if memory is None:
            yield from self._complete(delivery)
        else:
            memory.complete(
                delivery.keys, delivery.retention, delivery.token, delivery.event.timestamp
            )
        if state is ClaimState.DONE:
            return self._finish(delivery, self._duplicate(delivery))
        if queued:
            return self._finish(delivery, self._queued(delivery))
        return self._finish(delivery, self._processed(delivery))

    def _failed(self, delivery: _Delivery, failure: Exception, queued: bool) -> Iterator[_Action]:
        """A handler (or the enqueue) failed: report it, release the claim for the retry, answer.

        ``delivery.failure`` is ``failure`` on entry (the straight path joins the pipeline here).
        """
        if self._error_hooks and not queued:  # a handler failed (not the enqueue)
            yield REPORT_ERROR  # hooks never raise: delivery.failure stays the handler's
        delivery.failure = None
        delivery.released = True
        yield RELEASE
        if delivery.failure is not None:
            logger.warning(
                "Could not release the claim on a failed delivery", exc_info=delivery.failure
            )
        self._finish(
            delivery,
            self._queue_down(delivery, failure)
            if queued
            else self._handler_failed(failure, delivery),
        )

    def _complete(self, delivery: _Delivery) -> Iterator[_Action]:
        """Record the delivery as done; if the store fails twice, keep it here until it can.

        The handlers ran (or had run): the answer is 200 whatever happens here, so that the
        sender stops retrying. What the store missed is checked before the store on every later
        request, and recorded in the store once it answers again.
        """
        yield COMPLETE
        if delivery.failure is not None:
            delivery.failure = None
            yield COMPLETE  # once more: a dropped connection is often back at once
        if delivery.failure is None:
            if self._unrecorded:
                yield RECORD_PENDING  # the store answers again: catch up
                if delivery.failure is not None:
                    logger.warning("Could not record the completions the store missed")
            return
        self._unrecorded.add(delivery.keys, delivery.token, self._now() + delivery.retention)
        event = delivery.event
        logger.warning(_COMPLETE_FAILED, event.event, event.delivery_id, exc_info=delivery.failure)
        self._keep_error(delivery, delivery.failure)

    def _extend_claim(self, token: str, running: _Delivery | tuple[str, ...]) -> None:
        # The heartbeat's call, from its own thread: a running delivery keeps its claim. The
        # memory store extends only a claim still held (the straight path registers a delivery
        # by its keys). Other stores re-claim: the beat copied the running deliveries a moment
        # ago, and if this one's handler has failed since, its claim is (being) released and
        # re-claiming takes it back for a whole lease; so release once more after the claim
        # (the flag is set before the pipeline releases).
        keys = running.keys if isinstance(running, _Delivery) else running
        memory = self._memory_store
        if memory is not None:
            memory.extend(keys, self.lease, token)
            return
        assert isinstance(running, _Delivery)
        self.store.claim(keys, self.lease, token)
        if running.released:
            self.store.release(keys, token)

    def _now(self) -> float:
        clock = self._clock
        return time.time() if clock is None else clock()

    def _finish(self, delivery: _Delivery, outcome: Outcome) -> None:
        delivery.outcome = outcome

    # -- the journal's part of the exit ---------------------------------------------------------

    def _start(self, delivery: _Delivery) -> None:
        clock = self._clock
        delivery.received_at = time.time() if clock is None else clock()
        delivery.started = time.perf_counter()

    def _record(self, delivery: _Delivery) -> Iterator[_Action]:
        """Write the request's receipt; a journal that fails is logged and changes nothing."""
        receipt = delivery.receipt = self._receipt(delivery)
        yield RECORD
        failure = delivery.failure
        if failure is None:
            if type(delivery.result) is int:
                msgspec.structs.force_setattr(receipt, "id", delivery.result)
        else:
            delivery.failure = None
            self._journal_failures.failed(failure)

    def _record_quietly(self, receipt: Receipt) -> None:
        """Journal a receipt made outside a request: the seam for background mode's worker.

        A worker that runs a queued delivery's handlers later records the job's outcome here
        (``client="worker"``, the attempt's status, code and ``describe_error`` of its failure);
        the request itself was journaled at the exit (202, queued). Like the exit, a failing
        journal is logged (rate-limited) and never raises. Does nothing without a journal.
        """
        journal = self.journal
        if journal is None:
            return
        try:
            journal.record(receipt)
        except Exception as exc:
            self._journal_failures.failed(exc)

    def _keep_error(self, delivery: _Delivery, failure: Exception) -> None:
        # The failure's type and message, for the receipt; its frames end with the request.
        if self.journal is not None:
            delivery.error = self._journal_base.describe_error(failure)

    def _receipt(self, delivery: _Delivery) -> Receipt:
        """What the journal keeps of this request (see :class:`Receipt`). Never raises."""
        base = self._journal_base
        latency_ms = (time.perf_counter() - delivery.started) * 1000
        outcome = delivery.outcome
        event = outcome.event
        bodies = self.journal_bodies
        signature = timestamp = None
        if event is None or bodies:
            name, delivery_id, webhook_id, signature, timestamp = (
                _cut(value) for value in header_values(delivery.headers, _RECEIPT_HEADERS)
            )
        if event is not None:  # the verified name; the ids as the event carries them
            name, delivery_id, webhook_id = event.event, event.delivery_id, event.webhook_id
        body = delivery.body
        kept = (
            bytes(body)
            if bodies and delivery.refusal is None and len(body) <= self.max_body_bytes
            else None
        )
        error = outcome.error
        receipt: Receipt = base.Receipt(
            id=0,
            received_at=base.utc(delivery.received_at),
            status=outcome.status,
            code=None if error is None else error.code,
            event=name,
            delivery_id=delivery_id,
            webhook_id=webhook_id,
            latency_ms=latency_ms,
            secret_index=delivery.secret_index,
            error=getattr(delivery, "error", None),
            client=_cut(delivery.client),
            duplicate=outcome.duplicate,
            body=kept,
            signature=signature if kept is not None else None,
            timestamp=timestamp if kept is not None else None,
        )
        return receipt

    def _limit(self, delivery: _Delivery) -> Generator[_Action, None, int]:
        """Ask the driver to take the request's rate-limit tokens; return ``Retry-After`` or 0.

        A limiter store that fails lets the request through (logged, once a minute at WARNING).
        """
        yield LIMIT
        failure, delivery.failure = delivery.failure, None
        if failure is None:
            retry_after: int = delivery.result
            return retry_after
        self._limiter_failures.failed(failure)
        return 0

    def _admit_looked_up(
        self, delivery: _Delivery, webhook_id: str
    ) -> Generator[_Action, None, WebhookError | None]:
        """Ask the driver for ``secret_for(webhook_id)``, then admit with its answer.

        Returns the refusal, or ``None`` when the delivery was admitted.
        """
        delivery.webhook_id = webhook_id
        yield LOOK_UP_SECRETS
        failure, delivery.failure = delivery.failure, None
        if failure is not None:
            assert isinstance(failure, WebhookError)  # what a lookup raises, it has decided
            return failure
        try:
            self._admit(delivery, delivery.result)
        except WebhookError as exc:
            return exc
        return None

    def _admit(self, delivery: _Delivery, webhook_keys: SecretKeys | None = None) -> None:
        """Run every check up to dedup; fill in the delivery's event, keys, token and handlers.

        ``webhook_keys``: with ``secret_for``, the secrets just looked up for the request's
        webhook id (else they come from the cache).

        Raises:
            WebhookError: the refusal of the first check that fails, in the pipeline's order.
            _SecretsNotCached: with ``secret_for``, the webhook id's secrets must be looked up
                first (then admit again with them as ``webhook_keys``).
            BodyTypeError: the body is not raw bytes.
        """
        body = delivery.body
        if type(body) is not bytes:
            check_body(body)
        if delivery.method != "POST":  # method names are case-sensitive (RFC 9110, section 9.1)
            raise MethodNotAllowed
        if len(body) > self.max_body_bytes:
            raise PayloadTooLarge
        content_type, encoding, signature_text, timestamp_text, delivery_id, webhook_id = (
            webhook_headers(delivery.headers)
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
        secret_keys = self._keys
        if secret_keys is None:  # secret_for: the secrets of the webhook the header names
            assert self._by_webhook is not None
            secret_keys = webhook_keys or self._by_webhook.keys_for(webhook_id, now_ms)
            if secret_keys is None:
                raise _SecretsNotCached(webhook_id or "")  # keys_for refused a missing id
        delivery.secret_index, digests = authenticate(
            body, signature_text, timestamp_text, secret_keys, now_ms, tolerance_ms
        )
        event = decode_event(body)
        age = now_ms - event.timestamp
        if age >= self._retention_ms or age < -tolerance_ms:
            raise EventTooOld
        memory = self._memory_store
        if memory is not None and event.timestamp <= memory.floor_ms:
            raise EventTooOld(hint=_FORGOTTEN_HINT)
        # The body is known by its digest under every secret (computed here, never the header's
        # text): whichever secret signed it, before or after a rotation, one of them matches.
        if delivery_id is not None and (
            not 0 < len(delivery_id) <= 128 or not ID_CHARS.issuperset(delivery_id)
        ):
            raise InvalidDeliveryId
        if len(digests) == 1:
            body_key = "b:" + digests[0].hex()
            keys: tuple[str, ...] = (
                (body_key,) if delivery_id is None else ("d:" + delivery_id, body_key)
            )
        else:
            keys = tuple("b:" + digest.hex() for digest in digests)
            if delivery_id is not None:
                keys = ("d:" + delivery_id, *keys)
        if self._keys is None and delivery_id is not None:
            # secret_for: delivery ids (unsigned, chosen by each sender) are per webhook, so one
            # tenant cannot make another's delivery look done. Bodies stay keyed by their digest
            # alone: a body is processed once, whichever webhook id the header claims.
            keys = (f"d:{webhook_id}/{delivery_id}", *keys[1:])
        delivery.keys = keys
        delivery.retention = _retention_of(self.retention, event.timestamp, now_ms)
        _attach_delivery(event, delivery_id, webhook_id)
        delivery.event = event
        delivery.handlers = self.router.resolve(event.event)
        delivery.token = hex(next(_tokens))

    def verify(self, body: Body, headers: Headers, method: str = "POST") -> AnyEvent:
        """Run every check of the pipeline up to dedup and return the typed event.

        Method, size, media type, signature, timestamp window, payload and body age are checked
        with this receiver's secrets (or ``secret_for``) and settings, and the delivery id is
        validated. Nothing is recorded, no handler runs and no rate limit is applied: use
        :meth:`handle` for exactly-once processing.

        Raises:
            WebhookError: the refusal :meth:`handle` would answer with.
            BodyTypeError: ``body`` is not the raw bytes (a ``str`` or a parsed dict).
        """
        delivery = _Delivery(body, headers, method, None)
        try:
            try:
                self._admit(delivery)
            except _SecretsNotCached as missing:  # secret_for: look the webhook's secrets up now
                assert self._by_webhook is not None
                self._admit(delivery, self._by_webhook.look_up(missing.webhook_id))
        except WebhookError as exc:
            raise _detached(exc) from None
        event: AnyEvent = delivery.event
        return event

    async def verify_async(self, body: Body, headers: Headers, method: str = "POST") -> AnyEvent:
        """Coroutine form of :meth:`verify` (an async ``secret_for`` is awaited).

        Raises:
            WebhookError: the refusal :meth:`handle_async` would answer with.
            BodyTypeError: ``body`` is not the raw bytes (a ``str`` or a parsed dict).
        """
        delivery = _Delivery(body, headers, method, None)
        try:
            try:
                self._admit(delivery)
            except _SecretsNotCached as missing:
                assert self._by_webhook is not None
                self._admit(delivery, await self._by_webhook.alook_up(missing.webhook_id))
        except WebhookError as exc:
            raise _detached(exc) from None
        event: AnyEvent = delivery.event
        return event

    def rerun(self, receipt_id: int) -> Outcome:
        """Run a journaled request through this receiver again, from its stored body.

        The body is verified again against its stored signature, with this receiver's secrets
        (a request refused for a wrong secret passes once the secret is fixed); a fresh
        timestamp header replaces the stored one (see :mod:`cortexhooks_receiver.journal.rerun`).
        Then the dedup store decides, as for any request: a delivery already processed is a
        duplicate and nothing runs; one whose handler failed runs again. The rerun gets a
        receipt of its own, whose ``client`` is ``"rerun:<receipt_id>"``.

        Raises:
            JournalError: this receiver has no journal, no receipt has this id, or the receipt
                holds no body (``journal_bodies`` was off when it was written).
        """
        from .journal.rerun import rerun_request

        clock = self._clock
        now = time.time_ns() // 1_000_000 if clock is None else int(clock() * 1000)
        body, headers = rerun_request(self.journal, receipt_id, now)
        return self.handle(body, headers, client=f"rerun:{receipt_id}")

    # -- answers --------------------------------------------------------------------------------

    def _refusal(self, error: WebhookError, delivery: _Delivery) -> Outcome:
        self._refusals.refused(error)
        return self._answer(delivery, _detached(error))

    def _answer(self, delivery: _Delivery, error: WebhookError) -> Outcome:
        """The refusal of a request that got as far as ``delivery`` shows (event, secret)."""
        headers = (_JSON, *error.headers) if error.headers else _OK_HEADERS
        event = getattr(delivery, "event", None)
        return Outcome(
            error.status, error.to_body(), headers, event, error, False, delivery.secret_index
        )

    def _enqueue(self, delivery: _Delivery) -> ClaimState:
        """Perform ENQUEUE: the delivery as a job (raw body, ids, the secret's index; no secret)."""
        from .jobs.base import Job, new_job_id

        event = delivery.event
        clock = self._clock
        job = Job(
            id=new_job_id(),
            event=event.event,
            body=bytes(delivery.body),
            delivery_id=event.delivery_id,
            webhook_id=event.webhook_id,
            secret_index=delivery.secret_index,
            enqueued_at=time.time() if clock is None else clock(),
        )
        queue: Any = self.queue
        if self._queue_claims:
            state: ClaimState = queue.claim_enqueue(
                delivery.keys, self.lease, delivery.retention, delivery.token, job
            )
            return state
        queue.enqueue(job)
        return ClaimState.NEW

    def run_job(self, job: Job, *, timeout: float | None = None) -> AnyEvent:
        """Run the handlers of one queued delivery, as :meth:`handle` runs them inline.

        What a worker (or a Celery or RQ task) does with each job: the event is decoded from the
        job's body as ``handle`` decoded it, with ``delivery_id``, ``webhook_id`` and
        ``attempt`` filled in, and given to this receiver's handlers for its name, in order (sync
        ones called in this thread, async ones awaited in an event loop of their own). Nothing
        is checked again (the body was verified before it was queued) and nothing is recorded:
        the caller acks, retries or buries the job by what this returns or raises.

        ``timeout`` bounds the whole job: an async handler still running then is cancelled. A
        sync handler cannot be interrupted; it runs to its end.

        Raises:
            TimeoutError: an async handler was cancelled at the job's ``timeout``.
            InvalidPayload: the job's body is not a webhook payload (not written by a receiver).
            Exception: whatever a handler raised, e.g. :class:`~cortexhooks_receiver.errors.
                PermanentError` (the worker then dead-letters the job without retrying).
        """
        event = decode_event(job.body)
        _attach_delivery(event, job.delivery_id, job.webhook_id)
        if job.attempt > 1:
            msgspec.structs.force_setattr(event, "attempt", job.attempt)
        # A handler's failure leaves here for the worker's attempt (jobs/attempt.py), as an
        # inline one leaves _decide through _handler_failed: the failure hooks hear of both.
        try:
            _run_handlers(event, self.router.resolve(event.event), timeout)
        except Exception as exc:
            self.report_handler_error(event, exc)
            raise
        return event

    def _store_down(self, delivery: _Delivery) -> Outcome:
        failure = delivery.failure
        assert failure is not None
        logger.error("Dedup store unavailable; refusing with 503: %s", type(failure).__name__)
        self._keep_error(delivery, failure)
        return self._answer(delivery, StoreUnavailable())

    def _queue_down(self, delivery: _Delivery, failure: Exception | None = None) -> Outcome:
        failure = failure or delivery.failure
        # The queues' own messages name the cause (a refused connection, a missing receiver
        # name for RQ) and never a value: shown; anything else, by its type only.
        reason = str(failure) if isinstance(failure, QueueError | ConfigurationError) else ""
        logger.error(
            "Job queue unavailable; refusing with 503: %s%s",
            type(failure).__name__,
            f": {reason}" if reason else "",
        )
        return self._answer(delivery, QueueUnavailable())

    def _queued(self, delivery: _Delivery) -> Outcome:
        return Outcome(
            202, _QUEUED_BODY, _OK_HEADERS, delivery.event, None, False, delivery.secret_index
        )

    def _duplicate(self, delivery: _Delivery) -> Outcome:
        event = delivery.event
        if logger.isEnabledFor(logging.INFO):
            logger.info("Duplicate delivery %s of %s acknowledged", event.delivery_id, event.event)
        return Outcome(200, _DUPLICATE_BODY, _OK_HEADERS, event, None, True, delivery.secret_index)

    def _handler_failed(self, failure: Exception, delivery: _Delivery) -> Outcome:
        event = delivery.event
        logger.error(
            "A handler failed on %s (delivery %s); the claim is released for the retry",
            event.event,
            event.delivery_id,
            exc_info=failure,
        )
        self._keep_error(delivery, failure)
        return self._answer(delivery, HandlerError())

    def _processed(self, delivery: _Delivery) -> Outcome:
        event = delivery.event
        if not delivery.handlers:
            self._unhandled.unhandled(event.event, self.router.handler_count())
        return Outcome(200, _OK_BODY, _OK_HEADERS, event, None, False, delivery.secret_index)


def _retention_of(retention: float, signed_at: int, now_ms: int) -> float:
    """Seconds a processed body's keys are remembered: ``retention``, plus how far ahead of this
    receiver's clock the body was signed.

    The body-age check accepts a body until ``retention`` after its signed time. A body signed
    ahead of this clock (the timestamp window lets it be up to ``tolerance`` ahead) must be
    remembered that much longer, or a replay in those last moments would find it forgotten and
    still young enough to run. Never raises.
    """
    ahead_ms = signed_at - now_ms
    return retention if ahead_ms <= 0 else retention + ahead_ms / 1000


def _detached(error: WebhookError) -> WebhookError:
    """Return ``error`` holding no frames: what an error keeps alive must reach no secret.

    A refusal is kept by its :class:`Outcome` (and by whatever logs or reports it); its
    traceback's frames would hold the secret's HMAC state and the expected digest.
    """
    error.__traceback__ = None
    error.__context__ = None
    error.__cause__ = None
    return error


def refusal_outcome(error: WebhookError) -> Outcome:
    """Return the answer to ``error`` when there is no receiver to ask (it could not be built).

    An adapter that has a receiver answers through :meth:`Receiver.refuse` instead, which logs.
    Never raises.
    """
    return _refusal_outcome(_detached(error), None)


def _refusal_outcome(error: WebhookError, event: AnyEvent | None) -> Outcome:
    headers = (_JSON, *error.headers) if error.headers else _OK_HEADERS
    return Outcome(error.status, error.to_body(), headers, event, error)


_FORGOTTEN_HINT: Final = (
    "The memory:// dedup store filled up and forgot deliveries within their retention: bodies "
    "signed before the newest forgotten one are refused so that none can run twice. Raise "
    "max_entries or use the SQLite or Redis store."
)

_RECEIPT_HEADERS: Final = (
    "x-cortexbuild-event",
    "x-cortexbuild-delivery-id",
    "x-cortexbuild-webhook-id",
    "x-cortexbuild-signature",
    "x-cortexbuild-timestamp",
)
_HEADER_CHARS: Final = 200


def _cut(value: str | None) -> str | None:
    # Unsigned header values (and the client) are kept, but never more than 200 characters.
    if value is None or len(value) <= _HEADER_CHARS:
        return value
    return value[:_HEADER_CHARS]


_COMPLETE_FAILED: Final = (
    "Handlers of %s (delivery %s) ran, but the store could not record it as done; this process "
    "remembers it until the store answers again"
)


def _run_handlers(
    event: AnyEvent, handlers: tuple[Registration, ...], timeout: float | None
) -> None:
    """Call each handler with ``event`` in order: the one place sync code runs handlers.

    Inline (``timeout`` None) and in a worker alike. Async handlers run to completion from this
    sync code (see :func:`~cortexhooks_receiver._concurrency.run_sync`: no loop when they do not
    suspend); with a ``timeout`` they are cancelled once the whole run has taken that long.
    """
    if type(handlers) is not tuple:  # FilteredHandlers: some have a filter
        handlers = accepted(handlers, event)
    deadline = None if timeout is None else time.monotonic() + timeout
    for registration in handlers:
        if not registration.is_async:
            registration.func(event)
        elif deadline is None:
            run_sync(registration.func(event))
        else:
            run_sync(_within(registration.func(event), deadline - time.monotonic(), timeout))


async def _within(awaitable: Any, seconds: float, timeout: float | None) -> None:
    import asyncio

    scope = asyncio.timeout(max(seconds, 0.0))
    try:
        async with scope:
            await awaitable
    except TimeoutError:
        if not scope.expired():
            raise  # the handler's own TimeoutError (say, an HTTP call's)
        raise TimeoutError(
            f"The job ran past its timeout of {timeout:g} s; its async handler was cancelled."
        ) from None


def _is_rejection(error: WebhookError | None) -> bool:
    # A failed handler is reported to on_error where it is decided, not as a rejection.
    return error is not None and type(error) is not HandlerError


def _rejection(delivery: _Delivery) -> tuple[WebhookError | None, RejectedRequest]:
    """The arguments of an ``on_rejected`` hook for a refused delivery."""
    request = rejected_request(delivery.headers, delivery.method, delivery.client)
    return delivery.outcome.error, request


def _attach_delivery(event: AnyEvent, delivery_id: str | None, webhook_id: str | None) -> None:
    # The ids come from the (unsigned) headers, never the body; events are frozen, hence force.
    if delivery_id is not None or webhook_id is not None:
        msgspec.structs.force_setattr(event, "delivery_id", delivery_id)
        msgspec.structs.force_setattr(event, "webhook_id", webhook_id)


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
    try:
        authenticate(body, signature_text, timestamp_text, keys, now_ms(now), int(tolerance * 1000))
        event = decode_event(body)
    except WebhookError as exc:
        raise _detached(exc) from None
    _attach_delivery(event, delivery_id, webhook_id)
    return event

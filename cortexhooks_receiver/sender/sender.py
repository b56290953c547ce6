"""The reference sender: what CortexBuild does when an event fires, byte for byte.

One :class:`Sender` delivers payloads to :class:`Endpoint` s. A delivery is up to five attempts on
the guide's schedule; each attempt is checked against the URL policy, signed afresh (new
``X-CortexBuild-Timestamp``, same ``X-CortexBuild-Delivery-Id``), posted with a 10 s timeout and
counted as a success only for a 2xx answer. Consecutive failed attempts are counted per webhook
across deliveries; at ten the webhook is disabled. Every attempt is written to a
:class:`DeliveryLog` the caller can read.

Time comes from ``clock``/``sleep`` (default: :func:`time.time` and :func:`time.sleep`, looked up
at call time so freezegun works); pass a :class:`~.schedule.VirtualClock` to run the whole
schedule instantly.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Final, Literal, Protocol

import msgspec

from cortexhooks_receiver._version import __version__
from cortexhooks_receiver.signature import compute_signature, new_delivery_id

from . import jsonjs
from .errors import DeliveryStateError, NoResponseError
from .schedule import DEFAULT_TIMEOUT, DISABLE_AFTER, RETRY_SCHEDULE
from .states import INITIAL_STATE, DeliveryState, advance, is_final
from .transports import HTTPTransport, Transport, default_policy
from .urlpolicy import UnsafeURLError, URLPolicy

__all__ = [
    "USER_AGENT",
    "Attempt",
    "AttemptOutcome",
    "Delivery",
    "DeliveryLog",
    "Endpoint",
    "HealthTracker",
    "MemoryHealth",
    "Sender",
    "build_payload",
]

from cortexhooks_receiver._logs import sender_logger as logger

USER_AGENT: Final = f"CortexBuild-Webhooks/1.0 (cortexhooks_receiver {__version__})"
_LOGGED_RESPONSE_BYTES: Final = 1024

AttemptOutcome = Literal[
    "success", "http_error", "redirect", "timeout", "connection_error", "refused_url"
]


class Endpoint(msgspec.Struct, frozen=True):
    """Where a webhook is delivered: its id, URL and signing secret."""

    url: str
    secret: str
    id: str = "webhook-local"

    def __repr__(self) -> str:
        return f"Endpoint(id={self.id!r}, url={self.url!r}, secret=<hidden>)"


class Attempt(msgspec.Struct, frozen=True):
    """One POST of a delivery, as logged.

    ``status`` is the HTTP status (``None`` when there was no answer), ``latency_ms`` the time
    the attempt took, ``error`` a short reason for a failure (never a secret).
    """

    delivery_id: str
    webhook_id: str
    number: int
    timestamp: int
    outcome: AttemptOutcome
    status: int | None = None
    latency_ms: float = 0.0
    error: str | None = None
    response_body: bytes = b""

    @property
    def ok(self) -> bool:
        """True when the receiver acknowledged the delivery (2xx in time)."""
        return self.outcome == "success"


class Delivery(msgspec.Struct):
    """One event for one webhook: the exact body, its ids, its attempts and where it stands.

    ``state`` moves only as the table of :mod:`~cortexhooks_receiver.sender.states` allows.
    """

    delivery_id: str
    webhook_id: str
    event: str | None
    body: bytes
    attempts: list[Attempt] = msgspec.field(default_factory=list)
    state: DeliveryState = INITIAL_STATE

    @property
    def succeeded(self) -> bool:
        """True when one attempt got a 2xx answer."""
        return self.state == "succeeded"


class DeliveryLog:
    """Every delivery a sender made (most recent ``maxlen``), safe to read from any thread."""

    def __init__(self, maxlen: int = 10_000) -> None:
        self._items: deque[Delivery] = deque(maxlen=maxlen)
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def __iter__(self) -> Iterator[Delivery]:
        return iter(self.deliveries)

    def add(self, delivery: Delivery) -> None:
        """Record a delivery (its attempts are appended to it as they happen)."""
        with self._lock:
            self._items.append(delivery)

    @property
    def deliveries(self) -> list[Delivery]:
        """A snapshot of the logged deliveries, oldest first."""
        with self._lock:
            return list(self._items)

    @property
    def attempts(self) -> list[Attempt]:
        """Every logged attempt of every delivery, in order."""
        with self._lock:
            return [a for d in self._items for a in d.attempts]

    def get(self, delivery_id: str) -> Delivery | None:
        """Return the delivery with ``delivery_id``, or ``None``."""
        with self._lock:
            for delivery in self._items:
                if delivery.delivery_id == delivery_id:
                    return delivery
        return None


class HealthTracker(Protocol):
    """Counts consecutive failed attempts per webhook and decides when it is disabled."""

    def is_active(self, webhook_id: str) -> bool:
        """Return False once the webhook has been disabled."""
        ...

    def record(self, webhook_id: str, *, success: bool, disable_after: int) -> bool:
        """Record one attempt's result; return whether the webhook is still active."""
        ...


class MemoryHealth:
    """In-memory :class:`HealthTracker`: a success resets the count, ``disable_after`` disables."""

    def __init__(self) -> None:
        self._failures: dict[str, int] = {}
        self._disabled: set[str] = set()
        self._lock = threading.Lock()

    def is_active(self, webhook_id: str) -> bool:
        """Return False once the webhook has been disabled."""
        with self._lock:
            return webhook_id not in self._disabled

    def failures(self, webhook_id: str) -> int:
        """Return the current count of consecutive failed attempts."""
        with self._lock:
            return self._failures.get(webhook_id, 0)

    def record(self, webhook_id: str, *, success: bool, disable_after: int) -> bool:
        """Record one attempt's result; return whether the webhook is still active."""
        with self._lock:
            if success:
                self._failures[webhook_id] = 0
            else:
                count = self._failures.get(webhook_id, 0) + 1
                self._failures[webhook_id] = count
                if count >= disable_after:
                    self._disabled.add(webhook_id)
            return webhook_id not in self._disabled

    def enable(self, webhook_id: str) -> None:
        """Re-enable a disabled webhook and reset its failure count."""
        with self._lock:
            self._disabled.discard(webhook_id)
            self._failures[webhook_id] = 0


def build_payload(
    event: str,
    data: Mapping[str, Any],
    *,
    company_id: str = "comp-1",
    user_id: str = "user-1",
    timestamp: int | None = None,
    clock: Callable[[], float] | None = None,
) -> dict[str, Any]:
    """Return the guide's envelope ``{event, timestamp, data, companyId, userId}``.

    ``timestamp`` (Unix ms) defaults to now from ``clock`` (default :func:`time.time`).
    """
    if timestamp is None:
        timestamp = int((clock or _now)() * 1000)
    return {
        "event": event,
        "timestamp": timestamp,
        "data": dict(data),
        "companyId": company_id,
        "userId": user_id,
    }


def _now() -> float:
    return time.time()


def _sleep(seconds: float) -> None:
    time.sleep(seconds)


class Sender:
    """Delivers signed webhook payloads exactly as CortexBuild does.

    Args:
        transport: how requests are posted; default :class:`~.transports.HTTPTransport`.
        policy: the :class:`~.urlpolicy.URLPolicy` checked before every attempt; by default
            HTTPS to public hosts only, plus loopback for an in-process transport.
        schedule: seconds to wait before each attempt (from the previous one).
        timeout: seconds an attempt may take; a slower 2xx still counts as a timeout.
        disable_after: consecutive failed attempts that disable a webhook.
        health: where failure counts live (default :class:`MemoryHealth`).
        log: the :class:`DeliveryLog` to append to (default: a new one, ``sender.log``).
        clock: returns Unix seconds (default :func:`time.time`, looked up at each call).
        sleep: waits that many seconds (default :func:`time.sleep`).
        user_agent: the ``User-Agent`` header.

    Raises:
        ValueError: an empty schedule, a negative delay, or a non-positive timeout.
    """

    def __init__(
        self,
        *,
        transport: Transport | None = None,
        policy: URLPolicy | None = None,
        schedule: Sequence[float] = RETRY_SCHEDULE,
        timeout: float = DEFAULT_TIMEOUT,
        disable_after: int = DISABLE_AFTER,
        health: HealthTracker | None = None,
        log: DeliveryLog | None = None,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], None] | None = None,
        user_agent: str = USER_AGENT,
    ) -> None:
        if not schedule or any(d < 0 for d in schedule):
            raise ValueError("the schedule needs at least one attempt and no negative delay")
        if timeout <= 0 or disable_after < 1:
            raise ValueError("timeout must be positive and disable_after at least 1")
        self._transport = transport
        self.policy = policy or default_policy(transport)
        self.schedule = tuple(float(d) for d in schedule)
        self.timeout = float(timeout)
        self.disable_after = disable_after
        self.health: HealthTracker = health if health is not None else MemoryHealth()
        self.log = log if log is not None else DeliveryLog()
        self._clock = clock
        self._sleep = sleep or _sleep
        self.user_agent = user_agent

    def __repr__(self) -> str:
        return f"Sender(schedule={self.schedule!r}, timeout={self.timeout!r})"

    @property
    def transport(self) -> Transport:
        """The transport in use (created on first use: httpx is imported lazily)."""
        if self._transport is None:
            self._transport = HTTPTransport()
        return self._transport

    def now(self) -> float:
        """Return the sender's current time in Unix seconds."""
        return (self._clock or _now)()

    def close(self) -> None:
        """Close the transport's connections."""
        if self._transport is not None:
            self._transport.close()

    def __enter__(self) -> Sender:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def new_delivery(
        self,
        endpoint: Endpoint,
        payload: Mapping[str, Any] | bytes,
        *,
        event: str | None = None,
        delivery_id: str | None = None,
    ) -> Delivery:
        """Encode ``payload`` (JSON.stringify-compatible) into a logged, pending :class:`Delivery`.

        A ``bytes`` payload is sent as is. ``event`` defaults to the payload's ``event`` field.

        Raises:
            TypeError, ValueError: the payload cannot be encoded as JSON.
        """
        if isinstance(payload, bytes | bytearray):
            body = bytes(payload)
        else:
            body = jsonjs.dumps(payload)
            if event is None and isinstance(payload.get("event"), str):
                event = payload["event"]
        delivery = Delivery(
            delivery_id=delivery_id or new_delivery_id(),
            webhook_id=endpoint.id,
            event=event,
            body=body,
        )
        self.log.add(delivery)
        return delivery

    def deliver(
        self,
        endpoint: Endpoint,
        payload: Mapping[str, Any] | bytes,
        *,
        event: str | None = None,
        delivery_id: str | None = None,
    ) -> Delivery:
        """Deliver ``payload`` on the full schedule; return the finished :class:`Delivery`.

        Stops at the first 2xx, when the schedule is exhausted (``state == "failed"``) or when
        the webhook is (or becomes) disabled (``state == "disabled"``). Never raises for a
        receiver's failure: read the outcome from the returned delivery.

        Raises:
            TypeError, ValueError: the payload cannot be encoded as JSON.
        """
        delivery = self.new_delivery(endpoint, payload, event=event, delivery_id=delivery_id)
        for delay in self.schedule:
            if delivery.state != "pending":
                break
            if delay and delivery.attempts:
                self._sleep(delay)
            self.attempt(endpoint, delivery)
        if delivery.state == "pending":
            delivery.state = advance(delivery.state, "failed")
        return delivery

    def next_delay(self, delivery: Delivery) -> float | None:
        """Seconds until the next scheduled attempt of ``delivery``; ``None`` when it is over."""
        if delivery.state != "pending" or len(delivery.attempts) >= len(self.schedule):
            return None
        return self.schedule[len(delivery.attempts)]

    def attempt(self, endpoint: Endpoint, delivery: Delivery) -> Attempt | None:
        """Make one attempt of ``delivery`` now and log it; return it (``None``: disabled).

        Updates ``delivery.state``: ``succeeded`` on a 2xx, ``disabled`` when the webhook is or
        becomes disabled, ``failed`` when this was the last scheduled attempt.

        Raises:
            DeliveryStateError: the delivery is finished (not ``pending``); nothing is sent.
        """
        if is_final(delivery.state):
            raise DeliveryStateError(
                f"delivery {delivery.delivery_id} is {delivery.state}: only a pending delivery "
                "is attempted (replay() sends a finished one again)"
            )
        if not self.health.is_active(endpoint.id):
            delivery.state = advance(delivery.state, "disabled")
            return None
        record = self._post(endpoint, delivery, replay=False)
        delivery.attempts.append(record)
        active = self.health.record(
            endpoint.id, success=record.ok, disable_after=self.disable_after
        )
        if record.ok:
            delivery.state = advance(delivery.state, "succeeded")
        elif not active:
            delivery.state = advance(delivery.state, "disabled")
            logger.warning(
                "webhook %s disabled after %d consecutive failed attempts",
                endpoint.id,
                self.disable_after,
            )
        elif len(delivery.attempts) >= len(self.schedule):
            delivery.state = advance(delivery.state, "failed")
        return record

    def replay(self, endpoint: Endpoint, delivery: Delivery) -> Attempt:
        """Send ``delivery`` once more, now (same body and delivery id, fresh timestamp).

        The attempt is appended to the delivery but changes neither its state nor the webhook's
        failure count: a replay is a manual action, not part of the schedule.
        """
        record = self._post(endpoint, delivery, replay=True)
        delivery.attempts.append(record)
        return record

    def headers_for(self, endpoint: Endpoint, delivery: Delivery, timestamp: int) -> dict[str, str]:
        """Return the exact headers of one attempt (signature over the delivery's body)."""
        headers = {
            "Content-Type": "application/json",
            "User-Agent": self.user_agent,
            "X-CortexBuild-Signature": compute_signature(delivery.body, endpoint.secret),
            "X-CortexBuild-Timestamp": str(timestamp),
            "X-CortexBuild-Webhook-Id": endpoint.id,
            "X-CortexBuild-Delivery-Id": delivery.delivery_id,
        }
        if delivery.event is not None:
            headers["X-CortexBuild-Event"] = delivery.event
        return headers

    def _post(self, endpoint: Endpoint, delivery: Delivery, *, replay: bool) -> Attempt:
        number = len(delivery.attempts) + 1
        started = self.now()
        timestamp = int(started * 1000)
        perf = time.perf_counter()
        status: int | None = None
        body = b""
        error: str | None = None
        outcome: AttemptOutcome
        try:
            target = self.policy.check(endpoint.url)
            headers = self.headers_for(endpoint, delivery, timestamp)
            response = self.transport.post(target, delivery.body, headers, self.timeout)
        except UnsafeURLError as exc:
            outcome, error = "refused_url", exc.message
        except NoResponseError as exc:
            outcome = "timeout" if exc.kind == "timeout" else "connection_error"
            error = exc.message
        else:
            status, body = response.status, response.body[:_LOGGED_RESPONSE_BYTES]
            if 200 <= status < 300:
                outcome = "success"
            elif 300 <= status < 400:
                outcome = "redirect"
                error = f"redirects are not followed (HTTP {status})"
            else:
                outcome, error = "http_error", f"HTTP {status}"
        # With an injected clock (virtual time) latency is measured on it, else on perf_counter.
        latency = self.now() - started if self._clock is not None else time.perf_counter() - perf
        if outcome == "success" and latency > self.timeout:
            outcome, error = "timeout", f"answered after {latency:.1f} s (limit {self.timeout:g} s)"
        record = Attempt(
            delivery_id=delivery.delivery_id,
            webhook_id=endpoint.id,
            number=number,
            timestamp=timestamp,
            outcome=outcome,
            status=status,
            latency_ms=round(latency * 1000, 3),
            error=error,
            response_body=body,
        )
        logger.info(
            "%s %s attempt %d to webhook %s: %s%s (%.0f ms)",
            "replay of" if replay else "delivery",
            delivery.delivery_id,
            number,
            endpoint.id,
            outcome,
            f" {status}" if status is not None else "",
            record.latency_ms,
        )
        return record

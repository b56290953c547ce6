"""The emulator's behaviour, without HTTP: webhooks, emitted events, tests and replays.

:class:`Emulator` owns the database, the reference sender and the dispatcher. The WSGI app in
:mod:`.app` only maps requests onto these methods; tests can call either.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Final

import msgspec

from cortexhooks_receiver.events import CATALOG
from cortexhooks_receiver.management import DeliveryRecord, QueuedDelivery, TestResult, Webhook
from cortexhooks_receiver.routing import matches
from cortexhooks_receiver.sender import (
    RETRY_SCHEDULE,
    Attempt,
    Delivery,
    Sender,
    Transport,
    UnsafeURLError,
    URLPolicy,
    build_payload,
    js_dumps,
    new_delivery_id,
)
from cortexhooks_receiver.sender.transports import default_policy

from .dispatcher import Dispatcher
from .errors import EmulatorError
from .ids import new_secret, new_webhook_id
from .samples import sample_payload
from .store import EmulatorDB

__all__ = ["TEST_EVENT", "Emulator"]

TEST_EVENT: Final = "webhook.test"
"""The event name of ``POST /api/webhooks/:id/test`` deliveries (receivers treat it as unknown)."""

_MAX_URL: Final = 2048
_MAX_DESCRIPTION: Final = 500
_MAX_EVENTS: Final = 100


def _now() -> float:
    return time.time()


def _sleep(seconds: float) -> None:
    time.sleep(seconds)


class Emulator:
    """A local CortexBuild: management API state, event emission and scheduled deliveries.

    Args:
        db: a path to the SQLite file, ``":memory:"``, or an :class:`EmulatorDB`.
        token: the bearer token the API requires.
        transport: how deliveries are posted (default real HTTP; a WSGI app in tests).
        policy: the URL policy for webhook URLs (default: HTTPS to public hosts, plus loopback
            when ``transport`` is in-process; ``URLPolicy(allow_loopback=True)`` for local
            receivers over real HTTP).
        clock: Unix seconds (default :func:`time.time`, read at each call).
        sleep: waits, for :meth:`drain` (default :func:`time.sleep`).
        time_scale: divides the waits of the retry schedule (60: one minute per second).
        schedule: the retry schedule (default the guide's).

    Raises:
        ValueError: an empty token or a non-positive time scale.
    """

    def __init__(
        self,
        db: str | Path | EmulatorDB = ":memory:",
        *,
        token: str,
        transport: Transport | None = None,
        policy: URLPolicy | None = None,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], None] | None = None,
        time_scale: float = 1.0,
        schedule: Sequence[float] = RETRY_SCHEDULE,
    ) -> None:
        if not token:
            raise ValueError("the emulator needs a bearer token")
        self.token = token
        self.db = db if isinstance(db, EmulatorDB) else EmulatorDB(db)
        self.clock: Callable[[], float] = clock or _now
        self.policy = policy or default_policy(transport)
        self.sender = Sender(
            transport=transport,
            policy=self.policy,
            schedule=schedule,
            health=self.db,
            clock=self.clock,
            sleep=sleep or _sleep,
        )
        self.dispatcher = Dispatcher(
            self.db,
            self.sender,
            clock=self.clock,
            sleep=sleep or _sleep,
            time_scale=time_scale,
        )
        self.dispatcher.load_pending()
        self._app: Any = None

    def __repr__(self) -> str:
        return f"Emulator(db={self.db.path!r}, token=<hidden>)"

    @property
    def app(self) -> Any:
        """The WSGI application serving the management API (see :mod:`.app`)."""
        if self._app is None:
            from .app import EmulatorApp

            self._app = EmulatorApp(self)
        return self._app

    def now_ms(self) -> int:
        """The emulator's current time in Unix milliseconds."""
        return int(self.clock() * 1000)

    def close(self) -> None:
        """Stop the worker, close the sender and the database."""
        self.dispatcher.stop()
        self.sender.close()
        self.db.close()

    def __enter__(self) -> Emulator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        """Start delivering in a background thread (real time, scaled by ``time_scale``)."""
        self.dispatcher.start()

    def drain(self) -> int:
        """Make every queued attempt now, sleeping through ``sleep``; return how many."""
        return self.dispatcher.drain()

    # --- webhooks -----------------------------------------------------------------------------

    def register(self, url: Any, events: Any, description: Any = None) -> tuple[Webhook, str]:
        """Register a webhook; return it and its new secret.

        Raises:
            EmulatorError: 400 for an invalid URL, event list or description.
        """
        url = self._valid_url(url)
        events = _valid_events(events)
        description = _valid_description(description)
        now = self.now_ms()
        stored = self.db.add_webhook(
            new_webhook_id(now), url, events, description, new_secret(), now
        )
        return stored.public(), stored.secret

    def webhooks(self) -> list[Webhook]:
        """Every registered webhook (without secrets)."""
        return [w.public() for w in self.db.webhooks()]

    def webhook(self, webhook_id: str) -> Webhook:
        """One webhook.

        Raises:
            EmulatorError: 404 for an unknown id.
        """
        stored = self.db.webhook(webhook_id)
        if stored is None:
            raise _not_found(webhook_id)
        return stored.public()

    def update(self, webhook_id: str, changes: Mapping[str, Any]) -> Webhook:
        """Change ``url``, ``events``, ``description`` and/or ``active``.

        Raises:
            EmulatorError: 404 for an unknown id; 400 for an unknown field or invalid value.
        """
        unknown = set(changes) - {"url", "events", "description", "active"}
        if unknown:
            raise EmulatorError(
                400, "invalid_request", f"unknown field(s): {', '.join(sorted(unknown))}"
            )
        clean: dict[str, Any] = {}
        if "url" in changes:
            clean["url"] = self._valid_url(changes["url"])
        if "events" in changes:
            clean["events"] = _valid_events(changes["events"])
        if "description" in changes:
            clean["description"] = _valid_description(changes["description"])
        if "active" in changes:
            if not isinstance(changes["active"], bool):
                raise EmulatorError(400, "invalid_request", "active must be true or false")
            clean["active"] = changes["active"]
        stored = self.db.update_webhook(webhook_id, clean, self.now_ms())
        if stored is None:
            raise _not_found(webhook_id)
        return stored.public()

    def delete(self, webhook_id: str) -> None:
        """Delete a webhook (its pending deliveries are cancelled).

        Raises:
            EmulatorError: 404 for an unknown id.
        """
        if not self.db.delete_webhook(webhook_id):
            raise _not_found(webhook_id)

    def test(self, webhook_id: str) -> TestResult:
        """Send one ``webhook.test`` delivery now; it does not count toward auto-disable.

        Raises:
            EmulatorError: 404 for an unknown id.
        """
        stored = self.db.webhook(webhook_id)
        if stored is None:
            raise _not_found(webhook_id)
        now = self.now_ms()
        payload = build_payload(
            TEST_EVENT,
            {"id": f"test-{now}", "message": "Test webhook from CortexBuild"},
            timestamp=now,
        )
        delivery = Delivery(
            delivery_id=new_delivery_id(),
            webhook_id=stored.id,
            event=TEST_EVENT,
            body=js_dumps(payload),
        )
        self.db.add_delivery(delivery.delivery_id, stored.id, TEST_EVENT, delivery.body, now, None)
        endpoint = stored.endpoint()
        attempt = self.sender.replay(endpoint, delivery)
        self.db.add_attempt(attempt)
        self.db.advance_delivery(
            delivery.delivery_id, "pending", "succeeded" if attempt.ok else "failed", None
        )
        return TestResult(
            success=attempt.ok,
            delivery_id=delivery.delivery_id,
            status=attempt.status,
            latency_ms=attempt.latency_ms,
            error=attempt.error,
        )

    # --- events and deliveries ----------------------------------------------------------------

    def emit(
        self,
        event: Any,
        data: Any = None,
        *,
        company_id: Any = None,
        user_id: Any = None,
    ) -> list[QueuedDelivery]:
        """Emit ``event`` to every active webhook subscribed to it; queue one delivery each.

        ``data`` defaults to a realistic sample of the event. The first attempt is due now.

        Raises:
            EmulatorError: 400 for an unknown event name or a ``data`` that is not an object.
        """
        if not isinstance(event, str) or event not in CATALOG:
            raise EmulatorError(
                400, "unknown_event", f"{event!r} is not a CortexBuild event (GET /api/events)"
            )
        if data is not None and not isinstance(data, dict):
            raise EmulatorError(400, "invalid_request", "data must be a JSON object")
        for name, value in (("companyId", company_id), ("userId", user_id)):
            if value is not None and not isinstance(value, str):
                raise EmulatorError(400, "invalid_request", f"{name} must be a string")
        now = self.now_ms()
        payload = sample_payload(
            event,
            data=data,
            timestamp=now,
            company_id=company_id or "comp-1",
            user_id=user_id or "user-1",
        )
        body = js_dumps(payload)
        queued: list[QueuedDelivery] = []
        for hook in self.db.webhooks():
            if not hook.active or not matches(hook.events, event):
                continue
            delivery_id = new_delivery_id()
            self.db.add_delivery(delivery_id, hook.id, event, body, now, now)
            self.dispatcher.schedule(delivery_id, now / 1000)
            queued.append(QueuedDelivery(delivery_id=delivery_id, webhook_id=hook.id))
        return queued

    def deliveries(self, webhook_id: str) -> list[DeliveryRecord]:
        """The delivery log of one webhook, oldest first.

        Raises:
            EmulatorError: 404 for an unknown id.
        """
        if self.db.webhook(webhook_id) is None:
            raise _not_found(webhook_id)
        return self.db.records(self.db.delivery_ids(webhook_id=webhook_id))

    def replay(self, delivery_id: str) -> Attempt:
        """Send a logged delivery again now: same body and delivery id, a fresh timestamp.

        Raises:
            EmulatorError: 404 when the delivery or its webhook is gone.
        """
        row = self.db.delivery(delivery_id)
        if row is None:
            raise EmulatorError(404, "not_found", f"no delivery {delivery_id!r}")
        hook = self.db.webhook(row.webhook_id)
        if hook is None:
            raise EmulatorError(404, "not_found", f"webhook {row.webhook_id!r} was deleted")
        delivery = self.db.sender_delivery(row)
        previous = len(self.db.records([row.id])[0].attempts)
        attempt = self.sender.replay(hook.endpoint(), delivery)
        attempt = msgspec.structs.replace(attempt, number=previous + 1)
        self.db.add_attempt(attempt, replay=True)
        return attempt

    def _valid_url(self, url: Any) -> str:
        if not isinstance(url, str) or not url or len(url) > _MAX_URL:
            raise EmulatorError(
                400, "invalid_url", f"url must be a string of 1-{_MAX_URL} characters"
            )
        try:
            self.policy.check(url)
        except UnsafeURLError as exc:
            raise EmulatorError(400, "invalid_url", exc.message) from None
        return url


def _valid_events(events: Any) -> list[str]:
    if (
        not isinstance(events, list)
        or not events
        or len(events) > _MAX_EVENTS
        or not all(isinstance(e, str) for e in events)
    ):
        raise EmulatorError(400, "invalid_events", "events must be a non-empty list of event names")
    for name in events:
        if name == "*" or name in CATALOG:
            continue
        if name.endswith(".*") and name[:-2] in CATALOG.prefixes:
            continue
        raise EmulatorError(
            400, "unknown_event", f"{name!r} is not a CortexBuild event (GET /api/events)"
        )
    return list(dict.fromkeys(events))


def _valid_description(description: Any) -> str | None:
    if description is None:
        return None
    if not isinstance(description, str) or len(description) > _MAX_DESCRIPTION:
        raise EmulatorError(
            400,
            "invalid_request",
            f"description must be a string of at most {_MAX_DESCRIPTION} characters",
        )
    return description


def _not_found(webhook_id: str) -> EmulatorError:
    return EmulatorError(404, "not_found", f"no webhook {webhook_id!r}")

"""The emulator's SQLite database: webhooks (with secrets), deliveries and every attempt.

One connection shared by the API threads and the delivery worker, guarded by a lock (WAL mode).
It also is the sender's :class:`~cortexhooks_receiver.sender.HealthTracker`: consecutive failures
and the disabled flag live in the ``webhooks`` row, updated atomically.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

import msgspec

from cortexhooks_receiver.management import AttemptRecord, DeliveryRecord, Webhook
from cortexhooks_receiver.sender import Attempt, AttemptOutcome, Delivery, Endpoint
from cortexhooks_receiver.sender.states import INITIAL_STATE, DeliveryState, advance

__all__ = ["EmulatorDB", "PendingDelivery", "StoredWebhook"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS webhooks (
    id TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    events TEXT NOT NULL,
    description TEXT,
    secret TEXT NOT NULL,
    active INTEGER NOT NULL DEFAULT 1,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS deliveries (
    id TEXT PRIMARY KEY,
    webhook_id TEXT NOT NULL,
    event TEXT NOT NULL,
    body BLOB NOT NULL,
    state TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    next_attempt_at INTEGER
);
CREATE INDEX IF NOT EXISTS deliveries_by_webhook ON deliveries (webhook_id, created_at);
CREATE TABLE IF NOT EXISTS attempts (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    delivery_id TEXT NOT NULL,
    number INTEGER NOT NULL,
    timestamp INTEGER NOT NULL,
    outcome TEXT NOT NULL,
    status INTEGER,
    latency_ms REAL NOT NULL,
    error TEXT,
    replay INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS attempts_by_delivery ON attempts (delivery_id, seq);
"""


class StoredWebhook(msgspec.Struct, frozen=True):
    """A webhook row including its secret (never sent by the list/get API)."""

    id: str
    url: str
    events: tuple[str, ...]
    description: str | None
    secret: str
    active: bool
    consecutive_failures: int
    created_at: int
    updated_at: int

    def __repr__(self) -> str:
        return f"StoredWebhook(id={self.id!r}, url={self.url!r}, secret=<hidden>)"

    def endpoint(self) -> Endpoint:
        """The sender's view of this webhook: where and with which secret to deliver."""
        return Endpoint(url=self.url, secret=self.secret, id=self.id)

    def public(self) -> Webhook:
        """The API view of this webhook (no secret)."""
        return Webhook(
            id=self.id,
            url=self.url,
            events=list(self.events),
            description=self.description,
            active=self.active,
            consecutive_failures=self.consecutive_failures,
            created_at=self.created_at,
            updated_at=self.updated_at,
        )


class PendingDelivery(msgspec.Struct, frozen=True):
    """A delivery row with its body and its scheduled (non-replay) attempt count."""

    id: str
    webhook_id: str
    event: str
    body: bytes
    state: DeliveryState
    created_at: int
    next_attempt_at: int | None
    scheduled_attempts: int


class EmulatorDB:
    """SQLite persistence for the emulator (``":memory:"`` for tests).

    Raises:
        sqlite3.Error: the database file cannot be opened or written.
    """

    def __init__(self, path: str | Path = ":memory:") -> None:
        self.path = str(path)
        self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._lock = threading.RLock()
        with self._lock:
            if self.path != ":memory:":
                self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.executescript(_SCHEMA)

    def __repr__(self) -> str:
        return f"EmulatorDB({self.path!r})"

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._conn.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def _rows(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return list(self._conn.execute(sql, args).fetchall())

    # --- webhooks -----------------------------------------------------------------------------

    def add_webhook(
        self,
        webhook_id: str,
        url: str,
        events: Sequence[str],
        description: str | None,
        secret: str,
        now_ms: int,
    ) -> StoredWebhook:
        """Insert a webhook and return it."""
        with self._tx() as conn:
            conn.execute(
                "INSERT INTO webhooks (id, url, events, description, secret, created_at, "
                "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (webhook_id, url, json.dumps(list(events)), description, secret, now_ms, now_ms),
            )
        webhook = self.webhook(webhook_id)
        assert webhook is not None
        return webhook

    def webhook(self, webhook_id: str) -> StoredWebhook | None:
        """Return the webhook with ``webhook_id``, or ``None``."""
        rows = self._rows(_SELECT_WEBHOOK + " WHERE id = ?", (webhook_id,))
        return _webhook(rows[0]) if rows else None

    def webhooks(self) -> list[StoredWebhook]:
        """Return every webhook, oldest first."""
        return [_webhook(r) for r in self._rows(_SELECT_WEBHOOK + " ORDER BY created_at, id")]

    def update_webhook(
        self, webhook_id: str, changes: dict[str, Any], now_ms: int
    ) -> StoredWebhook | None:
        """Apply ``changes`` (url, events, description, active); ``None`` if the id is unknown.

        Re-activating a webhook resets its consecutive failure count.
        """
        columns: list[str] = []
        args: list[Any] = []
        for key in ("url", "description"):
            if key in changes:
                columns.append(f"{key} = ?")
                args.append(changes[key])
        if "events" in changes:
            columns.append("events = ?")
            args.append(json.dumps(list(changes["events"])))
        if "active" in changes:
            columns.append("active = ?")
            args.append(1 if changes["active"] else 0)
            if changes["active"]:
                columns.append("consecutive_failures = 0")
        columns.append("updated_at = ?")
        args.append(now_ms)
        with self._tx() as conn:
            cursor = conn.execute(
                f"UPDATE webhooks SET {', '.join(columns)} WHERE id = ?",  # noqa: S608 - fixed names
                [*args, webhook_id],
            )
            if cursor.rowcount == 0:
                return None
        return self.webhook(webhook_id)

    def delete_webhook(self, webhook_id: str) -> bool:
        """Delete a webhook and cancel its pending deliveries; return False if the id is unknown."""
        with self._tx() as conn:
            cursor = conn.execute("DELETE FROM webhooks WHERE id = ?", (webhook_id,))
            conn.execute(
                "UPDATE deliveries SET state = ?, next_attempt_at = NULL "
                "WHERE webhook_id = ? AND state = ?",
                (advance("pending", "cancelled"), webhook_id, "pending"),
            )
            return cursor.rowcount > 0

    # --- health (the sender's HealthTracker protocol) ----------------------------------------

    def is_active(self, webhook_id: str) -> bool:
        """Return whether the webhook exists and is active."""
        rows = self._rows("SELECT active FROM webhooks WHERE id = ?", (webhook_id,))
        return bool(rows and rows[0][0])

    def record(self, webhook_id: str, *, success: bool, disable_after: int) -> bool:
        """Record one attempt's result atomically; return whether the webhook is still active."""
        with self._tx() as conn:
            if success:
                conn.execute(
                    "UPDATE webhooks SET consecutive_failures = 0 WHERE id = ?", (webhook_id,)
                )
            else:
                conn.execute(
                    "UPDATE webhooks SET consecutive_failures = consecutive_failures + 1, "
                    "active = CASE WHEN consecutive_failures + 1 >= ? THEN 0 ELSE active END "
                    "WHERE id = ?",
                    (disable_after, webhook_id),
                )
            row = conn.execute("SELECT active FROM webhooks WHERE id = ?", (webhook_id,)).fetchone()
        return bool(row and row[0])

    # --- deliveries and attempts --------------------------------------------------------------

    def add_delivery(
        self,
        delivery_id: str,
        webhook_id: str,
        event: str,
        body: bytes,
        now_ms: int,
        next_attempt_at: int | None,
    ) -> None:
        """Insert a new (pending) delivery due at ``next_attempt_at``."""
        with self._tx() as conn:
            conn.execute(
                "INSERT INTO deliveries (id, webhook_id, event, body, state, created_at, "
                "next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (delivery_id, webhook_id, event, body, INITIAL_STATE, now_ms, next_attempt_at),
            )

    def add_attempt(self, attempt: Attempt, *, replay: bool = False) -> None:
        """Log one attempt."""
        with self._tx() as conn:
            conn.execute(
                "INSERT INTO attempts (delivery_id, number, timestamp, outcome, status, "
                "latency_ms, error, replay) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    attempt.delivery_id,
                    attempt.number,
                    attempt.timestamp,
                    attempt.outcome,
                    attempt.status,
                    attempt.latency_ms,
                    attempt.error,
                    1 if replay else 0,
                ),
            )

    def advance_delivery(
        self,
        delivery_id: str,
        current: DeliveryState,
        new: DeliveryState,
        next_attempt_at: int | None,
    ) -> bool:
        """Move a delivery from ``current`` to ``new``, due next at ``next_attempt_at``.

        The move is made only if the delivery still is ``current`` (compare and set): a delivery
        cancelled meanwhile stays cancelled. Returns whether it was made.

        Raises:
            DeliveryStateError: the states table does not allow ``current`` -> ``new``.
        """
        advance(current, new)
        with self._tx() as conn:
            cursor = conn.execute(
                "UPDATE deliveries SET state = ?, next_attempt_at = ? WHERE id = ? AND state = ?",
                (new, next_attempt_at, delivery_id, current),
            )
            return cursor.rowcount > 0

    def attempts(self, delivery_id: str) -> list[Attempt]:
        """Return the scheduled (non-replay) attempts of a delivery, in order."""
        rows = self._rows(
            "SELECT number, timestamp, outcome, status, latency_ms, error FROM attempts "
            "WHERE delivery_id = ? AND replay = 0 ORDER BY seq",
            (delivery_id,),
        )
        webhook_rows = self._rows("SELECT webhook_id FROM deliveries WHERE id = ?", (delivery_id,))
        webhook_id = webhook_rows[0][0] if webhook_rows else ""
        return [
            Attempt(
                delivery_id=delivery_id,
                webhook_id=webhook_id,
                number=int(r[0]),
                timestamp=int(r[1]),
                outcome=cast(AttemptOutcome, r[2]),
                status=r[3],
                latency_ms=float(r[4]),
                error=r[5],
            )
            for r in rows
        ]

    def delivery(self, delivery_id: str) -> PendingDelivery | None:
        """Return one delivery (with its body), or ``None``."""
        rows = self._rows(_SELECT_DELIVERY + " WHERE d.id = ?", (delivery_id,))
        return _delivery(rows[0]) if rows else None

    def sender_delivery(self, row: PendingDelivery) -> Delivery:
        """Return ``row`` as the sender's :class:`Delivery`, with its scheduled attempts so far."""
        return Delivery(
            delivery_id=row.id,
            webhook_id=row.webhook_id,
            event=row.event,
            body=row.body,
            attempts=self.attempts(row.id),
        )

    def pending(self) -> list[PendingDelivery]:
        """Return every delivery still waiting for an attempt, soonest first."""
        rows = self._rows(
            _SELECT_DELIVERY + " WHERE d.state = ? ORDER BY d.next_attempt_at, d.id", ("pending",)
        )
        return [_delivery(r) for r in rows]

    def delivery_ids(
        self, *, webhook_id: str | None = None, event: str | None = None, last: int | None = None
    ) -> list[str]:
        """Return delivery ids (oldest first), optionally filtered; ``last`` keeps the newest N."""
        sql = "SELECT id FROM deliveries WHERE 1 = 1"
        args: list[Any] = []
        if webhook_id is not None:
            sql += " AND webhook_id = ?"
            args.append(webhook_id)
        if event is not None:
            sql += " AND event = ?"
            args.append(event)
        ids = [r[0] for r in self._rows(sql + " ORDER BY created_at, rowid", args)]
        return ids[-last:] if last else ids

    def records(self, delivery_ids: Sequence[str]) -> list[DeliveryRecord]:
        """Return the logged deliveries with their attempts, in the given order."""
        result: list[DeliveryRecord] = []
        for delivery_id in delivery_ids:
            delivery = self.delivery(delivery_id)
            if delivery is None:
                continue
            attempts = [
                AttemptRecord(
                    number=r[0],
                    timestamp=r[1],
                    outcome=r[2],
                    status=r[3],
                    latency_ms=r[4],
                    error=r[5],
                    replay=bool(r[6]),
                )
                for r in self._rows(
                    "SELECT number, timestamp, outcome, status, latency_ms, error, replay "
                    "FROM attempts WHERE delivery_id = ? ORDER BY seq",
                    (delivery_id,),
                )
            ]
            result.append(
                DeliveryRecord(
                    delivery_id=delivery.id,
                    webhook_id=delivery.webhook_id,
                    event=delivery.event,
                    state=delivery.state,
                    created_at=delivery.created_at,
                    attempts=attempts,
                    next_attempt_at=delivery.next_attempt_at,
                )
            )
        return result


_SELECT_WEBHOOK = (
    "SELECT id, url, events, description, secret, active, consecutive_failures, created_at, "
    "updated_at FROM webhooks"
)
_SELECT_DELIVERY = (
    "SELECT d.id, d.webhook_id, d.event, d.body, d.state, d.created_at, d.next_attempt_at, "
    "(SELECT COUNT(*) FROM attempts a WHERE a.delivery_id = d.id AND a.replay = 0) "
    "FROM deliveries d"
)


def _webhook(row: tuple[Any, ...]) -> StoredWebhook:
    return StoredWebhook(
        id=row[0],
        url=row[1],
        events=tuple(json.loads(row[2])),
        description=row[3],
        secret=row[4],
        active=bool(row[5]),
        consecutive_failures=int(row[6]),
        created_at=int(row[7]),
        updated_at=int(row[8]),
    )


def _delivery(row: tuple[Any, ...]) -> PendingDelivery:
    return PendingDelivery(
        id=row[0],
        webhook_id=row[1],
        event=row[2],
        body=bytes(row[3]),
        state=cast(DeliveryState, row[4]),
        created_at=int(row[5]),
        next_attempt_at=None if row[6] is None else int(row[6]),
        scheduled_attempts=int(row[7]),
    )

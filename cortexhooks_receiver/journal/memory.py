"""The memory journal: the newest receipts of this process, in a bounded ring, followed live.

For tests, ``cortexhooks listen`` and single-process apps. Each process has its own: use the
SQLite journal (one host) or Redis (many hosts) to see every worker's receipts in one place.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import deque
from collections.abc import Callable

import msgspec

from cortexhooks_receiver.errors import ConfigurationError

from .base import DEFAULT_RETENTION, BaseJournal, Receipt, ReceiptFilter

__all__ = ["DEFAULT_MAX_RECEIPTS", "MemoryJournal"]

DEFAULT_MAX_RECEIPTS = 1000
"""How many receipts a memory journal keeps unless told otherwise."""


class MemoryJournal(BaseJournal):
    """A journal in this process's memory: the newest ``max_receipts`` receipts.

    Recording never blocks nor fails (a lock held for an append), so the receiver writes to it
    inline in both its sync and async faces. Ids are consecutive from 1. :meth:`follow` lets a
    reader (a page, a console) wait for the receipts newer than the last one it saw.

    Args:
        max_receipts: how many receipts are kept; the oldest go first. At least 1.
        retention: seconds a receipt is kept at most (:meth:`prune`, also run every
            ``prune_every`` records).
        prune_every: records between two automatic prunes; 0 disables them.
        clock: Unix seconds, for ``retention`` and ``query(since=timedelta)``; default
            :func:`time.time`.

    Raises:
        ConfigurationError: ``max_receipts`` below 1, or a negative ``retention`` or
            ``prune_every``.
    """

    def __init__(
        self,
        max_receipts: int = DEFAULT_MAX_RECEIPTS,
        *,
        retention: float = DEFAULT_RETENTION,
        prune_every: int = 256,
        clock: Callable[[], float] | None = None,
    ) -> None:
        if max_receipts < 1:
            raise ConfigurationError("max_receipts must be 1 or more.")
        if retention < 0 or prune_every < 0:
            raise ConfigurationError("retention and prune_every must not be negative.")
        self.max_receipts = max_receipts
        self.retention = retention
        self.prune_every = prune_every
        self._clock: Callable[[], float] = time.time if clock is None else clock
        self._receipts: deque[Receipt] = deque(maxlen=max_receipts)
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._followers = 0  # readers waiting in follow(): only they need waking
        self._last_id = 0

    def __repr__(self) -> str:
        return f"MemoryJournal(max_receipts={self.max_receipts})"

    def __len__(self) -> int:
        return len(self._receipts)

    def record(self, receipt: Receipt) -> int:
        """Keep ``receipt`` (a copy with its new id) and wake the readers waiting in ``follow``.

        Never raises.
        """
        with self._lock:
            receipt_id = self._last_id + 1
            self._last_id = receipt_id
            self._receipts.append(msgspec.structs.replace(receipt, id=receipt_id))
            if self._followers:
                self._changed.notify_all()
        if self.prune_every and receipt_id % self.prune_every == 0:
            self.prune()
        return receipt_id

    def _select(self, wanted: ReceiptFilter) -> list[Receipt]:
        found: list[Receipt] = []
        with self._lock:
            for receipt in reversed(self._receipts):
                if wanted.since_id is not None and receipt.id <= wanted.since_id:
                    break  # ids only decrease from here
                if wanted.accepts(receipt):
                    found.append(receipt)
                    if len(found) == wanted.limit:
                        break
        return found

    def get(self, receipt_id: int) -> Receipt | None:
        """Return the receipt with this id, or ``None`` (never recorded, or gone). Never raises."""
        with self._lock:
            receipts = self._receipts
            if not receipts:
                return None
            index = receipt_id - receipts[0].id  # ids are consecutive
            return receipts[index] if 0 <= index < len(receipts) else None

    def follow(self, after_id: int = 0, timeout: float | None = None) -> list[Receipt]:
        """Return the receipts newer than ``after_id``, oldest first, waiting for one if none.

        Waits at most ``timeout`` seconds (``None``: until one arrives); returns ``[]`` when
        none arrived in time. A reader passes the id of the last receipt it got to the next
        call. Never raises.
        """
        with self._lock:
            self._followers += 1
            try:
                self._changed.wait_for(lambda: self._last_id > after_id, timeout)
            finally:
                self._followers -= 1
            receipts = self._receipts
            if not receipts:
                return []
            start = max(0, after_id + 1 - receipts[0].id)
            return list(itertools.islice(receipts, start, None))

    def prune(self) -> int:
        """Forget the receipts older than ``retention``; return how many. Never raises."""
        cutoff = self._clock() - self.retention
        pruned = 0
        with self._lock:
            receipts = self._receipts
            while receipts and receipts[0].received_at.timestamp() < cutoff:
                receipts.popleft()
                pruned += 1
        return pruned

    def close(self) -> None:
        """Nothing to release; present for the Journal protocol."""

"""The Redis journal: one capped stream shared by the receivers of many hosts (``redis`` extra).

Receipts are entries of one Redis stream, ``<prefix>journal``, capped at about ``max_receipts``
entries (``XADD ... MAXLEN ~``: Redis trims whole nodes, so the stream may briefly hold a few
more). Recording is one Lua script, one round trip: it takes the next id from the counter
``<prefix>journal:id`` and appends the receipt (msgpack) under the stream id ``<id>-0``, so ids
are the same small, growing integers as in the other journals and ``get(id)`` is one ``XRANGE``.
Both keys carry the prefix's hash tag, so the script runs on a Redis Cluster too.

Retention: besides the cap, :meth:`RedisJournal.prune` trims the receipts older than
``retention`` (``XTRIM MINID``), also every ``prune_every`` records.

Any Redis failure raises :class:`~cortexhooks_receiver.errors.JournalError`; redis-py's own
exceptions never escape.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

import msgspec

from cortexhooks_receiver._redis import (
    DEFAULT_SOCKET_TIMEOUT,
    client_from_url,
    hash_tagged,
    import_redis,
)
from cortexhooks_receiver.errors import ConfigurationError, JournalError

from .base import DEFAULT_RETENTION, BaseJournal, Receipt, ReceiptFilter

if TYPE_CHECKING:
    import redis as redis_lib

__all__ = ["DEFAULT_MAX_RECEIPTS", "RedisJournal"]

DEFAULT_MAX_RECEIPTS: Final = 100_000
"""About how many receipts the stream keeps unless told otherwise."""

_RECORD: Final = """
local id = redis.call('INCR', KEYS[2])
redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], id .. '-0', 'r', ARGV[2])
return id
"""
_PAGE: Final = 200
_encode = msgspec.msgpack.Encoder().encode
_decode = msgspec.msgpack.Decoder(Receipt).decode


def _entry_id(raw: Any) -> int:
    text = raw.decode() if isinstance(raw, bytes) else str(raw)
    return int(text.partition("-")[0])


class RedisJournal(BaseJournal):
    """A receipt journal in one Redis stream, shared by every process of every host.

    Args:
        url_or_client: a ``redis://`` / ``rediss://`` URL, or a ``redis.Redis`` client you
            configured yourself.
        prefix: prepended to both keys; wrapped in ``{}`` when it holds no hash tag.
        max_receipts: about how many receipts the stream keeps (the oldest go first).
        retention: seconds a receipt is kept at most (:meth:`prune`); default a week.
        prune_every: records (per process) between two automatic prunes; 0 disables them.
        socket_timeout: seconds a URL-created client waits to connect or for a reply.
        clock: Unix seconds for ``retention`` and ``query(since=timedelta)``; default
            :func:`time.time`.

    No connection is made until the first call.

    Raises:
        ConfigurationError: the redis package is missing, the URL is invalid, ``prefix`` is
            empty, ``max_receipts`` is below 1, or a negative number.
    """

    def __init__(
        self,
        url_or_client: str | redis_lib.Redis,
        *,
        prefix: str = "cortexhooks:",
        max_receipts: int = DEFAULT_MAX_RECEIPTS,
        retention: float = DEFAULT_RETENTION,
        prune_every: int = 256,
        socket_timeout: float = DEFAULT_SOCKET_TIMEOUT,
        clock: Callable[[], float] | None = None,
    ) -> None:
        redis = import_redis("The Redis journal")
        if max_receipts < 1:
            raise ConfigurationError("max_receipts must be 1 or more.")
        if retention < 0 or prune_every < 0:
            raise ConfigurationError("retention and prune_every must not be negative.")
        self._errors: tuple[type[BaseException], ...] = (
            redis.RedisError,
            OSError,
            msgspec.DecodeError,
        )
        self.prefix = hash_tagged(prefix)
        self.stream = self.prefix + "journal"
        self._counter = self.prefix + "journal:id"
        self.max_receipts = max_receipts
        self.retention = float(retention)
        self.prune_every = prune_every
        self._clock: Callable[[], float] = time.time if clock is None else clock
        self._owns_client = isinstance(url_or_client, str)
        if isinstance(url_or_client, str):
            client = client_from_url(redis, url_or_client, socket_timeout, "the journal")
        else:
            client = url_or_client
        self.client: redis_lib.Redis = client
        self._record = client.register_script(_RECORD)
        self._records = 0

    def __repr__(self) -> str:
        return f"RedisJournal(prefix={self.prefix!r})"

    def _fail(self, exc: BaseException, action: str) -> JournalError:
        return JournalError(f"Redis journal failed to {action}: {type(exc).__name__}: {exc}")

    def record(self, receipt: Receipt) -> int:
        """Append ``receipt`` to the stream (one script, one round trip); return its new id.

        Raises:
            JournalError: Redis is unreachable, timed out or answered with an error.
        """
        try:
            receipt_id = int(
                self._record([self.stream, self._counter], [self.max_receipts, _encode(receipt)])
            )
        except self._errors as exc:
            raise self._fail(exc, "record a receipt") from exc
        self._records += 1
        if self.prune_every and self._records % self.prune_every == 0:
            self.prune()
        return receipt_id

    def _entries(self, raw: Any) -> list[Receipt]:
        receipts = []
        for entry_id, fields in raw:
            data = fields.get(b"r", fields.get("r"))
            receipt = _decode(data)
            receipts.append(msgspec.structs.replace(receipt, id=_entry_id(entry_id)))
        return receipts

    def _select(self, wanted: ReceiptFilter) -> list[Receipt]:
        # Newest first, a page at a time; stops at the first receipt received before `since`.
        lowest = "-" if wanted.since_id is None else f"{wanted.since_id + 1}-0"
        highest = "+"
        found: list[Receipt] = []
        try:
            while len(found) < wanted.limit:
                page = self._entries(self.client.xrevrange(self.stream, highest, lowest, _PAGE))
                for receipt in page:
                    if wanted.since is not None and receipt.received_at.timestamp() < wanted.since:
                        return found
                    if wanted.accepts(receipt):
                        found.append(receipt)
                        if len(found) == wanted.limit:
                            break
                if len(page) < _PAGE or page[-1].id <= 1:
                    break
                highest = f"{page[-1].id - 1}-0"
        except self._errors as exc:
            raise self._fail(exc, "query receipts") from exc
        return found

    def get(self, receipt_id: int) -> Receipt | None:
        """Return the receipt with this id, or ``None``.

        Raises:
            JournalError: Redis is unreachable, timed out or answered with an error.
        """
        entry = f"{receipt_id}-0"
        try:
            found = self._entries(self.client.xrange(self.stream, entry, entry))
        except self._errors as exc:
            raise self._fail(exc, "read a receipt") from exc
        return found[0] if found else None

    def prune(self) -> int:
        """Trim the receipts older than :attr:`retention` from the stream; return how many.

        Raises:
            JournalError: Redis is unreachable, timed out or answered with an error.
        """
        cutoff = self._clock() - self.retention
        lowest = "-"
        keep: int | None = None  # the oldest id to keep
        try:
            while keep is None:
                page = self._entries(self.client.xrange(self.stream, lowest, "+", _PAGE))
                if not page:
                    break
                keep = next((r.id for r in page if r.received_at.timestamp() >= cutoff), None)
                lowest = f"{page[-1].id + 1}-0"
            if keep is None:  # every receipt is expired (or there are none)
                keep = _entry_id(lowest) if lowest != "-" else 0
            if keep == 0:
                return 0
            return int(self.client.xtrim(self.stream, minid=f"{keep}-0", approximate=False))
        except self._errors as exc:
            raise self._fail(exc, "delete expired receipts") from exc

    def close(self) -> None:
        """Close the connections of a client this journal created (not one you passed in).

        Never raises.
        """
        if self._owns_client:
            with contextlib.suppress(*self._errors):
                self.client.close()

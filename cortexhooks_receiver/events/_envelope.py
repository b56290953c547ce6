"""The event envelope shared by every webhook: ``event``, ``timestamp``, ``data``, ids, raw body."""

from __future__ import annotations

import datetime as _dt
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, ClassVar, Generic, TypeVar

import msgspec

__all__ = ["MAX_TIMESTAMP_MS", "Event", "UnknownEvent", "exact_decimal"]

T = TypeVar("T")

MAX_TIMESTAMP_MS = 253_402_300_799_999
"""The largest accepted body ``timestamp``: 9999-12-31T23:59:59.999Z, in Unix milliseconds."""

TimestampMs = Annotated[int, msgspec.Meta(ge=0, le=MAX_TIMESTAMP_MS)]

_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)


def exact_decimal(text: str) -> Decimal:
    """The float hook of every plain-JSON decoder: a number with a fraction or an exponent
    becomes an exact :class:`~decimal.Decimal`, like the models' money fields (1e400 cannot fail).

    Raises:
        ValueError: the exponent is beyond what a Decimal holds (``1e1000000000000000000``);
            msgspec turns it into its ``ValidationError`` naming the field.
    """
    try:
        return Decimal(text)
    except InvalidOperation:
        raise ValueError("Number out of range") from None


# Plain-JSON decoding (``Event.json()``, ``UnknownEvent.data``).
_PLAIN_DECODER = msgspec.json.Decoder(dict[str, Any], float_hook=exact_decimal)

# JSON names of the receiver-filled fields. msgspec needs a JSON name for every field; these are
# names the platform never sends, and decode_event overwrites (raw) or resets (ids) the values
# after decoding anyway, so a body can never choose them.
_RAW_KEY = "__cortexhooks_raw__"
_DELIVERY_KEY = "__cortexhooks_delivery_id__"
_WEBHOOK_KEY = "__cortexhooks_webhook_id__"
_ATTEMPT_KEY = "__cortexhooks_attempt__"


class Event(msgspec.Struct, Generic[T], frozen=True, kw_only=True, rename="camel"):
    """One webhook delivery's payload, decoded: the envelope around a typed ``data`` object.

    Concrete events (``InvoicePaid``, ``TaskCompleted``...) subclass ``Event[Model]`` and are
    tagged by the JSON ``event`` field; events this version does not know decode to
    :class:`UnknownEvent`. Instances are frozen.

    Attributes:
        event: the event name, e.g. ``"invoice.paid"``.
        timestamp: the signed body ``timestamp``, Unix milliseconds.
        data: the event's object (a model from :mod:`cortexhooks_receiver.events`).
        company_id: the ``companyId`` of the company that triggered the event, if sent.
        user_id: the ``userId`` of the user that triggered the event, if sent.
        delivery_id: the ``X-CortexBuild-Delivery-Id`` header, filled in by the receiver after
            decoding (with :func:`msgspec.structs.force_setattr`); ``None`` when absent or when
            the event was decoded outside a receiver. Never read from the body.
        webhook_id: the ``X-CortexBuild-Webhook-Id`` header, filled in like ``delivery_id``.
        attempt: which try at the handlers this is, from 1: always 1 inline; in background mode
            the worker fills it in (like ``delivery_id``) with the job's attempt, so a handler
            can tell a retry from the first run. Never read from the body.
        raw: the exact body bytes the event was decoded from (set by ``decode_event``, never
            read from the JSON), for fields the models do not know yet: see :meth:`json`.
    """

    event: ClassVar[str]
    # A class attribute set by each generated event class (its tag), so reading it costs no more
    # than a field; UnknownEvent declares it as a real field instead.

    timestamp: TimestampMs
    data: T
    company_id: str | None = None
    user_id: str | None = None
    delivery_id: str | None = msgspec.field(default=None, name=_DELIVERY_KEY)
    webhook_id: str | None = msgspec.field(default=None, name=_WEBHOOK_KEY)
    attempt: int = msgspec.field(default=1, name=_ATTEMPT_KEY)
    raw: bytes = msgspec.field(default=b"", name=_RAW_KEY)

    @property
    def occurred_at(self) -> _dt.datetime:
        """The body ``timestamp`` as an aware UTC :class:`~datetime.datetime` (never raises)."""
        return _EPOCH + _dt.timedelta(milliseconds=self.timestamp)

    def json(self) -> dict[str, Any]:
        """Decode :attr:`raw` into plain Python objects: the whole body, unknown fields included.

        Objects become dicts (camelCase keys, as sent), integers ``int`` and numbers with a
        fraction or an exponent exact :class:`~decimal.Decimal` (like the models' money fields).
        Each call decodes again: keep the result if you need it twice.

        Raises:
            ValueError: the event holds no raw body (it was built by hand, not decoded), or a
                number's exponent is beyond what a Decimal holds.
        """
        if not self.raw:
            raise ValueError("this event was not decoded from a body, so it has no raw JSON")
        result: dict[str, Any] = _PLAIN_DECODER.decode(self.raw)
        return result


class UnknownEvent(Event[dict[str, Any]], frozen=True):
    """An event whose name this version of the library does not know (forward compatibility).

    ``data`` is the plain decoded JSON object (numbers with a fraction or an exponent as exact
    :class:`~decimal.Decimal`, as in :meth:`Event.json`). Unknown events are dispatched to catch-all
    (``"*"``) and matching family wildcard (``"invoice.*"``) handlers, and are never an error.
    """

    event: str  # type: ignore[misc]  # a real field here: the name is not a class attribute

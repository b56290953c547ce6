"""``decode_event``: verified body bytes -> typed event, in one msgspec pass.

The hot path is one call of a module-level ``msgspec.json.Decoder`` over the tagged union of every
catalog event class. Everything else (unknown event names, error messages) happens in the
``except`` path, which a valid delivery of a known event never enters.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Final

import msgspec
from msgspec.structs import force_setattr

from cortexhooks_receiver.errors import InvalidPayload

from ._classes import AnyEvent, AnyKnownEvent
from ._envelope import UnknownEvent, exact_decimal
from .catalog import CATALOG

__all__ = ["decode_event", "typed_decoder"]

_DECODE_ERRORS: Final = (msgspec.MsgspecError, ValueError, RecursionError)


def _first_decode(body: bytes | bytearray | memoryview) -> AnyEvent:
    # Building the decoder analyses all 31 event types (milliseconds): done on the first
    # delivery rather than at import, after which ``_decode`` is the decoder's own method.
    global _decode
    _decode = msgspec.json.Decoder(AnyKnownEvent).decode
    event: AnyEvent = _decode(body)
    return event


_decode: Callable[[bytes | bytearray | memoryview], AnyEvent] = _first_decode
_unknown_decoder: msgspec.json.Decoder[UnknownEvent] | None = None


def typed_decoder() -> Callable[[bytes | bytearray | memoryview], AnyEvent]:
    """The typed decoder's own ``decode`` (built now if no delivery has built it yet).

    It decodes a known event and raises for anything else; :func:`decode_event` adds the rest
    (``raw``, the reset of the receiver's fields, unknown names, the error). For the receiver's
    straight path, which does that rest itself. Never raises.
    """
    global _decode
    if _decode is _first_decode:
        _decode = msgspec.json.Decoder(AnyKnownEvent).decode
    return _decode


def decode_event(body: bytes | bytearray | memoryview) -> AnyEvent:
    """Decode a webhook body into its typed event (``InvoicePaid``, ``TaskCompleted``...).

    The body must be a UTF-8 JSON object with ``event`` (string), ``timestamp`` (integer Unix
    milliseconds) and ``data`` (object). Unknown fields are ignored; an event name this version
    does not know decodes to :class:`UnknownEvent` (never an error). The returned event's ``raw``
    is the body (as ``bytes``); ``delivery_id`` and ``webhook_id`` are ``None`` (the receiver
    fills them from the headers) and ``attempt`` is 1 (a worker sets the job's attempt).

    Raises:
        InvalidPayload: for anything else (not UTF-8, a byte order mark, not JSON, not an object,
            a missing or mistyped field, a naive date-time, a non-finite amount, nesting too
            deep...). The message names the field path, e.g. ``data.amount: expected a decimal
            number``, and never repeats a value from the body. No other exception escapes.
    """
    try:
        event: AnyEvent = _decode(body)
    except _DECODE_ERRORS as exc:
        return _decode_cold(body, exc)
    force_setattr(event, "raw", body if type(body) is bytes else bytes(body))
    if event.delivery_id is not None or event.webhook_id is not None or event.attempt != 1:
        _reset_ids(event)
    return event


def _reset_ids(event: AnyEvent) -> None:
    # The receiver, not the body, decides these; a body that names the internal keys loses them.
    force_setattr(event, "delivery_id", None)
    force_setattr(event, "webhook_id", None)
    force_setattr(event, "attempt", 1)


def _decode_cold(body: bytes | bytearray | memoryview, first: Exception) -> AnyEvent:
    """Handle what the tagged decoder refused: an unknown event name, or an invalid body."""
    global _unknown_decoder
    if _unknown_decoder is None:
        _unknown_decoder = msgspec.json.Decoder(UnknownEvent, float_hook=exact_decimal)
    try:
        event = _unknown_decoder.decode(body)
    except _DECODE_ERRORS as exc:
        raise _invalid(exc, body) from None
    if event.event in CATALOG:
        # A known event whose data does not match its model: report the typed decoder's error.
        raise _invalid(first, body) from None
    force_setattr(event, "raw", bytes(body))
    if event.delivery_id is not None or event.webhook_id is not None or event.attempt != 1:
        _reset_ids(event)
    return event


_PATH = re.compile(r" - at `\$(?P<path>[^`]*)`$")
_EXPECTED = re.compile(r"^Expected `(?P<types>[^`]+)`(?:, got `(?P<got>[^`]+)`)?(?P<rest>.*)$")
_MISSING = re.compile(r"^Object missing required field `(?P<field>[^`]+)`$")
_TYPE_WORDS: Final = {
    "str": "a string",
    "int": "an integer",
    "float": "a number",
    "decimal": "a decimal number",
    "datetime": "an RFC 3339 date-time",
    "date": "a date (YYYY-MM-DD)",
    "object": "an object",
    "array": "an array",
    "bool": "a boolean",
    "bytes": "base64 text",
}
_GOT_WORDS: Final = {**_TYPE_WORDS, "null": "null"}


def _describe(message: str) -> str:
    """Turn one msgspec error message (path removed) into safe words (no body values)."""
    if match := _MISSING.match(message):
        return f"{match['field']}: required field is missing"
    if match := _EXPECTED.match(message):
        types = [t for t in match["types"].split(" | ") if t != "null"]
        words = " or ".join(_TYPE_WORDS.get(t, t) for t in types) or "null"
        rest = match["rest"]
        if rest.startswith(" with a timezone component"):
            words += " with a timezone offset (e.g. 2025-11-09T14:30:00Z)"
        elif rest.strip().startswith((">", "<")):
            words += " " + rest.strip()
        if match["got"]:
            words += f", got {_GOT_WORDS.get(match['got'], match['got'])}"
        return "expected " + words
    if message.startswith("Invalid RFC3339 encoded datetime"):
        return "expected an RFC 3339 date-time (e.g. 2025-11-09T14:30:00Z)"
    if message.startswith("Invalid RFC3339 encoded date"):
        return "expected a date (YYYY-MM-DD)"
    if message.startswith("Number out of range"):
        return "number out of range"
    if message.startswith("Invalid value"):
        return "value not allowed"
    if message.startswith("@"):  # raised by a model's __post_init__: "@field: problem"
        return message[1:]
    return "invalid value"


def _is_utf8_error(exc: Exception) -> bool:
    # msgspec up to 0.22 raises UnicodeDecodeError for invalid UTF-8; 0.23 raises
    # DecodeError("Invalid UTF-8 encoded string").
    return isinstance(exc, UnicodeDecodeError) or (
        isinstance(exc, msgspec.DecodeError) and "UTF-8" in str(exc)
    )


def _invalid(exc: Exception, body: bytes | bytearray | memoryview) -> InvalidPayload:
    """Build the ``InvalidPayload`` for a decoding failure, with a field path and a hint."""
    if isinstance(exc, RecursionError):
        return InvalidPayload("The body's JSON is nested too deeply.")
    if _is_utf8_error(exc):
        return InvalidPayload("The body is not valid UTF-8.")
    if not isinstance(exc, msgspec.ValidationError):
        hint = None
        if bytes(body[:3]) == b"\xef\xbb\xbf":
            hint = "The body starts with a UTF-8 byte order mark, which JSON does not allow."
        elif not body:
            hint = "The body is empty."
        return InvalidPayload("The body is not valid JSON.", hint=hint)
    message = str(exc)
    path = ""
    if match := _PATH.search(message):
        path = match["path"].lstrip(".")
        message = message[: match.start()]
    detail = _describe(message)
    if detail.startswith(("expected", "number", "value", "invalid")) and not path:
        return InvalidPayload(f"The body must be a JSON object: {detail}.")
    if path and ":" in detail.split(" ")[0]:  # "field: ..." relative to the path
        detail = f"{path}.{detail}"
    elif path:
        detail = f"{path}: {detail}"
    return InvalidPayload(f"Invalid payload: {detail}.")

"""Encode Python values exactly as JavaScript's ``JSON.stringify`` encodes the same value.

CortexBuild is a Node.js service: it signs ``JSON.stringify(payload)``. A Python sender that wants
receivers to see the very same bytes must reproduce that encoding, which differs from
:func:`json.dumps` in several places:

* compact separators, raw UTF-8 (no ``\\uXXXX`` for non-ASCII text);
* numbers follow ``Number.prototype.toString``: ``100.0`` is ``100``, ``1e21`` is ``1e+21``,
  ``1e-7`` is ``1e-7``, ``-0.0`` is ``0``; ``NaN`` and the infinities become ``null``;
* integers beyond ±2**53 are not representable in JavaScript: they are encoded as the double
  JavaScript would hold (``2**53 + 1`` is ``9007199254740992``);
* strings escape only ``"``, ``\\`` and control characters (``\\b \\f \\n \\r \\t``, others as
  lower-case ``\\u00xx``); a lone surrogate becomes ``\\udxxx`` (well-formed ``JSON.stringify``);
  a surrogate *pair* spelled as two code points is joined into one character, as in JavaScript;
* object keys that are array indices (``"0"`` ... ``"4294967294"``) come first, in ascending
  numeric order, then the other keys in insertion order: JavaScript's own property order;
* :class:`~decimal.Decimal` is a number (the double nearest to it, as a JavaScript sender would
  hold the amount); an aware :class:`~datetime.datetime` is ``Date.prototype.toJSON`` text
  (``"2025-11-09T14:30:00.000Z"``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Final

__all__ = ["dumps", "format_number"]

_MAX_SAFE: Final = 2**53
_MAX_INDEX: Final = 2**32 - 2
_ESCAPE: Final = re.compile(r'[\x00-\x1f"\\\ud800-\udfff]')
_SURROGATE: Final = re.compile(r"[\ud800-\udfff]")
_SHORT: Final = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
}
_INDEX_KEY: Final = re.compile(r"0|[1-9][0-9]{0,9}")


def format_number(value: float | int | Decimal) -> str:
    """Return ``value`` as ``Number.prototype.toString`` writes it; ``null`` when not finite.

    Raises:
        TypeError: ``value`` is not a number.
    """
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise TypeError(f"not a number: {type(value).__name__}")
    if isinstance(value, int) and -_MAX_SAFE <= value <= _MAX_SAFE:
        return str(value)
    try:
        number = float(value)
    except OverflowError:
        return "null"  # an integer beyond the double range is Infinity in JavaScript
    if not math.isfinite(number):
        return "null"
    if number == 0:
        return "0"
    return _js_float(number)


def _js_float(number: float) -> str:
    # repr() gives the shortest round-trip digits, as JavaScript does; only the layout differs.
    sign = "-" if number < 0 else ""
    text = repr(abs(number))
    mantissa, _, exp_text = text.partition("e")
    exponent = int(exp_text) if exp_text else 0
    whole, _, fraction = mantissa.partition(".")
    if fraction == "0":
        fraction = ""
    digits = (whole + fraction).lstrip("0")
    # value = 0.digits * 10**n (ECMA-262 Number::toString notation: k digits, exponent n)
    n = len(whole) + exponent if whole != "0" else exponent - (len(fraction) - len(digits))
    digits = digits.rstrip("0") or "0"
    k = len(digits)
    if k <= n <= 21:
        body = digits + "0" * (n - k)
    elif 0 < n <= 21:
        body = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        body = "0." + "0" * (-n) + digits
    else:
        e = n - 1
        exp = f"e+{e}" if e >= 0 else f"e-{-e}"
        body = (digits[0] + "." + digits[1:] if k > 1 else digits) + exp
    return sign + body


def _escape_char(match: re.Match[str]) -> str:
    char = match.group()
    short = _SHORT.get(char)
    return short if short is not None else f"\\u{ord(char):04x}"


def _string(value: str) -> str:
    if _SURROGATE.search(value) is not None:
        # Join surrogate pairs written as two code points; lone surrogates survive and get escaped.
        value = value.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")
    return '"' + _ESCAPE.sub(_escape_char, value) + '"'


def _key(key: object) -> str:
    if isinstance(key, str):
        return key
    if isinstance(key, int | float | Decimal) and not isinstance(key, bool):
        text = format_number(key)
        if text == "null":  # String(NaN) / String(Infinity) as JavaScript spells them
            number = float(key) if not isinstance(key, int) else math.copysign(math.inf, key)
            return "NaN" if math.isnan(number) else ("Infinity" if number > 0 else "-Infinity")
        return text
    raise TypeError(f"object keys must be str or numbers, not {type(key).__name__}")


def _ordered_items(mapping: Mapping[Any, Any]) -> list[tuple[str, Any]]:
    merged: dict[str, Any] = {}
    for key, item in mapping.items():
        merged[_key(key)] = item
    indices = [k for k in merged if _INDEX_KEY.fullmatch(k) and int(k) <= _MAX_INDEX]
    if not indices:
        return list(merged.items())
    index_set = set(indices)
    ordered = sorted(indices, key=int)
    ordered.extend(k for k in merged if k not in index_set)
    return [(k, merged[k]) for k in ordered]


def _date(value: datetime) -> str:
    if value.tzinfo is None:
        raise TypeError("naive datetime: pass an aware datetime (JavaScript Dates are UTC)")
    utc = value.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


class _Encoder:
    __slots__ = ("parts", "stack")

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.stack: set[int] = set()

    def encode(self, value: Any) -> None:
        parts = self.parts
        if isinstance(value, str):
            parts.append(_string(value))
        elif value is None:
            parts.append("null")
        elif value is True:
            parts.append("true")
        elif value is False:
            parts.append("false")
        elif isinstance(value, int | float | Decimal):
            parts.append(format_number(value))
        elif isinstance(value, Mapping):
            self._container(value, self._object)
        elif isinstance(value, list | tuple):
            self._container(value, self._array)
        elif isinstance(value, datetime):
            parts.append(_string(_date(value)))
        else:
            raise TypeError(f"{type(value).__name__} is not JSON serialisable")

    def _container(self, value: Any, emit: Callable[[Any], None]) -> None:
        marker = id(value)
        if marker in self.stack:
            raise ValueError("circular reference: JSON.stringify cannot encode it either")
        self.stack.add(marker)
        emit(value)
        self.stack.discard(marker)

    def _object(self, value: Mapping[Any, Any]) -> None:
        parts = self.parts
        parts.append("{")
        first = True
        for key, item in _ordered_items(value):
            if not first:
                parts.append(",")
            first = False
            parts.append(_string(key))
            parts.append(":")
            self.encode(item)
        parts.append("}")

    def _array(self, value: list[Any] | tuple[Any, ...]) -> None:
        parts = self.parts
        parts.append("[")
        for position, item in enumerate(value):
            if position:
                parts.append(",")
            self.encode(item)
        parts.append("]")


def dumps(value: Any) -> bytes:
    """Return ``JSON.stringify(value)`` as UTF-8 bytes (compact, JavaScript number/string rules).

    Accepted: ``None``, ``bool``, ``int``, ``float``, :class:`~decimal.Decimal`, ``str``,
    mappings (keys ``str`` or numbers), lists and tuples, aware :class:`~datetime.datetime`.

    Raises:
        TypeError: a value of another type, a naive datetime or a non-string, non-number key.
        ValueError: a container contains itself.
    """
    encoder = _Encoder()
    encoder.encode(value)
    return "".join(encoder.parts).encode("utf-8")

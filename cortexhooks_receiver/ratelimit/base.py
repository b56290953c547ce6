"""The rate limiter's vocabulary: :class:`Rate`, its parsing, the :class:`Buckets` protocol."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Final, NamedTuple, Protocol, runtime_checkable

from cortexhooks_receiver.errors import ConfigurationError

__all__ = ["Buckets", "Rate", "parse_rate", "retry_after"]

_RATE: Final = re.compile(
    r"^\s*(\d+)\s*/\s*(\d+(?:\.\d+)?)?\s*(s|sec|second|m|min|minute|h|hr|hour)s?\s*$",
    re.IGNORECASE,
)
_UNITS: Final = {"s": 1.0, "m": 60.0, "h": 3600.0}


class Rate(NamedTuple):
    """A token bucket's shape: ``capacity`` tokens (the burst), refilled at ``per_second``."""

    capacity: float
    per_second: float

    def __str__(self) -> str:
        return f"{self.capacity:g} per {self.capacity / self.per_second:g}s"


def parse_rate(text: str | Rate) -> Rate:
    """Return the :class:`Rate` that ``"200/s"``, ``"100/min"``, ``"10/5s"``... describes.

    Raises:
        ConfigurationError: not ``"<whole number>/<period>"`` with a period in s, m(in) or h(our),
            or a zero number or period.
    """
    if isinstance(text, Rate):
        return text
    found = _RATE.match(text) if isinstance(text, str) else None
    if found is None:
        raise ConfigurationError(
            f"A rate limit is written like '200/s', '3000/min' or '10/5s', not {text!r}."
        )
    count, multiple, unit = found.groups()
    period = float(multiple or 1) * _UNITS[unit[0].lower()]
    if int(count) < 1 or period <= 0:
        raise ConfigurationError(f"A rate limit must allow at least one request, not {text!r}.")
    return Rate(float(count), int(count) / period)


@runtime_checkable
class Buckets(Protocol):
    """The counter protocol behind a rate limiter: named token buckets, taken from atomically."""

    def take(self, buckets: Sequence[tuple[str, Rate]]) -> float:
        """Take one token from every named bucket if each holds one, else take none.

        Returns 0.0 when taken, else the seconds until every bucket holds a token again.

        Raises:
            Exception: the backend failed (the receiver then lets the request through).
        """

    async def atake(self, buckets: Sequence[tuple[str, Rate]]) -> float:
        """Coroutine form of :meth:`take`."""

    def close(self) -> None:
        """Release the backend's connections. Never raises."""


def retry_after(wait: float) -> int:
    """``Retry-After`` for a wait of ``wait`` seconds: 0 for none, else whole seconds >= 1."""
    return 0 if wait <= 0 else max(1, math.ceil(wait))

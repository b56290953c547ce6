"""What the tests of the receiver's options share: a settable clock and a store that counts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from cortexhooks_receiver.stores import ClaimState, MemoryStore

NOW_MS: Final = 1_767_225_600_000  # 2026-01-01T00:00:00Z


class Clock:
    """A settable clock (Unix seconds) for receivers and stores."""

    def __init__(self, now: float = NOW_MS / 1000) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class SpyStore(MemoryStore):
    """A memory store that counts its claims."""

    def __init__(self) -> None:
        super().__init__()
        self.claims = 0

    def claim(self, keys: Sequence[str], lease: float, token: str) -> ClaimState:
        self.claims += 1
        return super().claim(keys, lease, token)

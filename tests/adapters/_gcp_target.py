"""The Cloud Function the Functions Framework app of the adapter tests calls (set per test)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

function: Callable[[Any], Any] | None = None

"""The emulator's error, under the package root (see :mod:`cortexhooks_receiver.errors`).

Its own module, so that the API (:mod:`.app`) and the behaviour (:mod:`.core`) both raise it
without importing each other.
"""

from __future__ import annotations

from cortexhooks_receiver.errors import CortexHooksError

__all__ = ["EmulatorError"]


class EmulatorError(CortexHooksError):
    """A refused API call: ``status`` (4xx), a stable ``code`` and a safe ``message``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        self.status = status
        self.code = code
        self.message = message
        super().__init__(message)

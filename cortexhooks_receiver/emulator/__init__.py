"""A local CortexBuild emulator: the webhook management API, event emission and real deliveries.

``cortexhooks serve`` runs it; in tests build an :class:`Emulator` with an injected clock and a
WSGI transport and call :attr:`Emulator.app` through ``httpx.WSGITransport``. See ``docs/cli.md``.
"""

from cortexhooks_receiver.routing import matches as subscribed  # the receiver's own matcher

from .app import EmulatorApp
from .core import TEST_EVENT, Emulator
from .dispatcher import Dispatcher
from .errors import EmulatorError
from .ids import new_secret, new_webhook_id
from .store import EmulatorDB

__all__ = [
    "TEST_EVENT",
    "Dispatcher",
    "Emulator",
    "EmulatorApp",
    "EmulatorDB",
    "EmulatorError",
    "new_secret",
    "new_webhook_id",
    "subscribed",
]

"""Handlers of this app, autodiscovered by cortexhooks_receiver.integrations.django at start-up."""

from __future__ import annotations

import os
from typing import Any

import cortexhooks_receiver as ch

_LOG = os.environ.get("CORTEXHOOKS_HANDLED_LOG")


@ch.on("*")
def record(event: Any) -> None:
    """Append one line per handled delivery."""
    if _LOG:
        line = f"{os.getpid()} {event.event} {event.delivery_id}\n".encode()
        fd = os.open(_LOG, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)

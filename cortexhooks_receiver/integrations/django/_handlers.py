"""Whether any webhook handler is registered, and what check W003 says when none is."""

from __future__ import annotations

from typing import Final

from cortexhooks_receiver.routing import Router

__all__ = ["HANDLER_MODULE", "NO_HANDLER_HINT", "NO_HANDLER_MESSAGE", "has_handlers"]

HANDLER_MODULE: Final = "webhooks"
"""The module each installed app may define its handlers in (imported at start-up)."""

NO_HANDLER_MESSAGE: Final = (
    "No CortexBuild webhook handler is registered: deliveries are acknowledged (200) and "
    "deduplicated, but no handler runs, so their events are lost."
)
NO_HANDLER_HINT: Final = (
    "Register handlers with cortexhooks_receiver.on in a webhooks.py module of an app, and add "
    "that app to INSTALLED_APPS: only installed apps' webhooks.py modules are imported."
)


def has_handlers(*routers: Router) -> bool:
    """Return whether any of ``routers`` (or a router they include) has a handler. Never raises."""
    return any(router.handler_count() for router in routers)

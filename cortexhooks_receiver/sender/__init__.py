"""The reference sender: deliver webhooks exactly as CortexBuild does (bodies, headers, retries).

Needs the ``sender`` extra for real HTTP (``pip install cortexhooks-receiver[sender]``); httpx is
imported only when a transport is created. See ``docs/sender.md``.
"""

from cortexhooks_receiver.signature import new_delivery_id

from .errors import DeliveryStateError, NoResponseError, SenderError, UnsafeURLError
from .jsonjs import dumps as js_dumps
from .schedule import DEFAULT_TIMEOUT, DISABLE_AFTER, RETRY_SCHEDULE, VirtualClock
from .sender import (
    USER_AGENT,
    Attempt,
    AttemptOutcome,
    Delivery,
    DeliveryLog,
    Endpoint,
    HealthTracker,
    MemoryHealth,
    Sender,
    build_payload,
)
from .states import DeliveryState
from .transports import (
    ASGIAppTransport,
    HTTPTransport,
    Response,
    Transport,
    WSGIAppTransport,
)
from .urlpolicy import Target, URLPolicy, system_resolver

__all__ = [
    "DEFAULT_TIMEOUT",
    "DISABLE_AFTER",
    "RETRY_SCHEDULE",
    "USER_AGENT",
    "ASGIAppTransport",
    "Attempt",
    "AttemptOutcome",
    "Delivery",
    "DeliveryLog",
    "DeliveryState",
    "DeliveryStateError",
    "Endpoint",
    "HTTPTransport",
    "HealthTracker",
    "MemoryHealth",
    "NoResponseError",
    "Response",
    "Sender",
    "SenderError",
    "Target",
    "Transport",
    "URLPolicy",
    "UnsafeURLError",
    "VirtualClock",
    "WSGIAppTransport",
    "build_payload",
    "js_dumps",
    "new_delivery_id",
    "system_resolver",
]

"""The pytest plugin (registered automatically through the ``pytest11`` entry point).

Fixtures:

* ``cortexhooks_secret``: a throwaway ``whsec_`` secret for the test.
* ``cortexhooks``: a :class:`WebhookTester` that builds realistic signed deliveries of any event.
* ``cortexhooks_receiver``: a :class:`~cortexhooks_receiver.Receiver` on the memory store with its
  own router, keyed with ``cortexhooks_secret``.

It imports no web framework (and not even the package) until a fixture is used, so installing the
package never slows down or breaks an unrelated test suite.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from cortexhooks_receiver import Outcome, Receiver

__all__ = ["WebhookTester", "cortexhooks", "cortexhooks_receiver", "cortexhooks_secret"]


class WebhookTester:
    """Builds signed CortexBuild deliveries for tests, exactly as the platform sends them."""

    def __init__(self, secret: str) -> None:
        self.secret = secret

    def body(self, event: str, **overrides: Any) -> bytes:
        """Return a realistic JSON body for ``event`` (dotted ``overrides`` like ``data__amount``).

        Raises:
            KeyError: ``event`` is not in the catalog.
        """
        from cortexhooks_receiver.testing.factories import make_body

        return make_body(event, **overrides)

    def headers(
        self,
        body: bytes,
        *,
        timestamp: int | None = None,
        delivery_id: str | None = None,
        event: str | None = None,
        secret: str | None = None,
    ) -> dict[str, str]:
        """Return the headers CortexBuild would send with ``body`` (see ``ch.sign``).

        Raises:
            ConfigurationError: an empty secret.
        """
        from cortexhooks_receiver import sign

        return sign(
            body,
            secret or self.secret,
            timestamp=timestamp,
            event=event,
            delivery_id=delivery_id,
            webhook_id="webhook-test",
        )

    def request(self, event: str, **overrides: Any) -> tuple[bytes, dict[str, str]]:
        """Return ``(body, headers)`` of a signed delivery of ``event``.

        Raises:
            KeyError: ``event`` is not in the catalog.
        """
        body = self.body(event, **overrides)
        return body, self.headers(body, event=event)

    def deliver(
        self,
        receiver: Receiver,
        event: str,
        *,
        headers: Mapping[str, str] | None = None,
        **overrides: Any,
    ) -> Outcome:
        """Sign a delivery of ``event`` and run it through ``receiver.handle``; return the outcome.

        ``headers`` replace or add to the signed headers (to test refusals).

        Raises:
            KeyError: ``event`` is not in the catalog.
        """
        body, signed = self.request(event, **overrides)
        return receiver.handle(body, {**signed, **(headers or {})})


@pytest.fixture
def cortexhooks_secret() -> str:
    """A fresh random webhook secret."""
    return "whsec_" + secrets.token_urlsafe(24)


@pytest.fixture
def cortexhooks(cortexhooks_secret: str) -> WebhookTester:
    """A :class:`WebhookTester` signing with ``cortexhooks_secret``."""
    return WebhookTester(cortexhooks_secret)


@pytest.fixture
def cortexhooks_receiver(cortexhooks_secret: str) -> Receiver:
    """A Receiver on the memory store with its own router, keyed with ``cortexhooks_secret``."""
    from cortexhooks_receiver import Receiver, Router

    return Receiver(cortexhooks_secret, store="memory://", router=Router())

"""Google Cloud Functions: ``cloud_function(receiver)`` returns an HTTP function for the
Functions Framework (Cloud Run functions, 1st and 2nd gen).

::

    import cortexhooks_receiver as ch
    from cortexhooks_receiver.integrations.gcp import cloud_function

    receiver = ch.Receiver(store="redis://...")
    handler = cloud_function(receiver)   # deploy with --entry-point handler

The Functions Framework serves the function at every path of its URL with every method, and
hands it a Flask request; the function reads the raw body as the Flask extension does (never
more than ``max_body_bytes + 1`` bytes of a chunked body; ``Content-Length`` above the cap is
answered 413 without reading), calls :meth:`Receiver.handle` with the peer address
(``REMOTE_ADDR``) and answers the :class:`~cortexhooks_receiver.receiver.Outcome`. The platform
itself caps a request at 32 MB, and the Functions Framework reads what is left of a request after
the function answered (its ``read_request`` hook): bytes past the cap are discarded there.

Importing this module does not import Flask: ``cloud_function`` imports it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from cortexhooks_receiver.receiver import Receiver

from ._common import require
from .flask import flask_outcome

if TYPE_CHECKING:
    from flask import Request, Response

__all__ = ["cloud_function"]


def cloud_function(receiver: Receiver) -> Callable[[Request], Response]:
    """Return an HTTP Cloud Function (``function(request) -> response``) serving webhooks.

    Raises:
        ImportError: Flask is not installed (``pip install 'cortexhooks-receiver[gcp]'``, which
            installs the Functions Framework and Flask).
        Nothing at request time: every failure is a JSON answer.
    """
    require("flask", "gcp")
    from flask import Response

    def webhook(request: Request) -> Response:
        outcome = flask_outcome(receiver, request)
        return Response(outcome.body, outcome.status, list(outcome.headers))

    return webhook

"""AWS Lambda: ``lambda_handler(receiver)`` returns the handler for HTTP events of every source.

::

    import cortexhooks_receiver as ch
    from cortexhooks_receiver.integrations.aws_lambda import lambda_handler

    receiver = ch.Receiver(store="redis://...")   # or sqlite:// on a mounted EFS path
    handler = lambda_handler(receiver)            # the function's handler: app.handler

One handler answers the four event sources, told apart by the event itself:

=================================  =========================  ===============================
source                             the request's headers      the client address
=================================  =========================  ===============================
API Gateway REST API (payload 1.0;  ``multiValueHeaders``      ``requestContext.identity
also HTTP APIs set to 1.0)                                     .sourceIp``
API Gateway HTTP API (payload 2.0)  ``headers`` (AWS joins a   ``requestContext.http
                                    repeated header with ",")  .sourceIp``
Lambda function URL (payload 2.0)   as the HTTP API            as the HTTP API
Application Load Balancer           ``multiValueHeaders`` when  none (see below)
                                    the target group has them,
                                    else ``headers``
=================================  =========================  ===============================

A header sent twice is therefore seen with both values, joined, and the signature format check
refuses it (never "first wins" nor "last wins", which ``headers`` of payload 1.0 and ALB events
would give). A base64-encoded body (``isBase64Encoded``) is decoded; text bodies are the UTF-8
bytes of the event's string. The body cap applies as in every adapter (``Content-Length`` above
``max_body_bytes`` is refused before the body is decoded; an encoded body too long to fit is
refused without decoding). The answer has the shape the source expects: ``statusCode``,
``headers``, ``body`` and ``isBase64Encoded``; for the ALB also ``statusDescription``, and
``multiValueHeaders`` instead of ``headers`` when the request came with them.

The client address passed to the receiver (``client=``, for rate limiting) is the source IP that
API Gateway and function URLs report. An ALB event carries the client only in the
``X-Forwarded-For`` header, which this adapter never reads (any sender can write it): ALB
requests are passed with no client address.

The handler is synchronous (Lambda's Python runtime calls it so); async handlers registered on the
receiver are awaited by :meth:`Receiver.handle`. Importing this module imports nothing beyond the
standard library. To try a handler before deploying it, serve it locally with
``python -m cortexhooks_receiver.integrations.aws_lambda app:handler --port 8000``: each HTTP
request becomes the payload 2.0 event a function URL would send (see :mod:`._lambda_local`).
"""

from __future__ import annotations

import binascii
from collections.abc import Callable, Mapping
from typing import Any, Final

from cortexhooks_receiver._headers import HeaderView
from cortexhooks_receiver._http import status_line
from cortexhooks_receiver.errors import ConfigurationError, InvalidPayload, PayloadTooLarge
from cortexhooks_receiver.receiver import Outcome, Receiver

from ._common import lowercase_headers, serve

__all__ = ["LambdaHandler", "lambda_handler"]

LambdaHandler = Callable[[Mapping[str, Any], Any], dict[str, Any]]
"""``handler(event, context) -> response``: what Lambda's Python runtime calls."""

_REST: Final = "rest"
_HTTP: Final = "http"
_ALB: Final = "alb"
_ALB_MULTI: Final = "alb-multi-value"


def lambda_handler(receiver: Receiver) -> LambdaHandler:
    """Return a Lambda handler answering webhook requests of every HTTP event source.

    The handler returns the response dict of the source the event came from (see the module
    docs) and never raises for any request, signed or not.

    Raises:
        ConfigurationError: (from the handler) the event is not an HTTP request of API Gateway, a
            function URL or an ALB (the function is wired to another trigger); the message names
            the sources it understands and nothing of the event.
    """

    def handler(event: Mapping[str, Any], context: Any = None) -> dict[str, Any]:
        source, method, headers, client = _request(event)
        cap = receiver.max_body_bytes

        def read(length: int | None) -> bytes:
            return _body(event, cap)

        outcome = serve(receiver, method, headers, headers.get("content-length"), read, client)
        return _response(source, outcome)

    return handler


def _request(event: Mapping[str, Any]) -> tuple[str, str, HeaderView, str | None]:
    # (source, method, headers, client) of an HTTP event, told apart by its own fields.
    if not isinstance(event, Mapping):
        raise _not_http()
    context = event.get("requestContext")
    if not isinstance(context, Mapping):
        context = {}
    if event.get("version") == "2.0":
        http = context.get("http")
        if not isinstance(http, Mapping):
            raise _not_http()
        source, method, client = _HTTP, http.get("method"), http.get("sourceIp")
        raw_headers = event.get("headers")
    else:
        method = event.get("httpMethod")
        raw_headers = event.get("multiValueHeaders")
        multi = raw_headers is not None
        if not multi:
            raw_headers = event.get("headers")
        if "elb" in context:
            source, client = (_ALB_MULTI if multi else _ALB), None
        else:
            identity = context.get("identity")
            source = _REST
            client = identity.get("sourceIp") if isinstance(identity, Mapping) else None
    if not isinstance(method, str):
        raise _not_http()
    view = lowercase_headers(raw_headers) if isinstance(raw_headers, Mapping) else HeaderView()
    return source, method, view, client if isinstance(client, str) else None


def _not_http() -> ConfigurationError:
    return ConfigurationError(
        "The Lambda event is not an HTTP request: wire the function to an API Gateway REST or "
        "HTTP API (Lambda proxy integration), a function URL or an Application Load Balancer."
    )


def _body(event: Mapping[str, Any], cap: int) -> bytes:
    text = event.get("body")
    if not isinstance(text, str):
        return b""
    if not event.get("isBase64Encoded"):
        return text.encode("utf-8", "surrogatepass")
    if len(text) > 4 * (cap // 3 + 1) + 4:  # longer than any encoding of cap bytes
        raise PayloadTooLarge
    try:
        return binascii.a2b_base64(text, strict_mode=True)
    except (binascii.Error, ValueError):
        raise InvalidPayload("The body is marked base64-encoded but is not valid base64.") from None


def _response(source: str, outcome: Outcome) -> dict[str, Any]:
    status = outcome.status
    response: dict[str, Any] = {
        "statusCode": status,
        "body": outcome.body.decode(),  # JSON: UTF-8 text, never binary
        "isBase64Encoded": False,
    }
    if source == _ALB_MULTI:
        response["multiValueHeaders"] = {name: [value] for name, value in outcome.headers}
    else:
        response["headers"] = dict(outcome.headers)
    if source in (_ALB, _ALB_MULTI):
        response["statusDescription"] = status_line(status)
    return response


if __name__ == "__main__":  # python -m cortexhooks_receiver.integrations.aws_lambda app:handler
    from ._lambda_local import main

    raise SystemExit(main())

"""Serve a Lambda handler on a local port, for trying it before deploying it (like ``sam local``).

``python -m cortexhooks_receiver.integrations.aws_lambda MODULE:ATTR [--host H] [--port P]``
imports the handler (``app:handler`` from the current folder), and turns each HTTP request into
the event a Lambda function URL sends (payload 2.0, the format of HTTP APIs too: lower-cased
header names, a repeated header joined with ",", the body as text when it is UTF-8, else base64)
and the handler's answer back into HTTP. One line per request is printed. It is a development
tool on the standard library's WSGI server, not a production server.
"""

from __future__ import annotations

import argparse
import base64
import importlib
import os
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from cortexhooks_receiver._http import status_line

if TYPE_CHECKING:
    from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

__all__ = ["event_from_environ", "lambda_app", "main"]

Handler = Callable[[Mapping[str, Any], Any], Mapping[str, Any]]


def event_from_environ(environ: WSGIEnvironment) -> dict[str, Any]:
    """Return the function URL event (payload 2.0) of the WSGI request in ``environ``.

    Raises:
        OSError: the client disconnected while the body was read.
    """
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length > 0 else b""
    headers = {
        name[5:].replace("_", "-").lower(): value
        for name, value in environ.items()
        if name.startswith("HTTP_")
    }
    for name in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if environ.get(name):
            headers[name.replace("_", "-").lower()] = environ[name]
    try:
        text, encoded = body.decode(), False
    except UnicodeDecodeError:
        text, encoded = base64.b64encode(body).decode(), True
    path = environ.get("PATH_INFO") or "/"
    host = headers.get("host", "localhost")
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": environ.get("QUERY_STRING", ""),
        "headers": headers,
        "requestContext": {
            "accountId": "anonymous",
            "apiId": "local",
            "domainName": host,
            "domainPrefix": host.partition(".")[0],
            "http": {
                "method": environ.get("REQUEST_METHOD", "GET"),
                "path": path,
                "protocol": environ.get("SERVER_PROTOCOL", "HTTP/1.1"),
                "sourceIp": environ.get("REMOTE_ADDR", ""),
                "userAgent": headers.get("user-agent", ""),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": "$default",
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime()),
            "timeEpoch": int(time.time() * 1000),
        },
        "body": text,
        "isBase64Encoded": encoded,
    }


def lambda_app(handler: Handler, log: Callable[[str], None] = print) -> WSGIApplication:
    """Return a WSGI app that answers each request with ``handler(event, None)``.

    An answer that is not a response dict (or a handler that raises) is answered 502, as a
    function URL answers a failed invocation; ``log`` gets one line per request.
    """

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        event = event_from_environ(environ)
        try:
            answer = handler(event, None)
            status, headers, body = _http_answer(answer)
        except Exception as exc:  # the invocation failed: what Lambda reports as an error
            log(
                f"{event['requestContext']['http']['method']} {event['rawPath']} -> "
                f"invocation failed: {type(exc).__name__}: {exc}"
            )
            status, headers, body = (
                502,
                [("Content-Type", "application/json")],
                (b'{"message":"Internal Server Error"}'),
            )
        else:
            log(f"{event['requestContext']['http']['method']} {event['rawPath']} -> {status}")
        start_response(status_line(status), [*headers, ("Content-Length", str(len(body)))])
        return [body]

    return app


def _http_answer(answer: Mapping[str, Any]) -> tuple[int, list[tuple[str, str]], bytes]:
    status = answer["statusCode"]
    headers = [(str(k), str(v)) for k, v in (answer.get("headers") or {}).items()]
    for name, values in (answer.get("multiValueHeaders") or {}).items():
        headers += [(str(name), str(v)) for v in values]
    body = answer.get("body") or ""
    raw = base64.b64decode(body) if answer.get("isBase64Encoded") else body.encode()
    return int(status), headers, raw


def _load(target: str) -> Handler:
    module_name, _, attr = target.partition(":")
    if not module_name or not attr:
        raise SystemExit(f"error: {target!r} is not MODULE:ATTR (for example app:handler)")
    sys.path.insert(0, os.getcwd())
    handler: Handler = getattr(importlib.import_module(module_name), attr)
    return handler


def main(argv: Sequence[str] | None = None) -> int:
    """Serve the handler named on the command line until Ctrl-C; return the exit status.

    Raises:
        SystemExit: bad arguments, or the handler cannot be imported.
    """
    from cortexhooks_receiver._server import serve_in_thread

    parser = argparse.ArgumentParser(
        prog="python -m cortexhooks_receiver.integrations.aws_lambda",
        description="Serve a Lambda handler locally: each HTTP request becomes a function URL "
        "event (payload 2.0).",
    )
    parser.add_argument("target", help="the handler, as MODULE:ATTR (for example app:handler)")
    parser.add_argument("--host", default="127.0.0.1", help="interface (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=3000, help="port (default 3000; 0 = any)")
    args = parser.parse_args(argv)
    handler = _load(args.target)
    server = serve_in_thread(
        lambda_app(handler, lambda line: print(line, flush=True)), args.host, args.port
    )
    print(
        f"Serving {args.target} as a Lambda function URL on {server.url} (Ctrl-C to stop)",
        flush=True,
    )
    try:
        server.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0

"""AWS Lambda: lambda_handler, and the bare guide verification as a Lambda handler.

No server: AWS calls ``handler(event, context)``. ``benchmarks/bench_adapters.py`` calls both
handlers in process with the same events; ``python -m cortexhooks_receiver.integrations.aws_lambda
lambda_app:handler`` serves it locally as a function URL.
"""

from __future__ import annotations

import base64
from typing import Any

from _shared import bare_verify, make_receiver

from cortexhooks_receiver.integrations.aws_lambda import lambda_handler

handler = lambda_handler(make_receiver())


def bare(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The guide's verification, written by hand for a function URL event."""
    body = event.get("body") or ""
    raw = base64.b64decode(body) if event.get("isBase64Encoded") else body.encode()
    status, answer = bare_verify(raw, event["headers"].get("x-cortexbuild-signature"))
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json"},
        "body": answer.decode(),
        "isBase64Encoded": False,
    }

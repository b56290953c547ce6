"""Receive CortexBuild webhooks in AWS Lambda (API Gateway REST or HTTP API, function URL, ALB).

Deploy it:     handler ``aws_lambda_app.handler``, CORTEXBUILD_WEBHOOK_SECRET in its environment
Try it:        python -m cortexhooks_receiver.integrations.aws_lambda aws_lambda_app:handler
Self-check:    python examples/aws_lambda_app.py   (the events each source sends, by hand)
"""

from __future__ import annotations

import base64
import json
import os
from typing import Any

import cortexhooks_receiver as ch
from cortexhooks_receiver.integrations.aws_lambda import lambda_handler

os.environ.setdefault("CORTEXBUILD_WEBHOOK_SECRET", "whsec_example_only_0123456789")

# One dedup store for every execution environment in production: store="redis://...".
receiver = ch.Receiver(store="memory://")
revised: list[str] = []


@receiver.on("drawing.revised")
def drawing_revised(event: ch.Event) -> None:
    revised.append(event.event)


handler = lambda_handler(receiver)


def self_check() -> None:
    from cortexhooks_receiver.testing.factories import make_body

    secret = os.environ["CORTEXBUILD_WEBHOOK_SECRET"]

    drawings = iter(range(1, 4))

    def signed() -> tuple[bytes, dict[str, str]]:
        body = make_body("drawing.revised", data={"id": f"dwg-{next(drawings)}"})  # a new one
        return body, ch.sign(body, secret)

    body, headers = signed()  # API Gateway REST API: payload 1.0, a base64 body
    rest: dict[str, Any] = {
        "httpMethod": "POST",
        "multiValueHeaders": {name: [value] for name, value in headers.items()},
        "requestContext": {"identity": {"sourceIp": "192.0.2.1"}},
        "body": base64.b64encode(body).decode(),
        "isBase64Encoded": True,
    }
    assert handler(rest, None)["statusCode"] == 200

    body, headers = signed()  # a function URL (or an HTTP API): payload 2.0
    url = {
        "version": "2.0",
        "headers": {name.lower(): value for name, value in headers.items()},
        "requestContext": {"http": {"method": "POST", "sourceIp": "192.0.2.1"}},
        "body": body.decode(),
        "isBase64Encoded": False,
    }
    assert json.loads(handler(url, None)["body"]) == {"received": True}

    body, headers = signed()  # an ALB target group with multi-value headers
    alb = {
        "requestContext": {"elb": {"targetGroupArn": "arn:aws:elasticloadbalancing:..."}},
        "httpMethod": "POST",
        "multiValueHeaders": {name.lower(): [value] for name, value in headers.items()},
        "body": body.decode(),
        "isBase64Encoded": False,
    }
    assert handler(alb, None)["statusDescription"] == "200 OK"
    assert revised == ["drawing.revised"] * 3
    print("aws lambda example: OK")


if __name__ == "__main__":
    self_check()

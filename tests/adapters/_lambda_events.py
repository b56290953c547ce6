"""The HTTP events AWS sends a Lambda function, per source, as AWS documents them.

Each sample below follows the example event of its source in the AWS documentation (field names,
nesting, casing and the example values; the per-request fields a webhook does not use are cut
down). The tests put a webhook request into a sample with :func:`event` (method, headers, body,
as that source would carry them) and read the handler's answer back with :func:`response`, which
also checks that the answer has exactly the shape that source expects.

* ``rest``: API Gateway REST API, Lambda proxy integration (payload 1.0): "Input format of a
  Lambda function for proxy integration" (``headers`` and ``multiValueHeaders``, the client in
  ``requestContext.identity.sourceIp``).
* ``http``: API Gateway HTTP API, payload format 2.0: "Create AWS Lambda proxy integrations for
  HTTP APIs" (lower-case ``headers``, a repeated header joined with commas, ``cookies`` apart).
* ``url``: Lambda function URL request payload ("Invoking Lambda function URLs"): payload 2.0
  with ``domainName`` ``<url-id>.lambda-url.<region>.on.aws``.
* ``alb`` / ``alb_multi``: Application Load Balancer, "Lambda functions as targets": the event
  with ``headers`` (only the last value of a repeated header) or, when the target group enables
  multi-value headers, ``multiValueHeaders``. The client is only in ``x-forwarded-for``.
"""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Mapping
from typing import Any

from conftest import Req, Resp

REST_V1: dict[str, Any] = {
    "resource": "/webhooks/cortexbuild",
    "path": "/webhooks/cortexbuild",
    "httpMethod": "POST",
    "headers": {
        "Accept": "*/*",
        "Content-Type": "application/json",
        "Host": "1234567890.execute-api.us-east-1.amazonaws.com",
        "User-Agent": "CortexBuild-Webhooks/1.0",
        "X-Amzn-Trace-Id": "Root=1-5e66d96f-7491f09xmpl79d18acf3d050",
        "X-Forwarded-For": "192.0.2.99, 198.51.100.2",
        "X-Forwarded-Port": "443",
        "X-Forwarded-Proto": "https",
    },
    "multiValueHeaders": {
        "Accept": ["*/*"],
        "Content-Type": ["application/json"],
        "Host": ["1234567890.execute-api.us-east-1.amazonaws.com"],
        "User-Agent": ["CortexBuild-Webhooks/1.0"],
        "X-Amzn-Trace-Id": ["Root=1-5e66d96f-7491f09xmpl79d18acf3d050"],
        "X-Forwarded-For": ["192.0.2.99, 198.51.100.2"],
        "X-Forwarded-Port": ["443"],
        "X-Forwarded-Proto": ["https"],
    },
    "queryStringParameters": None,
    "multiValueQueryStringParameters": None,
    "pathParameters": None,
    "stageVariables": None,
    "requestContext": {
        "accountId": "123456789012",
        "apiId": "1234567890",
        "domainName": "1234567890.execute-api.us-east-1.amazonaws.com",
        "domainPrefix": "1234567890",
        "extendedRequestId": "LgLpnF0dIAMFfXQ=",
        "httpMethod": "POST",
        "identity": {
            "accessKey": None,
            "accountId": None,
            "caller": None,
            "cognitoAuthenticationProvider": None,
            "cognitoAuthenticationType": None,
            "cognitoIdentityId": None,
            "cognitoIdentityPoolId": None,
            "principalOrgId": None,
            "sourceIp": "192.0.2.1",
            "user": None,
            "userAgent": "CortexBuild-Webhooks/1.0",
            "userArn": None,
        },
        "path": "/Prod/webhooks/cortexbuild",
        "protocol": "HTTP/1.1",
        "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
        "requestTime": "09/Apr/2015:12:34:56 +0000",
        "requestTimeEpoch": 1428582896000,
        "resourceId": "123456",
        "resourcePath": "/webhooks/cortexbuild",
        "stage": "Prod",
    },
    "body": "",
    "isBase64Encoded": False,
}

HTTP_V2: dict[str, Any] = {
    "version": "2.0",
    "routeKey": "POST /webhooks/cortexbuild",
    "rawPath": "/webhooks/cortexbuild",
    "rawQueryString": "",
    "cookies": ["cookie1", "cookie2"],
    "headers": {
        "accept": "*/*",
        "content-type": "application/json",
        "host": "api-id.execute-api.us-east-1.amazonaws.com",
        "user-agent": "CortexBuild-Webhooks/1.0",
        "x-amzn-trace-id": "Root=1-5e6722a7-cc56xmpl46db7ae02d4da47e",
        "x-forwarded-for": "192.0.2.99",
        "x-forwarded-port": "443",
        "x-forwarded-proto": "https",
    },
    "requestContext": {
        "accountId": "123456789012",
        "apiId": "api-id",
        "domainName": "api-id.execute-api.us-east-1.amazonaws.com",
        "domainPrefix": "api-id",
        "http": {
            "method": "POST",
            "path": "/webhooks/cortexbuild",
            "protocol": "HTTP/1.1",
            "sourceIp": "192.0.2.1",
            "userAgent": "CortexBuild-Webhooks/1.0",
        },
        "requestId": "id",
        "routeKey": "POST /webhooks/cortexbuild",
        "stage": "$default",
        "time": "12/Mar/2020:19:03:58 +0000",
        "timeEpoch": 1583348638390,
    },
    "pathParameters": None,
    "stageVariables": None,
    "body": "",
    "isBase64Encoded": False,
}

FUNCTION_URL: dict[str, Any] = {
    "version": "2.0",
    "routeKey": "$default",
    "rawPath": "/webhooks/cortexbuild",
    "rawQueryString": "",
    "headers": {
        "accept": "*/*",
        "content-type": "application/json",
        "host": "abcdefghijklmnopqrstuvwxyz0123456.lambda-url.us-west-2.on.aws",
        "user-agent": "CortexBuild-Webhooks/1.0",
        "x-amzn-tls-cipher-suite": "ECDHE-RSA-AES128-GCM-SHA256",
        "x-amzn-tls-version": "TLSv1.2",
        "x-amzn-trace-id": "Root=1-62ecd163-5f302e550dcde3b12402207d",
        "x-forwarded-for": "123.123.123.123",
        "x-forwarded-port": "443",
        "x-forwarded-proto": "https",
    },
    "requestContext": {
        "accountId": "anonymous",
        "apiId": "abcdefghijklmnopqrstuvwxyz0123456",
        "domainName": "abcdefghijklmnopqrstuvwxyz0123456.lambda-url.us-west-2.on.aws",
        "domainPrefix": "abcdefghijklmnopqrstuvwxyz0123456",
        "http": {
            "method": "POST",
            "path": "/webhooks/cortexbuild",
            "protocol": "HTTP/1.1",
            "sourceIp": "123.123.123.123",
            "userAgent": "CortexBuild-Webhooks/1.0",
        },
        "requestId": "id",
        "routeKey": "$default",
        "stage": "$default",
        "time": "12/Mar/2020:19:03:58 +0000",
        "timeEpoch": 1583348638390,
    },
    "body": "",
    "isBase64Encoded": False,
}

ALB: dict[str, Any] = {
    "requestContext": {
        "elb": {
            "targetGroupArn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:"
            "targetgroup/lambda-279XGJDqGZ5rsrHC2Fjr/49e9d65c45c6791a"
        }
    },
    "httpMethod": "POST",
    "path": "/webhooks/cortexbuild",
    "queryStringParameters": {},
    "headers": {
        "accept": "*/*",
        "content-type": "application/json",
        "host": "lambda-alb-123578498.us-east-1.elb.amazonaws.com",
        "user-agent": "CortexBuild-Webhooks/1.0",
        "x-amzn-trace-id": "Root=1-5c536348-3d683b8b04734faae651f476",
        "x-forwarded-for": "72.12.164.125",
        "x-forwarded-port": "80",
        "x-forwarded-proto": "http",
    },
    "body": "",
    "isBase64Encoded": False,
}

ALB_MULTI: dict[str, Any] = {
    "requestContext": ALB["requestContext"],
    "httpMethod": "POST",
    "path": "/webhooks/cortexbuild",
    "multiValueQueryStringParameters": {},
    "multiValueHeaders": {name: [value] for name, value in ALB["headers"].items()},
    "body": "",
    "isBase64Encoded": False,
}

SAMPLES: dict[str, dict[str, Any]] = {
    "rest": REST_V1,
    "http": HTTP_V2,
    "url": FUNCTION_URL,
    "alb": ALB,
    "alb_multi": ALB_MULTI,
}
PEERS: dict[str, str | None] = {
    "rest": "192.0.2.1",
    "http": "192.0.2.1",
    "url": "123.123.123.123",
    "alb": None,  # the ALB event has no client address but the X-Forwarded-For header
    "alb_multi": None,
}
# Request headers a sample carries for the request it describes: the webhook request's own
# values (or their absence) replace them.
_REQUEST_HEADERS = frozenset({"content-type", "content-length"})


def event(source: str, req: Req, *, b64: bool = False) -> dict[str, Any]:
    """The event ``source`` sends for ``req`` (``b64``: the body base64-encoded, as AWS sends
    bodies it takes for binary)."""
    sample = copy.deepcopy(SAMPLES[source])
    lines = [(k, v) for k, v in _sample_headers(sample) if k.lower() not in _REQUEST_HEADERS]
    lines += [(k, v) for k, v in req.headers.items() if k.lower() != "content-length"]
    if not req.chunked and (req.body or req.method == "POST"):
        lines.append(("Content-Length", str(len(req.body))))
    if req.content_length is not None:
        lines = [(k, v) for k, v in lines if k.lower() != "content-length"]
        lines.append(("Content-Length", req.content_length))
    lines += list(req.repeated)
    if source in ("http", "url"):
        # Payload 2.0: lower-case names; a repeated header's values joined with commas.
        joined: dict[str, str] = {}
        for name, value in lines:
            key = name.lower()
            joined[key] = f"{joined[key]},{value}" if key in joined else value
        sample["headers"] = joined
        sample["requestContext"]["http"]["method"] = req.method
    else:
        multi: dict[str, list[str]] = {}
        last: dict[str, str] = {}
        for name, value in lines:
            multi.setdefault(name, []).append(value)
            last[name] = value
        if "multiValueHeaders" in sample:
            sample["multiValueHeaders"] = multi
        if "headers" in sample:
            sample["headers"] = last  # payload 1.0 and ALB: the last value of a repeated header
        sample["httpMethod"] = req.method
        if source == "rest":
            sample["requestContext"]["httpMethod"] = req.method
    try:
        text = req.body.decode()
    except UnicodeDecodeError:
        b64 = True  # AWS sends what is not text base64-encoded
    if b64:
        sample["body"] = base64.b64encode(req.body).decode()
        sample["isBase64Encoded"] = True
    else:
        sample["body"] = text or None
        sample["isBase64Encoded"] = False
    return sample


def _sample_headers(sample: Mapping[str, Any]) -> list[tuple[str, str]]:
    if "multiValueHeaders" in sample:
        return [(k, v) for k, values in sample["multiValueHeaders"].items() for v in values]
    return list(sample["headers"].items())


_ANSWER = {"statusCode", "body", "isBase64Encoded"}
_SHAPES = {
    "rest": _ANSWER | {"headers"},
    "http": _ANSWER | {"headers"},
    "url": _ANSWER | {"headers"},
    "alb": _ANSWER | {"statusDescription", "headers"},
    "alb_multi": _ANSWER | {"statusDescription", "multiValueHeaders"},
}


def response(source: str, answer: Mapping[str, Any]) -> Resp:
    """The HTTP answer the source makes of the handler's ``answer`` (whose shape is checked)."""
    assert set(answer) == _SHAPES[source], sorted(answer)
    assert answer["isBase64Encoded"] is False
    assert isinstance(answer["body"], str)
    json.loads(answer["body"])  # a JSON document, as text
    status = answer["statusCode"]
    if source in ("alb", "alb_multi"):
        reason = answer["statusDescription"]
        assert reason.startswith(f"{status} "), reason
        assert len(reason) > 4, reason
    if source == "alb_multi":
        headers = {}
        for name, values in answer["multiValueHeaders"].items():
            assert isinstance(values, list), values
            assert len(values) == 1, values
            headers[name.lower()] = values[0]
    else:
        headers = {name.lower(): value for name, value in answer["headers"].items()}
    assert all(isinstance(v, str) for v in headers.values()), headers
    return Resp(status, headers, answer["body"].encode())

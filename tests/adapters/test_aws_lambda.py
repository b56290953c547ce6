"""The Lambda handler beyond the conformance matrix: what only Lambda events can say.

The matrix already runs every case through the documented events of the four sources (REST
payload 1.0, HTTP API payload 2.0 base64-encoded, function URL, ALB with and without multi-value
headers), checks each answer's shape, the client address, and a header sent twice.
"""

from __future__ import annotations

import base64
import io
import json
import threading
from dataclasses import replace
from typing import Any

import _lambda_events as events
import httpx
import pytest
from conftest import SECRET, Req, make_body, signed_headers, signed_req

import cortexhooks_receiver as ch
from cortexhooks_receiver import ConfigurationError, Receiver
from cortexhooks_receiver._server import serve_in_thread
from cortexhooks_receiver.integrations._lambda_local import event_from_environ, lambda_app
from cortexhooks_receiver.integrations.aws_lambda import lambda_handler
from cortexhooks_receiver.signature import now_ms

SOURCES = sorted(events.SAMPLES)


def _fresh(delivery_id: str = "dlv_l") -> Req:
    body = make_body(timestamp=now_ms())
    return Req(headers=signed_headers(body, timestamp=now_ms(), delivery_id=delivery_id), body=body)


@pytest.fixture
def handled() -> tuple[Receiver, list[str]]:
    receiver = Receiver(SECRET, max_body_bytes=4096)
    seen: list[str] = []
    receiver.on("task.completed")(lambda event: seen.append(event.delivery_id))
    return receiver, seen


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("b64", [False, True], ids=["text", "base64"])
def test_each_documented_source_delivers_a_text_or_base64_body(
    source: str, b64: bool, handled: tuple[Receiver, list[str]]
) -> None:
    receiver, seen = handled
    answer = lambda_handler(receiver)(events.event(source, _fresh(), b64=b64), None)
    resp = events.response(source, answer)
    assert resp.status == 200, resp.body
    assert resp.json() == {"received": True}
    assert seen == ["dlv_l"]


def test_the_alb_answer_has_a_status_description_and_multi_value_headers_when_asked() -> None:
    handler = lambda_handler(Receiver(SECRET))
    single = handler(events.event("alb", Req(method="GET")), None)
    assert single["statusDescription"] == "405 Method Not Allowed"
    assert single["headers"]["Allow"] == "POST"
    multi = handler(events.event("alb_multi", Req(method="GET")), None)
    assert multi["statusDescription"] == "405 Method Not Allowed"
    assert multi["multiValueHeaders"]["Allow"] == ["POST"]
    assert "headers" not in multi


@pytest.mark.parametrize("source", ["rest", "alb_multi"])
def test_a_repeated_header_is_read_from_multi_value_headers_not_the_last_value(source: str) -> None:
    # Payload 1.0 and ALB events also carry `headers`, where a repeated header has only its last
    # value: here the genuine one. Reading it would accept a request whose first value is forged.
    req = _fresh()
    genuine = req.headers.pop("X-CortexBuild-Signature")
    req = replace(req, repeated=(("X-CortexBuild-Signature", "0" * 64),))
    req = replace(req, repeated=(*req.repeated, ("X-CortexBuild-Signature", genuine)))
    event = events.event(source, req)
    if "headers" in event:
        assert event["headers"]["X-CortexBuild-Signature"] == genuine
    answer = lambda_handler(Receiver(SECRET))(event, None)
    assert answer["statusCode"] == 401
    assert json.loads(answer["body"])["error"] == "malformed_signature"


def test_invalid_base64_is_a_400_invalid_payload() -> None:
    event = events.event("url", _fresh(), b64=True)
    event["body"] = "not base64 at all!"
    answer = lambda_handler(Receiver(SECRET))(event, None)
    assert answer["statusCode"] == 400
    assert json.loads(answer["body"])["error"] == "invalid_payload"


def test_an_encoded_body_too_long_for_the_cap_is_refused_without_decoding_it() -> None:
    # Invalid base64 of that length: decoding it would answer 400, the length check answers 413.
    req = replace(_fresh(), chunked=True)  # no Content-Length: only the body's size can tell
    event = events.event("http", req, b64=True)
    event["body"] = "!" * 10_000
    answer = lambda_handler(Receiver(SECRET, max_body_bytes=4096))(event, None)
    assert answer["statusCode"] == 413


def test_a_body_above_the_cap_is_413_without_a_content_length() -> None:
    req = replace(signed_req(make_body(task_id="x" * 5000)), chunked=True)
    answer = lambda_handler(Receiver(SECRET, max_body_bytes=4096))(events.event("url", req), None)
    assert answer["statusCode"] == 413


@pytest.mark.parametrize("source", SOURCES)
def test_an_event_without_headers_or_body_is_refused_never_a_crash(source: str) -> None:
    event = events.event(source, Req())
    for field in ("headers", "multiValueHeaders", "body"):
        if field in event:
            event[field] = None
    answer = lambda_handler(Receiver(SECRET))(event, None)
    assert answer["statusCode"] == 415


@pytest.mark.parametrize(
    "event",
    [
        {"Records": [{"eventSource": "aws:sqs", "body": "whsec_leaked_value"}]},
        {"version": "2.0", "body": "whsec_leaked_value"},
        {"httpMethod": 7, "body": "whsec_leaked_value"},
        ["whsec_leaked_value"],
    ],
    ids=["sqs", "v2-without-http", "method-not-text", "not-a-mapping"],
)
def test_an_event_that_is_not_an_http_request_is_a_configuration_error(event: Any) -> None:
    with pytest.raises(ConfigurationError, match="not an HTTP request") as info:
        lambda_handler(Receiver(SECRET))(event, None)
    assert "whsec_leaked" not in str(info.value)


# --- the local runner -------------------------------------------------------------------------


def test_the_local_runner_serves_a_handler_as_a_function_url() -> None:
    receiver = Receiver(SECRET)
    seen: list[str] = []
    receiver.on("task.completed")(lambda event: seen.append(event.delivery_id))
    lines: list[str] = []
    lock = threading.Lock()

    def log(line: str) -> None:
        with lock:
            lines.append(line)

    with serve_in_thread(lambda_app(lambda_handler(receiver), log)) as server:
        url = server.url + "/webhooks/cortexbuild"
        req = _fresh("dlv_local")
        with httpx.Client(timeout=10) as client:
            ok = client.post(url, content=req.body, headers=req.headers)
            assert (ok.status_code, ok.json()) == (200, {"received": True})
            assert client.get(url).headers["allow"] == "POST"
            twice = [*req.headers.items(), ("X-CortexBuild-Signature", "0" * 64)]
            refused = client.post(url, content=req.body, headers=twice)
            assert refused.json()["error"] == "malformed_signature"
    assert seen == ["dlv_local"]
    assert lines == [
        "POST /webhooks/cortexbuild -> 200",
        "GET /webhooks/cortexbuild -> 405",
        "POST /webhooks/cortexbuild -> 401",
    ]


def test_the_local_runner_answers_502_when_the_handler_fails() -> None:
    def broken(event: Any, context: Any) -> dict[str, Any]:
        raise ConfigurationError("not an HTTP request")

    lines: list[str] = []
    with serve_in_thread(lambda_app(broken, lines.append)) as server:
        response = httpx.post(server.url + "/x", content=b"{}", timeout=10)
    assert response.status_code == 502
    assert lines == ["POST /x -> invocation failed: ConfigurationError: not an HTTP request"]


def test_the_local_runner_builds_the_function_url_event() -> None:
    body = b"\xff\xfe not utf-8"
    environ = {
        "REQUEST_METHOD": "PUT",
        "PATH_INFO": "/a/b",
        "QUERY_STRING": "q=1",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(body)),
        "HTTP_X_CORTEXBUILD_SIGNATURE": "a,b",
        "HTTP_HOST": "127.0.0.1:9",
        "REMOTE_ADDR": "127.0.0.5",
        "wsgi.input": io.BytesIO(body),
    }
    event = event_from_environ(environ)
    assert event["version"] == "2.0"
    assert event["requestContext"]["http"]["method"] == "PUT"
    assert event["requestContext"]["http"]["sourceIp"] == "127.0.0.5"
    assert event["rawPath"] == "/a/b"
    assert event["rawQueryString"] == "q=1"
    assert event["headers"]["x-cortexbuild-signature"] == "a,b"
    assert event["headers"]["content-type"] == "application/json"
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == body


def test_sign_and_the_handler_agree_on_a_body_with_non_ascii_text() -> None:
    body = json.dumps(
        {"event": "task.completed", "timestamp": now_ms(), "data": {"id": "t", "title": "Câble"}},
        ensure_ascii=False,
    ).encode()
    headers = ch.sign(body, SECRET, event="task.completed")
    headers["Content-Type"] = "application/json"
    for source in SOURCES:
        event = events.event(source, Req(headers=headers, body=body))
        assert event["isBase64Encoded"] is False  # UTF-8 text travels as text
        answer = lambda_handler(Receiver(SECRET))(event, None)
        assert answer["statusCode"] == 200, (source, answer["body"])

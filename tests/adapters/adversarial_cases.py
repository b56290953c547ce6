"""The adversarial matrix: one list of hostile and unusual requests, with the answer each must get.

Every case here is run against every adapter through its framework's test client
(``test_adversarial_clients.py``) and against every real app under its production server over raw
sockets (``test_adversarial_servers.py``); ``scripts/generate_adversarial_table.py`` renders the
same list as ``docs/adversarial-matrix.md`` (a test fails when the page drifts from the list).

A case is one or more :class:`Step` s: a raw request built from a :class:`Ctx` (the time "now" of
the target and a delivery id fresh for every run of the case) and the :class:`Expect` ed answer:
the status, the error ``code`` of the JSON body (or ``received`` / ``duplicate`` / ``queued`` for
the acknowledgements), and whether a handler ran for that request. Where a real HTTP server
answers before the app (its own 400 for a malformed request), or a test client cannot carry what
the case sends, the case says so per server or per client, with the reason: the published table
is honest about every exception. Three rules hold everywhere: never a 500 that is not a handler's
own failure, never a hang, never a handler run for a refused request.

This module imports only the standard library and the package: the docs generator imports it too.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

import cortexhooks_receiver as ch

PATH = "/webhooks/cortexbuild"
SECRET = "whsec_K2Fj8sL3mN9pQ4rT7vX1yZ5bC6dE8fG"
CAP = 1_048_576
"""The body cap of every target: the receiver's default ``max_body_bytes``."""
FAILING_EVENT = "task.overdue"
"""Every target registers a recording handler on ``*`` and one that raises on this event."""
TOLERANCE_MS = 300_000
RETENTION_MS = 86_400_000
NO_ANSWER = 0
"""The status of an :class:`Expect` meaning: the server closed the connection without answering."""


@dataclass(frozen=True)
class Ctx:
    """What a request is built from: ``now_ms`` (the target's clock), a fresh ``delivery_id``."""

    now_ms: int
    delivery_id: str


@dataclass(frozen=True)
class Request:
    """One HTTP request as it goes on the wire.

    ``headers`` in order (a name may repeat; ``Host`` is added unless ``host`` is false).
    ``framing``: ``length`` (``Content-Length`` is the body's length, or ``content_length`` when
    set), ``chunked`` (``Transfer-Encoding: chunked``), ``chunked+length`` (both), ``none``.
    ``pieces``: the body is written in that many parts (a slow sender). ``half_close``: the client
    shuts its sending side after the request (a body shorter than announced ends there).
    """

    method: str = "POST"
    target: str = PATH
    version: str = "HTTP/1.1"
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    framing: str = "length"
    content_length: str | None = None
    pieces: int = 1
    half_close: bool = False
    host: bool = True

    def header(self, name: str) -> str | None:
        """The first value of ``name`` (any casing), or None."""
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)


@dataclass(frozen=True)
class Expect:
    """An answer: ``status`` (:data:`NO_ANSWER`: the connection closed without one), the JSON
    ``code`` (None: no JSON body to read: the server's own answer, not the app's, unless
    ``by_server`` is false, as for HEAD) and whether a handler ran for the request. ``alt``: the
    other answer that is also right, where how the bytes happen to arrive (in one read or two)
    decides between them."""

    status: int
    code: str | None
    handled: bool = False
    alt: Expect | None = None
    by_server: bool = True

    def describe(self) -> str:
        """``"401 signature_mismatch"``, ``"400 (server)"``, ``"no answer (closed)"``, each
        followed by ``(handler runs)`` when one does, then the alternatives."""
        if self.status == NO_ANSWER:
            text = "no answer (closed)"
        elif self.code:
            text = f"{self.status} {self.code}"
        else:
            text = f"{self.status} (server)" if self.by_server else f"{self.status} (no body)"
        if self.handled:
            text += " (handler runs)"
        return text if self.alt is None else f"{text}, or {self.alt.describe()}"

    def options(self) -> tuple[Expect, ...]:
        """This answer and its alternatives."""
        return (self, *(self.alt.options() if self.alt else ()))


@dataclass(frozen=True)
class Step:
    build: Callable[[Ctx], Request]
    expect: Expect


Answers = Expect | tuple[Expect, ...]
"""An override: one answer for a one-step case, or one per step."""


@dataclass(frozen=True)
class Case:
    """One row of the matrix.

    ``profile``: the receiver configuration the case needs (``default``: the one every real app
    runs; the others exist only for the test clients, see :data:`PROFILES`). ``pipelined``: every
    step is written on one connection at once. ``raw_only``: why no test client can send it (the
    case then runs over sockets only). ``servers`` / ``clients``: answers that differ from the
    steps' own, keyed by server family (:data:`SERVER_FAMILIES`) or by adapter / adapter group
    (:data:`CLIENT_GROUPS`), each with its reason in ``why``.
    """

    id: str
    title: str
    steps: tuple[Step, ...]
    profile: str = "default"
    pipelined: bool = False
    raw_only: str | None = None
    servers: Mapping[str, Answers] = field(default_factory=dict)
    clients: Mapping[str, Answers] = field(default_factory=dict)
    why: str = ""


PROFILES: dict[str, str] = {
    "default": "the secret, the memory store, the default 1 MiB cap",
    "in_progress": "a dedup store whose every claim is held by another worker",
    "store_down": "a dedup store whose service is unreachable",
    "rate_limited": 'rate_limit="1/h"',
    "tenants": "secret_for: one known webhook id",
    "queue": "background mode on a SQLite queue",
    "queue_down": "background mode on a queue database that cannot be opened",
}
"""Receiver configurations. Real apps run ``default`` only; the others run on every test client."""

SERVER_FAMILIES: dict[str, str] = {
    "gunicorn": "gunicorn (sync worker): Flask, plain WSGI app and middleware, Falcon WSGI, "
    "Django WSGI",
    "functions_framework": "the Functions Framework (gunicorn, threaded worker): Google Cloud "
    "Functions",
    "uvicorn": "uvicorn (h11): FastAPI, Starlette route and middleware, plain ASGI app and "
    "middleware, Litestar, Falcon ASGI, Django ASGI",
    "hypercorn": "hypercorn (h11): Quart",
    "aiohttp": "aiohttp's own server",
}


def server_family(server_name: str) -> str:
    """The family of a server of ``integrations/servers.py`` by its name (``"flask-gunicorn"``)."""
    server = server_name.rpartition("-")[2]
    return {"aiohttp.web": "aiohttp"}.get(server, server)


ADAPTER_NAMES: tuple[str, ...] = (
    "aiohttp",
    "asgi",
    "asgi_middleware",
    "django_async",
    "django_sync",
    "falcon_asgi",
    "falcon_wsgi",
    "fastapi",
    "flask",
    "gcp",
    "lambda_alb",
    "lambda_alb_multi_value",
    "lambda_function_url",
    "lambda_http_api",
    "lambda_rest",
    "litestar",
    "quart",
    "starlette_middleware",
    "starlette_route",
    "wsgi",
    "wsgi_middleware",
)
"""Every adapter's test client (the keys of ``conftest.ADAPTERS``; a test keeps them equal)."""

CLIENT_GROUPS: dict[str, tuple[str, ...]] = {
    "wsgi_environ": ("flask", "wsgi", "wsgi_middleware", "falcon_wsgi", "gcp", "django_sync"),
    "lambda": (
        "lambda_rest",
        "lambda_http_api",
        "lambda_function_url",
        "lambda_alb",
        "lambda_alb_multi_value",
    ),
}
"""Names an override may use for several test clients at once."""


# -- builders ---------------------------------------------------------------------------------


def body_of(ctx: Ctx, event: str = "task.completed", *, timestamp: int | None = None) -> bytes:
    """A compact body as CortexBuild sends it, unique to the run (the delivery id is its task)."""
    payload = {
        "event": event,
        "timestamp": ctx.now_ms if timestamp is None else timestamp,
        "data": {"id": ctx.delivery_id, "title": "Pour slab", "status": "completed"},
        "companyId": "company-1",
        "userId": "user-1",
    }
    return json.dumps(payload, separators=(",", ":")).encode()


def signed(
    ctx: Ctx,
    body: bytes | None = None,
    *,
    event: str = "task.completed",
    secret: str = SECRET,
    timestamp: int | None = None,
    delivery_id: str | None = "",
    webhook_id: str | None = None,
    drop: tuple[str, ...] = (),
    put: Mapping[str, str] | None = None,
    extra: tuple[tuple[str, str], ...] = (),
    **request: object,
) -> Request:
    """A genuinely signed request for ``body`` (default: :func:`body_of`), then altered.

    ``delivery_id``: ``""`` uses the context's, None sends none. ``drop`` removes headers,
    ``put`` replaces (or adds) them, ``extra`` appends header lines after the rest; ``request``
    are :class:`Request` fields.
    """
    body = body_of(ctx, event) if body is None else body
    headers = ch.sign(
        body,
        secret,
        timestamp=ctx.now_ms if timestamp is None else timestamp,
        event=event,
        delivery_id=ctx.delivery_id if delivery_id == "" else delivery_id,
        webhook_id=webhook_id,
    )
    if delivery_id is None:
        drop = (*drop, "X-CortexBuild-Delivery-Id")
    headers["Content-Type"] = "application/json"
    lines = [(k, v) for k, v in headers.items() if k.lower() not in {d.lower() for d in drop}]
    for name, value in (put or {}).items():
        lines = [(k, v) for k, v in lines if k.lower() != name.lower()] + [(name, value)]
    return Request(headers=(*lines, *extra), body=body, **request)  # type: ignore[arg-type]


def signature_of(req: Request) -> str:
    """The genuine signature header of a :func:`signed` request."""
    value = req.header("X-CortexBuild-Signature")
    assert value is not None
    return value


def _renamed(req: Request, name: str, to: str) -> Request:
    lines = tuple((to if k.lower() == name.lower() else k, v) for k, v in req.headers)
    return Request(**{**req.__dict__, "headers": lines})


def _recased(req: Request, how: Callable[[str], str]) -> Request:
    return Request(**{**req.__dict__, "headers": tuple((how(k), v) for k, v in req.headers)})


def _raw_body(ctx: Ctx, text: str) -> bytes:
    return (text % {"ts": ctx.now_ms, "id": ctx.delivery_id}).encode()


def _nested(ctx: Ctx, depth: int) -> bytes:
    inner = "[" * depth + "]" * depth
    head = _raw_body(ctx, '{"event":"task.completed","timestamp":%(ts)d,"data":{"id":"%(id)s",')
    return head + f'"deep":{inner}}}}}'.encode()


def _big_body(ctx: Ctx, size: int) -> bytes:
    head = body_of(ctx)[:-1]  # without its closing brace
    pad = size - len(head) - len(b',"pad":""}')
    return head + b',"pad":"' + b"x" * pad + b'"}'


OK = Expect(200, "received", handled=True)
DUP = Expect(200, "duplicate")


def _ok(build: Callable[[Ctx], Request]) -> tuple[Step, ...]:
    return (Step(build, OK),)


def _no(build: Callable[[Ctx], Request], status: int, code: str) -> tuple[Step, ...]:
    return (Step(build, Expect(status, code)),)


SERVER_400 = Expect(400, None)
"""The server's own 400: the request never reached the app."""
SERVER_431 = Expect(431, None)
GUNICORN_SYNC = (
    "gunicorn's sync worker serves one request per connection: it answers the first with "
    "Connection: close and never reads the second (whose handler does not run)."
)
EVERY_SERVER_400 = dict.fromkeys(SERVER_FAMILIES, SERVER_400)

# -- the cases --------------------------------------------------------------------------------

CASES: tuple[Case, ...] = (
    # The pipeline table, row by row.
    Case("genuine_delivery", "A genuine signed delivery", _ok(signed)),
    Case(
        "get_is_405",
        "GET on the webhook path",
        _no(lambda c: Request(method="GET"), 405, "method_not_allowed"),
    ),
    Case(
        "signed_put_is_405",
        "A genuine delivery sent with PUT",
        _no(lambda c: signed(c, method="PUT"), 405, "method_not_allowed"),
    ),
    Case(
        "delete_is_405",
        "DELETE on the webhook path",
        _no(lambda c: Request(method="DELETE"), 405, "method_not_allowed"),
    ),
    Case(
        "patch_is_405",
        "A genuine delivery sent with PATCH",
        _no(lambda c: signed(c, method="PATCH"), 405, "method_not_allowed"),
    ),
    Case(
        "options_is_405",
        "OPTIONS on the webhook path (no CORS preflight is answered)",
        _no(lambda c: Request(method="OPTIONS"), 405, "method_not_allowed"),
    ),
    Case(
        "head_is_405",
        "HEAD on the webhook path: 405 with no body",
        (Step(lambda c: Request(method="HEAD"), Expect(405, None, by_server=False)),),
    ),
    Case(
        "content_length_over_cap_is_413",
        "A signed 1 MiB + 1 KiB body announced by Content-Length",
        _no(lambda c: signed(c, _big_body(c, CAP + 1024)), 413, "payload_too_large"),
    ),
    Case(
        "chunked_over_cap_is_413",
        "A signed 1 MiB + 1 KiB body sent chunked (no Content-Length)",
        _no(
            lambda c: signed(c, _big_body(c, CAP + 1024), framing="chunked"),
            413,
            "payload_too_large",
        ),
    ),
    Case(
        "body_at_cap_is_processed",
        "A signed body of exactly 1 MiB",
        _ok(lambda c: signed(c, _big_body(c, CAP))),
    ),
    Case(
        "text_plain_is_415",
        "A genuine delivery with Content-Type: text/plain",
        _no(lambda c: signed(c, put={"Content-Type": "text/plain"}), 415, "unsupported_media_type"),
    ),
    Case(
        "form_content_type_is_415",
        "A genuine delivery labelled as a form (no framework parses it first)",
        _no(
            lambda c: signed(c, put={"Content-Type": "application/x-www-form-urlencoded"}),
            415,
            "unsupported_media_type",
        ),
    ),
    Case(
        "multipart_content_type_is_415",
        "A genuine delivery labelled multipart/form-data",
        _no(
            lambda c: signed(c, put={"Content-Type": "multipart/form-data; boundary=x"}),
            415,
            "unsupported_media_type",
        ),
    ),
    Case(
        "missing_content_type_is_415",
        "A genuine delivery with no Content-Type",
        _no(lambda c: signed(c, drop=("Content-Type",)), 415, "unsupported_media_type"),
    ),
    Case(
        "json_with_charset_is_processed",
        "Content-Type: application/json; charset=utf-8",
        _ok(lambda c: signed(c, put={"Content-Type": "application/json; charset=utf-8"})),
    ),
    Case(
        "gzip_encoding_is_415",
        "A genuine delivery with Content-Encoding: gzip",
        _no(lambda c: signed(c, put={"Content-Encoding": "gzip"}), 415, "unsupported_media_type"),
    ),
    Case(
        "identity_encoding_is_processed",
        "Content-Encoding: identity",
        _ok(lambda c: signed(c, put={"Content-Encoding": "identity"})),
    ),
    Case(
        "missing_signature_is_401",
        "No X-CortexBuild-Signature",
        _no(lambda c: signed(c, drop=("X-CortexBuild-Signature",)), 401, "missing_signature"),
    ),
    Case(
        "prefixed_signature_is_malformed",
        'A signature written "sha256=<hex>"',
        _no(
            lambda c: signed(
                c, put={"X-CortexBuild-Signature": "sha256=" + signature_of(signed(c))}
            ),
            401,
            "malformed_signature",
        ),
    ),
    Case(
        "short_signature_is_malformed",
        "A signature of 63 hex digits",
        _no(
            lambda c: signed(c, put={"X-CortexBuild-Signature": signature_of(signed(c))[:63]}),
            401,
            "malformed_signature",
        ),
    ),
    Case(
        "missing_timestamp_is_401",
        "No X-CortexBuild-Timestamp",
        _no(lambda c: signed(c, drop=("X-CortexBuild-Timestamp",)), 401, "missing_timestamp"),
    ),
    Case(
        "decimal_timestamp_is_invalid",
        "Timestamp header 1700000000000.5",
        _no(
            lambda c: signed(c, put={"X-CortexBuild-Timestamp": f"{c.now_ms}.5"}),
            401,
            "invalid_timestamp",
        ),
    ),
    Case(
        "signed_plus_timestamp_is_invalid",
        'Timestamp header with a leading "+"',
        _no(
            lambda c: signed(c, put={"X-CortexBuild-Timestamp": f"+{c.now_ms}"}),
            401,
            "invalid_timestamp",
        ),
    ),
    Case(
        "stale_timestamp_is_401",
        "Timestamp header 301 s in the past (signature genuine)",
        _no(
            lambda c: signed(c, timestamp=c.now_ms - TOLERANCE_MS - 1000),
            401,
            "timestamp_out_of_tolerance",
        ),
    ),
    Case(
        "future_timestamp_is_401",
        "Timestamp header 301 s in the future",
        _no(
            lambda c: signed(c, timestamp=c.now_ms + TOLERANCE_MS + 1000),
            401,
            "timestamp_out_of_tolerance",
        ),
    ),
    Case(
        "timestamp_in_seconds_is_401",
        "Timestamp header in seconds instead of milliseconds",
        _no(
            lambda c: signed(c, timestamp=c.now_ms // 1000),
            401,
            "timestamp_out_of_tolerance",
        ),
    ),
    Case(
        "timestamp_within_tolerance_is_processed",
        "Timestamp header 299 s old",
        _ok(lambda c: signed(c, timestamp=c.now_ms - TOLERANCE_MS + 1000)),
    ),
    Case(
        "wrong_secret_is_401",
        "Signed with another secret",
        _no(lambda c: signed(c, secret="whsec_not_the_right_one"), 401, "signature_mismatch"),
    ),
    Case(
        "secret_without_whsec_prefix_is_401",
        "Signed with the secret stripped of its whsec_ prefix (the key is the whole string)",
        _no(lambda c: signed(c, secret=SECRET.removeprefix("whsec_")), 401, "signature_mismatch"),
    ),
    Case(
        "reserialised_body_is_401",
        "The signed body re-serialised (pretty-printed) before sending",
        _no(
            lambda c: Request(
                **{
                    **signed(c).__dict__,
                    "body": json.dumps(json.loads(body_of(c)), indent=2).encode(),
                }
            ),
            401,
            "signature_mismatch",
        ),
    ),
    Case(
        "signed_non_json_is_400",
        "A signed body that is not JSON",
        _no(lambda c: signed(c, b"not json at all"), 400, "invalid_payload"),
    ),
    Case(
        "signed_empty_body_is_400",
        "A signed empty body",
        _no(lambda c: signed(c, b""), 400, "invalid_payload"),
        clients={"django_sync": Expect(415, "unsupported_media_type")},
        why="Django's test client sends no Content-Type with an empty body.",
    ),
    Case(
        "signed_json_array_is_400",
        "A signed JSON array",
        _no(lambda c: signed(c, b"[1,2,3]"), 400, "invalid_payload"),
    ),
    Case(
        "signed_non_utf8_body_is_400",
        "A signed body with a byte that is not UTF-8 inside a string",
        _no(
            lambda c: signed(
                c,
                _raw_body(c, '{"event":"task.completed","timestamp":%(ts)d,"data":{"id":"')
                + b"\xff\xfe"
                + b'"}}',
            ),
            400,
            "invalid_payload",
        ),
    ),
    Case(
        "signed_hostile_exponent_is_400",
        "A signed body whose timestamp is 1e1000000000000000000",
        _no(
            lambda c: signed(
                c,
                b'{"event":"task.completed","timestamp":1e1000000000000000000,"data":{"id":"x"}}',
            ),
            400,
            "invalid_payload",
        ),
    ),
    Case(
        "signed_hostile_number_in_data_is_400",
        "A signed invoice whose amount is 1e1000000000000000000",
        _no(
            lambda c: signed(
                c,
                _raw_body(
                    c,
                    '{"event":"invoice.paid","timestamp":%(ts)d,'
                    '"data":{"id":"%(id)s","amount":1e1000000000000000000}}',
                ),
                event="invoice.paid",
            ),
            400,
            "invalid_payload",
        ),
    ),
    Case(
        "signed_huge_integer_timestamp_is_400",
        "A signed body whose timestamp has 5000 digits",
        _no(
            lambda c: signed(
                c,
                b'{"event":"task.completed","timestamp":' + b"9" * 5000 + b',"data":{"id":"x"}}',
            ),
            400,
            "invalid_payload",
        ),
    ),
    Case(
        "signed_deeply_nested_json_is_400",
        "A signed body nested 100 000 arrays deep",
        _no(lambda c: signed(c, _nested(c, 100_000)), 400, "invalid_payload"),
    ),
    Case(
        "signed_string_timestamp_is_400",
        'A signed body whose timestamp is a string ("1700000000000")',
        _no(
            lambda c: signed(
                c,
                _raw_body(
                    c, '{"event":"task.completed","timestamp":"%(ts)d","data":{"id":"%(id)s"}}'
                ),
            ),
            400,
            "invalid_payload",
        ),
    ),
    Case(
        "signed_body_without_data_is_400",
        "A signed body with no data object",
        _no(
            lambda c: signed(c, _raw_body(c, '{"event":"task.completed","timestamp":%(ts)d}')),
            400,
            "invalid_payload",
        ),
    ),
    Case(
        "old_signed_body_is_401",
        "Fresh headers on a body signed 25 hours ago (a captured delivery)",
        _no(
            lambda c: signed(c, body_of(c, timestamp=c.now_ms - RETENTION_MS - 3_600_000)),
            401,
            "event_too_old",
        ),
    ),
    Case(
        "body_timestamp_in_seconds_is_401",
        "A signed body whose own timestamp is in seconds",
        _no(
            lambda c: signed(c, body_of(c, timestamp=c.now_ms // 1000)),
            401,
            "event_too_old",
        ),
    ),
    Case(
        "future_signed_body_is_401",
        "A signed body timestamped 10 minutes in the future",
        _no(
            lambda c: signed(c, body_of(c, timestamp=c.now_ms + 2 * TOLERANCE_MS)),
            401,
            "event_too_old",
        ),
    ),
    Case(
        "delivery_id_with_space_is_400",
        "Delivery id with a space",
        _no(lambda c: signed(c, delivery_id="dlv 1"), 400, "invalid_delivery_id"),
    ),
    Case(
        "delivery_id_of_129_chars_is_400",
        "Delivery id of 129 characters",
        _no(lambda c: signed(c, delivery_id="d" * 129), 400, "invalid_delivery_id"),
    ),
    Case(
        "delivery_id_of_128_chars_is_processed",
        "Delivery id of exactly 128 characters",
        _ok(lambda c: signed(c, delivery_id=(c.delivery_id + "-" + "d" * 128)[:128])),
    ),
    Case(
        "unknown_event_is_acknowledged",
        "A signed event type the catalog does not know",
        _ok(lambda c: signed(c, body_of(c, "crane.moved"), event="crane.moved")),
    ),
    Case(
        "same_delivery_twice_is_a_duplicate",
        "The same delivery sent twice",
        (Step(signed, OK), Step(signed, DUP)),
    ),
    Case(
        "replayed_body_with_new_delivery_id_is_a_duplicate",
        "A captured body replayed with a new delivery id and a fresh timestamp header",
        (
            Step(signed, OK),
            Step(
                lambda c: signed(c, delivery_id=c.delivery_id + "-new", timestamp=c.now_ms + 1), DUP
            ),
        ),
    ),
    Case(
        "no_delivery_id_is_deduplicated_by_body",
        "The same delivery twice, without a delivery id header",
        (
            Step(lambda c: signed(c, delivery_id=None), OK),
            Step(lambda c: signed(c, delivery_id=None), DUP),
        ),
    ),
    Case(
        "failing_handler_is_500_and_released",
        "A handler raises: 500, and the retry runs it again (the claim was released)",
        (
            Step(lambda c: signed(c, event=FAILING_EVENT), Expect(500, "handler_error", True)),
            Step(lambda c: signed(c, event=FAILING_EVENT), Expect(500, "handler_error", True)),
        ),
    ),
    Case(
        "in_progress_is_409",
        "The delivery is being processed by another worker",
        _no(signed, 409, "in_progress"),
        profile="in_progress",
    ),
    Case(
        "store_unavailable_is_503",
        "The dedup store is unreachable (fail closed)",
        _no(signed, 503, "store_unavailable"),
        profile="store_down",
    ),
    Case(
        "rate_limited_is_429",
        "A second delivery within the rate limit's window",
        (
            Step(signed, OK),
            Step(
                lambda c: signed(c, delivery_id=c.delivery_id + "-2"), Expect(429, "rate_limited")
            ),
        ),
        profile="rate_limited",
    ),
    Case(
        "unknown_webhook_is_401",
        "A webhook id secret_for does not know (signature genuine)",
        _no(lambda c: signed(c, webhook_id="webhook-unknown"), 401, "unknown_webhook"),
        profile="tenants",
    ),
    Case(
        "missing_webhook_id_is_401",
        "No webhook id header where secret_for chooses the secret",
        _no(signed, 401, "unknown_webhook"),
        profile="tenants",
    ),
    Case(
        "known_webhook_is_processed",
        "A webhook id secret_for knows",
        _ok(lambda c: signed(c, webhook_id="webhook-a")),
        profile="tenants",
    ),
    Case(
        "queued_is_202",
        "Background mode: durably enqueued, the handler runs later in a worker",
        _no(signed, 202, "queued"),
        profile="queue",
    ),
    Case(
        "queue_unavailable_is_503",
        "Background mode: the queue database cannot be opened",
        _no(signed, 503, "queue_unavailable"),
        profile="queue_down",
    ),
    # Headers: repeated, recased, renamed, oversized.
    Case(
        "signature_twice_same_value_is_malformed",
        "The genuine signature header sent twice",
        _no(
            lambda c: signed(c, extra=(("X-CortexBuild-Signature", signature_of(signed(c))),)),
            401,
            "malformed_signature",
        ),
        clients={"django_sync": OK, "lambda_alb": OK},
        why="Django's test client and an ALB without multi-value headers carry one value per "
        "name: the request arrives as an ordinary one.",
    ),
    Case(
        "signature_twice_forged_second_is_malformed",
        "The genuine signature, then a forged one (never first wins)",
        _no(
            lambda c: signed(c, extra=(("x-cortexbuild-signature", "0" * 64),)),
            401,
            "malformed_signature",
        ),
        clients={"django_sync": OK},
        why="Django's test client carries one value per name (the first here): the request "
        "arrives as an ordinary one.",
    ),
    Case(
        "timestamp_twice_is_invalid",
        "The timestamp header sent twice (same value)",
        _no(
            lambda c: signed(c, extra=(("X-CortexBuild-Timestamp", str(c.now_ms)),)),
            401,
            "invalid_timestamp",
        ),
        clients={"django_sync": OK, "lambda_alb": OK},
        why="Django's test client and an ALB without multi-value headers carry one value per "
        "name: the request arrives as an ordinary one.",
    ),
    Case(
        "delivery_id_twice_is_invalid",
        "Two different delivery ids",
        _no(
            lambda c: signed(c, extra=(("X-CortexBuild-Delivery-Id", c.delivery_id + "-b"),)),
            400,
            "invalid_delivery_id",
        ),
        clients={"django_sync": OK, "lambda_alb": OK},
        why="Django's test client and an ALB without multi-value headers carry one value per "
        "name: the request arrives as an ordinary one.",
    ),
    Case(
        "lowercase_header_names_are_processed",
        "Every header name in lower case",
        _ok(lambda c: _recased(signed(c), str.lower)),
    ),
    Case(
        "uppercase_header_names_are_processed",
        "Every header name in upper case",
        _ok(lambda c: _recased(signed(c), str.upper)),
    ),
    Case(
        "cgi_style_signature_name_is_missing",
        "The signature sent as a header named HTTP_X_CORTEXBUILD_SIGNATURE",
        _no(
            lambda c: _renamed(
                signed(c), "X-CortexBuild-Signature", "HTTP_X_CORTEXBUILD_SIGNATURE"
            ),
            401,
            "missing_signature",
        ),
    ),
    Case(
        "underscore_signature_name_is_missing",
        "The signature sent as X_CortexBuild_Signature (underscores)",
        _no(
            lambda c: _renamed(signed(c), "X-CortexBuild-Signature", "X_CortexBuild_Signature"),
            401,
            "missing_signature",
        ),
        clients={"wsgi_environ": OK},
        why="In a WSGI environ (CGI) both spellings are HTTP_X_CORTEXBUILD_SIGNATURE: a test "
        "client cannot tell them apart (real WSGI servers drop names with underscores). The "
        "signature still has to match.",
    ),
    Case(
        "forged_underscore_signature_beside_genuine_is_ignored",
        "The genuine signature, and a forged one named X_CortexBuild_Signature",
        _ok(lambda c: signed(c, extra=(("X_CortexBuild_Signature", "0" * 64),))),
        clients={
            "wsgi_environ": Expect(401, "malformed_signature"),
            "django_sync": Expect(401, "signature_mismatch"),
        },
        why="In a WSGI environ both spellings are one key: the test client sends both values "
        "(refused as a repeated signature) or, Django's, only the last (a mismatch).",
    ),
    Case(
        "header_of_100_kb",
        "A genuine delivery with one extra header of 100 KB",
        _ok(lambda c: signed(c, extra=(("X-Padding", "p" * 100_000),))),
        servers={
            "gunicorn": SERVER_431,
            "functions_framework": SERVER_431,
            "uvicorn": replace(OK, alt=SERVER_400),
            "hypercorn": SERVER_431,
            "aiohttp": SERVER_400,
        },
        clients={"aiohttp": SERVER_400},
        why="gunicorn caps a header line at 8190 bytes (431), aiohttp too (400), hypercorn's h11 "
        "a head still incomplete after 16 KiB (431, it reads 64 KiB at a time). uvicorn's h11 "
        "has the same limit (uvicorn answers 400), but reads up to 256 KiB at once: a head that "
        "arrived whole is passed on. aiohttp's test client runs its real server; other test "
        "clients pass it on.",
    ),
    Case(
        "expect_100_continue_is_processed",
        "A genuine delivery announced with Expect: 100-continue",
        _ok(lambda c: signed(c, extra=(("Expect", "100-continue"),))),
    ),
    # Method overrides: never honoured.
    Case(
        "method_override_header_on_post_is_ignored",
        "POST with X-HTTP-Method-Override: DELETE",
        _ok(lambda c: signed(c, extra=(("X-HTTP-Method-Override", "DELETE"),))),
    ),
    Case(
        "get_with_method_override_post_is_405",
        "A genuine delivery sent as GET with X-HTTP-Method-Override: POST",
        _no(
            lambda c: signed(c, method="GET", extra=(("X-HTTP-Method-Override", "POST"),)),
            405,
            "method_not_allowed",
        ),
    ),
    Case(
        "underscore_method_query_is_ignored",
        "POST to ?_method=PUT",
        _ok(lambda c: signed(c, target=PATH + "?_method=PUT")),
    ),
    # Framing: chunked, Content-Length lies, slow bodies, pipelining, HTTP/1.0.
    Case(
        "chunked_without_length_is_processed",
        "A genuine delivery sent chunked, no Content-Length",
        _ok(lambda c: signed(c, framing="chunked")),
    ),
    Case(
        "invalid_content_length_is_400",
        'Content-Length: "12abc"',
        _no(lambda c: signed(c, content_length="12abc"), 400, "invalid_content_length"),
        servers=EVERY_SERVER_400,
        clients={"aiohttp": SERVER_400},
        why="HTTP servers refuse a malformed Content-Length themselves (aiohttp's test client "
        "runs its real server).",
    ),
    Case(
        "negative_content_length_is_400",
        "Content-Length: -1",
        _no(lambda c: signed(c, content_length="-1"), 400, "invalid_content_length"),
        servers=EVERY_SERVER_400,
        clients={"aiohttp": SERVER_400},
        why="HTTP servers refuse a malformed Content-Length themselves (aiohttp's test client "
        "runs its real server).",
    ),
    Case(
        "chunked_with_content_length",
        "Transfer-Encoding: chunked and Content-Length together (request smuggling shape)",
        _ok(lambda c: signed(c, framing="chunked+length")),
        raw_only="framing is the HTTP server's decision; a test client hands the app a framed body",
        servers={"gunicorn": SERVER_400, "functions_framework": SERVER_400, "aiohttp": SERVER_400},
        why="gunicorn and aiohttp refuse the pair; h11 lets chunked win, as RFC 9112 says.",
    ),
    Case(
        "content_length_longer_than_body",
        "Content-Length 100 bytes more than is sent, then the client stops sending",
        (
            Step(
                lambda c: signed(c, content_length=str(len(body_of(c)) + 100), half_close=True),
                Expect(NO_ANSWER, None),
            ),
        ),
        raw_only="a test client sends the body it has",
        servers={
            "gunicorn": Expect(400, "incomplete_body"),
            "functions_framework": Expect(400, "incomplete_body"),
            "hypercorn": Expect(NO_ANSWER, None, alt=SERVER_400),
        },
        why="The body never completes. gunicorn hands the app what arrived, then EOF: the app "
        "answers 400 incomplete_body (it answered 500 body_already_consumed before this matrix "
        "found it); the ASGI servers and aiohttp tell the app the client left, and close "
        "(hypercorn, when the end of the stream reaches its parser first, answers its own 400).",
    ),
    Case(
        "content_length_announced_but_no_body_sent",
        "Content-Length of a genuine body, then the client stops sending before any of it",
        (
            Step(
                lambda c: replace(
                    signed(c, content_length=str(len(body_of(c))), half_close=True), body=b""
                ),
                Expect(NO_ANSWER, None),
            ),
        ),
        raw_only="a test client sends the body it has",
        servers={
            "gunicorn": Expect(500, "body_already_consumed"),
            "functions_framework": Expect(500, "body_already_consumed"),
        },
        why="A known limit, and the one 500 of the matrix that is not a handler's: a WSGI app "
        "sees an input stream with nothing left, exactly as when a framework hook read the body "
        "before the view (the setup mistake body_already_consumed reports). Nothing is "
        "verified, recorded or run, and the client that stopped sending has gone.",
    ),
    Case(
        "content_length_shorter_than_body",
        "Content-Length 10 bytes less than the body sent",
        _no(
            lambda c: signed(c, content_length=str(len(body_of(c)) - 10)), 401, "signature_mismatch"
        ),
        raw_only="a test client sends the body it has",
        servers={
            "hypercorn": replace(SERVER_400, alt=Expect(401, "signature_mismatch")),
            "aiohttp": replace(SERVER_400, alt=Expect(401, "signature_mismatch")),
        },
        why="The server reads what Content-Length says: a truncated body, whose signature fails. "
        "The 10 bytes left over follow a request that asked to close the connection: hypercorn "
        "and aiohttp refuse the connection outright (400) when they read them together.",
    ),
    Case(
        "two_content_lengths_disagreeing",
        "Two Content-Length headers with different values",
        (Step(lambda c: signed(c, extra=(("Content-Length", "5"),)), SERVER_400),),
        raw_only="framing is the HTTP server's decision",
    ),
    Case(
        "slow_body_in_pieces",
        "A genuine delivery whose body arrives in 5 pieces",
        _ok(lambda c: signed(c, pieces=5)),
        raw_only="the pieces only exist on a socket",
    ),
    Case(
        "slow_chunked_body_in_pieces",
        "A genuine delivery sent chunked, in 5 pieces",
        _ok(lambda c: signed(c, framing="chunked", pieces=5)),
        raw_only="the pieces only exist on a socket",
    ),
    Case(
        "pipelined_two_deliveries",
        "Two genuine deliveries written on one connection at once",
        (Step(signed, OK), Step(lambda c: signed(Ctx(c.now_ms, c.delivery_id + "-2")), OK)),
        pipelined=True,
        raw_only="two requests on one connection",
        servers={"gunicorn": (OK, Expect(NO_ANSWER, None))},
        why=GUNICORN_SYNC,
    ),
    Case(
        "pipelined_refusal_then_delivery",
        "A forged delivery, then a genuine one, on one connection",
        (
            Step(lambda c: signed(c, secret="whsec_forged"), Expect(401, "signature_mismatch")),
            Step(lambda c: signed(Ctx(c.now_ms, c.delivery_id + "-2")), OK),
        ),
        pipelined=True,
        raw_only="two requests on one connection",
        servers={"gunicorn": (Expect(401, "signature_mismatch"), Expect(NO_ANSWER, None))},
        why=GUNICORN_SYNC,
    ),
    Case(
        "http_1_0_without_host",
        "A genuine delivery over HTTP/1.0 with no Host header",
        _ok(lambda c: signed(c, version="HTTP/1.0", host=False)),
        raw_only="the protocol version and the Host header belong to the connection",
    ),
)
"""The matrix, in the order of the published table."""


def _answers(case: Case, override: Answers | None) -> tuple[Expect, ...]:
    if override is None:
        return tuple(step.expect for step in case.steps)
    return override if isinstance(override, tuple) else (override,)


def client_answers(case: Case, adapter: str) -> tuple[Expect, ...]:
    """What each step of ``case`` must get through ``adapter``'s test client."""
    override = case.clients.get(adapter)
    if override is None:
        group = next((g for g, names in CLIENT_GROUPS.items() if adapter in names), None)
        override = case.clients.get(group) if group else None
    return _answers(case, override)


def server_answers(case: Case, family: str) -> tuple[Expect, ...]:
    """What each step of ``case`` must get from a real app under a server of ``family``."""
    return _answers(case, case.servers.get(family))


def on_servers(case: Case) -> bool:
    """Whether the real apps can run ``case`` (they run the ``default`` profile only)."""
    return case.profile == "default"


def on_clients(case: Case) -> bool:
    """Whether the test clients run ``case`` (not when it is about the connection itself)."""
    return case.raw_only is None

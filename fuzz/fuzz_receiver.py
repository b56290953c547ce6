#!/usr/bin/env python3
"""Coverage-guided fuzzing of ``Receiver.handle`` with atheris (libFuzzer for Python).

The fuzzer's input is read as a script (:class:`atheris.FuzzedDataProvider`): it decides the
receiver's settings (one secret or a rotation), the body (raw bytes, a sample event's JSON
mutated, or a payload built field by field), whether the body is signed correctly and with which
secret, the timestamp header (in or out of the window, seconds instead of milliseconds, junk),
the delivery id, content type and encoding, the method, the header container (a plain ``dict``,
a dict with mixed casings and duplicated names, ASGI's raw ``(bytes, bytes)`` pairs or the
adapter's header view, a WSGI environ with CGI names), whether the handler fails, and whether
the same request (or the same body under a new delivery id) is delivered again. Correct
signatures let the input past verification, into parsing, dedup and dispatch.

Each input gets a fresh receiver (memory store, a fixed injected clock), so a run is
deterministic and the dedup state never grows. The oracle, for every request:

* ``handle`` returns an :class:`Outcome` and raises nothing (the body is always raw bytes; a
  ``str`` body, a caller's mistake, must raise :class:`BodyTypeError` and nothing else);
* the status is one of the pipeline table's, and the body is JSON naming the refusal's code;
* a 2xx answer only for a correctly signed ``POST`` whose timestamp header is inside the window;
* 500 only when the handler raised; the handler runs at most once per body;
* a delivery answered 200 (processed) is a duplicate when delivered again, by delivery id or by
  body under a fresh delivery id.

Run it (see docs/hardening.md): ``python fuzz/fuzz_receiver.py -runs=20000 fuzz/corpus/receiver``.
"""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

import atheris

with atheris.instrument_imports(include=["cortexhooks_receiver"]):
    import cortexhooks_receiver as ch
    from cortexhooks_receiver._headers import HeaderView
    from cortexhooks_receiver.events.catalog import CATALOG
    from cortexhooks_receiver.events.samples import sample_data
    from cortexhooks_receiver.integrations.asgi import asgi_headers
    from cortexhooks_receiver.routing import Router
    from cortexhooks_receiver.signature import compute_signature

NOW = 1_764_000_000.0  # 2025-11-24T16:00:00Z, the receivers' fixed clock
NOW_MS = int(NOW * 1000)
SECRET = "whsec_fuzz_current_0123456789abcdef"
OLD_SECRET = "whsec_fuzz_previous_fedcba9876543210"
WRONG_SECRET = "whsec_fuzz_wrong_secret_00000000000"
TOLERANCE_MS = 300_000

EVENT_NAMES = [spec.name for spec in CATALOG]
STATUSES = frozenset({200, 400, 401, 405, 409, 413, 415, 500})
CONTENT_TYPES = [
    "application/json",
    "application/json; charset=utf-8",
    "APPLICATION/JSON",
    "application/vnd.cortexbuild+json",
    "text/plain",
    "application/x-www-form-urlencoded",
    "",
    " application/json ",
]
METHODS = ["POST", "POST", "POST", "POST", "GET", "PUT", "post", "DELETE", ""]
SIGNATURE = "X-CortexBuild-Signature"
TIMESTAMP = "X-CortexBuild-Timestamp"
DELIVERY = "X-CortexBuild-Delivery-Id"
WEBHOOK = "X-CortexBuild-Webhook-Id"
EVENT = "X-CortexBuild-Event"
CONTENT_TYPE = "Content-Type"
ENCODING = "Content-Encoding"
JSON_VALUES: list[Any] = [None, True, 0, -1, 1.5, 2**63, "", "x", [], {}, "2025-11-24", 1e308]

logging.disable(logging.CRITICAL)  # refusals are logged; the fuzzer checks answers, not logs


class Calls:
    """What the handler did for the current input."""

    fail = False
    runs: dict[bytes, int] = {}  # reset per input
    raised = False


def _handler(event: Any) -> None:
    key = bytes(event.raw)
    Calls.runs[key] = Calls.runs.get(key, 0) + 1
    if Calls.fail:
        Calls.raised = True
        raise RuntimeError("the handler failed, as the input asked")


ROUTER = Router("fuzz")
ROUTER.add(_handler, "*")


def _sample_body(fdp: atheris.FuzzedDataProvider) -> bytes:
    """A catalog event's JSON, with a fresh timestamp, then perhaps mutated byte-wise."""
    name = fdp.PickValueInList(EVENT_NAMES)
    payload: dict[str, Any] = {
        "event": name,
        "timestamp": NOW_MS - fdp.ConsumeIntInRange(-400_000, 90_000_000),
        "data": sample_data(name),
        "companyId": "comp-1",
        "userId": "user-789",
    }
    body = json.dumps(payload, separators=(",", ":")).encode()
    for _ in range(fdp.ConsumeIntInRange(0, 3)):
        if not body:
            break
        at = fdp.ConsumeIntInRange(0, len(body) - 1)
        how = fdp.ConsumeIntInRange(0, 3)
        if how == 0:  # overwrite one byte
            body = body[:at] + bytes([fdp.ConsumeInt(1) & 0xFF]) + body[at + 1 :]
        elif how == 1:  # insert fuzz bytes
            body = body[:at] + fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 16)) + body[at:]
        elif how == 2:  # cut a range out
            body = body[:at] + body[at + fdp.ConsumeIntInRange(1, 32) :]
        else:  # truncate
            body = body[:at]
    return body


def _fuzz_value(fdp: atheris.FuzzedDataProvider) -> Any:
    kind = fdp.ConsumeIntInRange(0, 5)
    if kind == 0:
        return fdp.PickValueInList(JSON_VALUES)
    if kind == 1:
        return fdp.ConsumeInt(8)
    if kind == 2:
        return fdp.ConsumeRegularFloat()
    if kind == 3:
        return fdp.ConsumeUnicodeNoSurrogates(fdp.ConsumeIntInRange(0, 24))
    if kind == 4:
        return [fdp.PickValueInList(JSON_VALUES) for _ in range(fdp.ConsumeIntInRange(0, 3))]
    return {fdp.ConsumeUnicodeNoSurrogates(8): fdp.PickValueInList(JSON_VALUES)}


def _structured_body(fdp: atheris.FuzzedDataProvider) -> bytes:
    """A payload built field by field: a known or unknown event, odd values in odd places."""
    name = (
        fdp.PickValueInList(EVENT_NAMES)
        if fdp.ConsumeBool()
        else fdp.ConsumeUnicodeNoSurrogates(fdp.ConsumeIntInRange(0, 20))
    )
    data: Any = sample_data(name) if name in EVENT_NAMES else {"id": "x-1"}
    payload: dict[str, Any] = {"event": name, "timestamp": NOW_MS - fdp.ConsumeIntInRange(0, 5000)}
    if fdp.ConsumeBool() and isinstance(data, dict) and data:
        field = fdp.PickValueInList(sorted(data))
        data[field] = _fuzz_value(fdp)
    payload["data"] = data if fdp.ConsumeIntInRange(0, 7) else _fuzz_value(fdp)
    for _ in range(fdp.ConsumeIntInRange(0, 2)):
        key = fdp.PickValueInList(["event", "timestamp", "data", "companyId", "userId", "extra"])
        payload[key] = _fuzz_value(fdp)
    if fdp.ConsumeBool():
        payload["companyId"] = "comp-1"
    try:
        return json.dumps(payload, separators=(",", ":"), ensure_ascii=fdp.ConsumeBool()).encode(
            "utf-8", "surrogatepass"
        )
    except ValueError:  # a float json refuses (inf/nan are allowed by default, so rare)
        return b"{}"


def _body(fdp: atheris.FuzzedDataProvider) -> bytes:
    kind = fdp.ConsumeIntInRange(0, 3)
    if kind == 0:
        return fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 512))
    if kind == 1:
        return _structured_body(fdp)
    return _sample_body(fdp)


def _signature(fdp: atheris.FuzzedDataProvider, body: bytes) -> tuple[str | None, bool]:
    """The signature header and whether it is a correct one for the receiver's secrets."""
    kind = fdp.ConsumeIntInRange(0, 9)
    if kind <= 4:
        return compute_signature(body, SECRET), True
    if kind == 5:
        return compute_signature(body, OLD_SECRET), None  # type: ignore[return-value]
    if kind == 6:
        return compute_signature(body, SECRET).upper(), True
    if kind == 7:
        return compute_signature(body, WRONG_SECRET), False
    if kind == 8:
        return None, False
    return fdp.ConsumeUnicode(fdp.ConsumeIntInRange(0, 80)), False


def _timestamp(fdp: atheris.FuzzedDataProvider) -> tuple[str | None, bool]:
    """The timestamp header and whether it lies inside the tolerance window."""
    kind = fdp.ConsumeIntInRange(0, 6)
    if kind <= 3:
        offset = fdp.ConsumeIntInRange(-TOLERANCE_MS, TOLERANCE_MS)
        return str(NOW_MS + offset), True
    if kind == 4:
        offset = fdp.ConsumeIntInRange(-10 * TOLERANCE_MS, 10 * TOLERANCE_MS)
        return str(NOW_MS + offset), abs(offset) <= TOLERANCE_MS
    if kind == 5:
        return str(int(NOW)), False  # seconds where milliseconds belong
    return (None, False) if fdp.ConsumeBool() else (fdp.ConsumeUnicode(20), False)


def _delivery_id(fdp: atheris.FuzzedDataProvider, index: int) -> str | None:
    kind = fdp.ConsumeIntInRange(0, 5)
    if kind <= 3:
        return f"dlv_fuzz_{index}_{fdp.ConsumeIntInRange(0, 3)}"
    if kind == 4:
        return None
    return fdp.ConsumeUnicode(fdp.ConsumeIntInRange(0, 140))


def _header_value(fdp: atheris.FuzzedDataProvider, value: str) -> Any:
    """Mostly the value as a str; sometimes bytes, a list of values, or a type no header has."""
    kind = fdp.ConsumeIntInRange(0, 15)
    if kind <= 11:
        return value
    if kind == 12:
        return value.encode("utf-8", "surrogatepass")
    if kind == 13:
        return [value]
    if kind == 14:
        return [value, value]
    return fdp.PickValueInList([None, 7, 1.5, object(), (value,)])


def _casing(fdp: atheris.FuzzedDataProvider, name: str) -> str:
    kind = fdp.ConsumeIntInRange(0, 3)
    if kind == 0:
        return name.lower()
    if kind == 1:
        return name.upper()
    return name


def _headers(fdp: atheris.FuzzedDataProvider, fields: dict[str, str], method: str) -> Any:
    """``fields`` (canonical names) in the container the input picks, maybe with duplicates."""
    form = fdp.ConsumeIntInRange(0, 4)
    duplicates = [
        (name, fdp.ConsumeUnicode(fdp.ConsumeIntInRange(0, 70)))
        for _ in range(fdp.ConsumeIntInRange(0, 2) if fdp.ConsumeIntInRange(0, 7) == 0 else 0)
        for name in [fdp.PickValueInList([SIGNATURE, TIMESTAMP, DELIVERY, CONTENT_TYPE])]
    ]
    if form == 0:  # a plain dict in canonical casing: the receiver's fast path
        return dict(fields)
    if form == 1:  # a dict in any casing, values of any type, names maybe twice
        result: dict[Any, Any] = {}
        for name, value in fields.items():
            result[_casing(fdp, name)] = _header_value(fdp, value)
        for name, value in duplicates:
            result[name.lower() if name in result else name] = value
        if fdp.ConsumeIntInRange(0, 15) == 0:
            result[fdp.PickValueInList([1, b"x-cortexbuild-signature", None])] = "junk"
        return result
    if form in (2, 3):  # ASGI: the scope's raw pairs, or the adapter's view of them
        pairs = [
            (name.lower().encode("latin-1", "replace"), value.encode("latin-1", "replace"))
            for name, value in [*fields.items(), *duplicates]
        ]
        if fdp.ConsumeBool():
            pairs.reverse()
        if form == 2:
            return pairs
        return asgi_headers({"type": "http", "headers": pairs})
    # WSGI: CGI names in an environ (the server has joined duplicates already)
    environ: dict[str, Any] = {"REQUEST_METHOD": method, "wsgi.version": (1, 0)}
    for name, value in [*fields.items(), *duplicates]:
        key = "CONTENT_TYPE" if name == CONTENT_TYPE else "HTTP_" + name.upper().replace("-", "_")
        previous = environ.get(key)
        environ[key] = value if previous is None else f"{previous}, {value}"
    if fdp.ConsumeIntInRange(0, 7) == 0:  # a header sent under its CGI name in a plain dict
        return {key: value for key, value in environ.items() if key.startswith(("HTTP_", "CON"))}
    return environ


def _check(outcome: Any, request: dict[str, Any]) -> None:
    assert isinstance(outcome, ch.Outcome), outcome
    status = outcome.status
    assert status in STATUSES, (status, outcome.body)
    answer = json.loads(outcome.body)
    assert isinstance(answer, dict), outcome.body
    if outcome.error is not None:
        assert answer.get("error") == outcome.error.code, (answer, outcome.error)
        assert status == outcome.error.status, (status, outcome.error)
    if 200 <= status < 300:
        assert request["method"] == "POST", request
        assert request["signed"], request
        assert request["in_window"], request
        assert outcome.event is not None
    if status == 500:
        assert Calls.raised, outcome


def run_one(data: bytes) -> list[tuple[str, int, str, bool]]:
    """Run one input: a receiver and one to three requests; check every answer.

    Returns what each request came to, ``(header form, status, error code, duplicate)``, for
    ``fuzz/make_corpus.py``, which keeps one seed per distinct result.
    """
    fdp = atheris.FuzzedDataProvider(data)
    rotation = fdp.ConsumeBool()
    receiver = ch.Receiver(
        secrets=[SECRET, OLD_SECRET] if rotation else [SECRET],
        router=ROUTER,
        now=lambda: NOW,
        max_body_bytes=fdp.PickValueInList([1_048_576, 1_048_576, 64, 300]),
    )
    Calls.fail = fdp.ConsumeIntInRange(0, 7) == 0
    Calls.runs = {}
    Calls.raised = False

    body = _body(fdp)
    signature, signed = _signature(fdp, body)
    if signed is None:  # signed with the previous secret: correct only during the rotation
        signed = rotation
    timestamp, in_window = _timestamp(fdp)
    method = fdp.PickValueInList(METHODS)
    fields: dict[str, str] = {}
    content_type = fdp.PickValueInList(CONTENT_TYPES) if fdp.ConsumeIntInRange(0, 9) else None
    if content_type is not None:
        fields[CONTENT_TYPE] = content_type
    if signature is not None:
        fields[SIGNATURE] = signature
    if timestamp is not None:
        fields[TIMESTAMP] = timestamp
    delivery_id = _delivery_id(fdp, 0)
    if delivery_id is not None:
        fields[DELIVERY] = delivery_id
    if fdp.ConsumeBool():
        fields[EVENT] = fdp.PickValueInList(EVENT_NAMES)
    if fdp.ConsumeIntInRange(0, 7) == 0:
        fields[WEBHOOK] = fdp.ConsumeUnicode(12)
    if fdp.ConsumeIntInRange(0, 11) == 0:
        fields[ENCODING] = fdp.PickValueInList(["gzip", "identity", " Identity ", "", "br"])
    wrapped: Any = fdp.PickValueInList([bytes, bytes, bytes, bytearray, memoryview])(body)
    request = {"method": method, "signed": signed, "in_window": in_window}

    headers = _headers(fdp, fields, method)
    outcome = receiver.handle(wrapped, headers, method)
    _check(outcome, request)
    seen = [(_form(headers), outcome.status, _code(outcome), outcome.duplicate)]

    # Again: the same request, or the same body under a new delivery id (a retry, a replay).
    previous_was_original = True
    for index in range(1, fdp.ConsumeIntInRange(1, 3)):
        was_processed = outcome.status == 200 and not outcome.duplicate
        if fdp.ConsumeBool():  # the very same request as the first
            retried = receiver.handle(wrapped, headers, method)
            must_be_duplicate = was_processed and previous_was_original
            previous_was_original = True
            _check(retried, request)
        else:  # the same body and signature under a fresh delivery id, in a plain dict
            again = {
                name: fields[name]
                for name in (CONTENT_TYPE, SIGNATURE, TIMESTAMP)
                if name in fields
            }
            again[DELIVERY] = f"dlv_again_{index}"
            retried = receiver.handle(body, again, "POST")
            must_be_duplicate = was_processed  # the body is remembered by its digest
            previous_was_original = False
            _check(retried, {**request, "method": "POST"})
        seen.append(("again", retried.status, _code(retried), retried.duplicate))
        if must_be_duplicate:
            assert retried.status == 200, (retried.status, retried.body)
            assert retried.duplicate, retried
        outcome = retried
    for count in Calls.runs.values():
        assert count == 1 or Calls.fail, Calls.runs

    if fdp.ConsumeIntInRange(0, 31) == 0:  # the caller's mistake: a str body
        try:
            receiver.handle(body.decode("latin-1"), dict(fields))
        except ch.BodyTypeError:
            pass
        else:
            raise AssertionError("a str body must raise BodyTypeError")
    return seen


def _form(headers: Any) -> str:
    if isinstance(headers, list):
        return "asgi-pairs"
    if isinstance(headers, HeaderView):
        return "asgi-view"
    if "wsgi.version" in headers:
        return "wsgi"
    return "dict"


def _code(outcome: Any) -> str:
    return "" if outcome.error is None else str(outcome.error.code)


def TestOneInput(data: bytes) -> None:
    """libFuzzer's entry point: run one input (see :func:`run_one`)."""
    run_one(data)


def main() -> None:
    """Run libFuzzer over :func:`TestOneInput` with the command-line arguments."""
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()


if __name__ == "__main__":
    main()

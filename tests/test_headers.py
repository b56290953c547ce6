"""Header lookup over every framework header container, and verification through each."""

from __future__ import annotations

import itertools
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pytest
from django.http.request import HttpHeaders
from django.utils.datastructures import CaseInsensitiveMapping
from starlette.datastructures import Headers as StarletteHeaders
from werkzeug.datastructures import EnvironHeaders
from werkzeug.datastructures import Headers as WerkzeugHeaders

from cortexhooks_receiver._headers import HeaderView, signature_headers, webhook_headers
from cortexhooks_receiver.errors import MalformedSignature, MissingSignature
from cortexhooks_receiver.signature import SecretKeys, compute_signature, verify_signature

NOW_MS = 1_762_698_600_000
BODY = b'{"event":"task.completed","timestamp":1762698600000,"data":{"id":"t_1"}}'
SECRET = "whsec_K2Fj8sL3mN9pQ4rT7vX1yZ5bC6dE8fG"
SIG = compute_signature(BODY, SECRET)
TS = str(NOW_MS)


def _environ(**extra: str) -> dict[str, str]:
    environ = {
        "REQUEST_METHOD": "POST",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(BODY)),
        "HTTP_X_CORTEXBUILD_SIGNATURE": SIG,
        "HTTP_X_CORTEXBUILD_TIMESTAMP": TS,
        "HTTP_X_CORTEXBUILD_EVENT": "task.completed",
    }
    environ.update(extra)
    return environ


PAIRS = [
    ("Content-Type", "application/json"),
    ("X-CortexBuild-Signature", SIG),
    ("X-CortexBuild-Timestamp", TS),
    ("X-CortexBuild-Event", "task.completed"),
]

# Each builder returns the headers of one signed request in the shape some framework uses.
CONTAINERS: dict[str, Callable[[], Any]] = {
    "dict canonical case": lambda: dict(PAIRS),
    "dict lower case": lambda: {k.lower(): v for k, v in PAIRS},
    "dict upper case": lambda: {k.upper(): v for k, v in PAIRS},
    "dict mixed case": lambda: {"x-CORTEXbuild-signature": SIG, "X-cortexBuild-TIMESTAMP": TS},
    "dict with bytes keys and values": lambda: {k.encode(): v.encode() for k, v in PAIRS},
    "dict of single-item lists": lambda: {k: [v] for k, v in PAIRS},
    "OrderedDict": lambda: OrderedDict(PAIRS),
    "WSGI environ": _environ,
    "Django request.META": _environ,
    "Werkzeug Headers": lambda: WerkzeugHeaders(PAIRS),
    "Werkzeug EnvironHeaders": lambda: EnvironHeaders(_environ()),
    "Starlette Headers": lambda: StarletteHeaders(dict(PAIRS)),
    "Starlette Headers from raw": lambda: StarletteHeaders(
        raw=[(k.lower().encode(), v.encode()) for k, v in PAIRS]
    ),
    "Django HttpHeaders": lambda: HttpHeaders(_environ()),
    "Django CaseInsensitiveMapping": lambda: CaseInsensitiveMapping(dict(PAIRS)),
    "ASGI raw pairs (bytes)": lambda: [(k.lower().encode(), v.encode()) for k, v in PAIRS],
    "ASGI raw pairs as a tuple": lambda: tuple((k.lower().encode(), v.encode()) for k, v in PAIRS),
    "list of str pairs": lambda: list(PAIRS),
    "list of two-item lists": lambda: [[k, v] for k, v in PAIRS],
    "list of bytearray pairs": lambda: [
        (bytearray(k.encode()), bytearray(v.encode())) for k, v in PAIRS
    ],
    "generator of pairs": lambda: (pair for pair in PAIRS),
}


@pytest.mark.parametrize("kind", list(CONTAINERS))
def test_signature_and_timestamp_are_found_in_every_container(kind: str) -> None:
    # Both are read in one pass, so even a generator (readable once) yields both.
    assert signature_headers(CONTAINERS[kind]()) == (SIG, TS)


@pytest.mark.parametrize("kind", [k for k in CONTAINERS if k != "generator of pairs"])
def test_signed_request_verifies_through_every_container(kind: str) -> None:
    digest = verify_signature(BODY, CONTAINERS[kind](), SecretKeys(SECRET), now=NOW_MS / 1000)
    assert digest == bytes.fromhex(SIG)


@pytest.mark.parametrize("kind", [k for k in CONTAINERS if k != "generator of pairs"])
def test_absent_header_is_none_in_every_container(kind: str) -> None:
    assert webhook_headers(CONTAINERS[kind]())[4] is None  # no delivery id was sent


def test_wsgi_content_type_has_no_http_prefix() -> None:
    environ = _environ(HTTP_X_CORTEXBUILD_DELIVERY_ID="dlv_1", HTTP_CONTENT_ENCODING="identity")
    assert webhook_headers(environ) == ("application/json", "identity", SIG, TS, "dlv_1", None)


def test_header_names_have_the_guides_spelling() -> None:
    headers = {
        "Content-Type": "application/json",
        "Content-Encoding": "identity",
        "X-CortexBuild-Signature": SIG,
        "X-CortexBuild-Timestamp": TS,
        "X-CortexBuild-Delivery-Id": "dlv_1",
        "X-CortexBuild-Webhook-Id": "webhook-1",
    }
    assert webhook_headers(headers) == (*headers.values(),)


def test_bytes_values_are_decoded_as_latin1() -> None:
    assert webhook_headers([(b"x-cortexbuild-delivery-id", b"caf\xe9")])[4] == "caf\xe9"


# --- duplicates: joined, then refused by the format check --------------------------------------

DUPLICATES: dict[str, Callable[[str, str], Any]] = {
    "ASGI raw pairs": lambda a, b: [
        (b"x-cortexbuild-signature", a.encode()),
        (b"x-cortexbuild-signature", b.encode()),
        (b"x-cortexbuild-timestamp", TS.encode()),
    ],
    "list of pairs with differing case": lambda a, b: [
        ("X-CortexBuild-Signature", a),
        ("x-cortexbuild-signature", b),
        ("X-CortexBuild-Timestamp", TS),
    ],
    "dict of lists": lambda a, b: {
        "X-CortexBuild-Signature": [a, b],
        "X-CortexBuild-Timestamp": TS,
    },
    "dict with two spellings": lambda a, b: {
        "X-CortexBuild-Signature": a,
        "x-cortexbuild-signature": b,
        "X-CortexBuild-Timestamp": TS,
    },
    "joined by a proxy": lambda a, b: {
        "X-CortexBuild-Signature": f"{a}, {b}",
        "X-CortexBuild-Timestamp": TS,
    },
    "WSGI environ joined by the server": lambda a, b: _environ(
        HTTP_X_CORTEXBUILD_SIGNATURE=f"{a},{b}"
    ),
    "Werkzeug Headers": lambda a, b: WerkzeugHeaders(
        [
            ("X-CortexBuild-Signature", a),
            ("X-CortexBuild-Signature", b),
            ("X-CortexBuild-Timestamp", TS),
        ]
    ),
    "Starlette Headers": lambda a, b: StarletteHeaders(
        raw=[
            (b"x-cortexbuild-signature", a.encode()),
            (b"x-cortexbuild-signature", b.encode()),
            (b"x-cortexbuild-timestamp", TS.encode()),
        ]
    ),
}


@pytest.mark.parametrize("kind", list(DUPLICATES))
def test_duplicate_signature_headers_are_refused_even_when_one_is_valid(kind: str) -> None:
    # Which of two signatures counts is ambiguous (and proxies disagree): refuse both orders.
    for first, second in ((SIG, "0" * 64), ("0" * 64, SIG), (SIG, SIG)):
        headers = DUPLICATES[kind](first, second)
        with pytest.raises(MalformedSignature):
            verify_signature(BODY, headers, SecretKeys(SECRET), now=NOW_MS / 1000)


def test_duplicates_are_joined_with_comma_space() -> None:
    headers = [(b"x-cortexbuild-delivery-id", b"a"), (b"X-CortexBuild-Delivery-Id", b"b")]
    assert webhook_headers(headers)[4] == "a, b"


# --- containers of unexpected shape -------------------------------------------------------------


class ExplodingMapping(Mapping[str, str]):
    def __getitem__(self, key: str) -> str:
        raise RuntimeError("boom")

    def __iter__(self) -> Iterator[str]:
        raise RuntimeError("boom")

    def __len__(self) -> int:
        return 1


class CaseSensitiveMapping(Mapping[str, str]):
    """A read-only mapping that only answers its exact key spelling."""

    def __init__(self, data: dict[str, str]) -> None:
        self._data = data

    def __getitem__(self, key: str) -> str:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)


def _exploding_pairs() -> Iterator[tuple[str, str]]:
    yield ("x-other", "1")
    raise RuntimeError("boom")


def _self_nested() -> list[Any]:
    value: list[Any] = []
    value.append(value)
    return value


@pytest.mark.parametrize(
    "headers",
    [
        None,
        42,
        3.5,
        "X-CortexBuild-Signature: abc",
        b"X-CortexBuild-Signature",
        object(),
        [],
        {},
        [None, 1, "ab", ("only-one",), ("a", "b", "c")],
        [(1, 2), (None, SIG)],
        {"X-CortexBuild-Signature": 12345},
        {"X-CortexBuild-Signature": None},
        {"X-CortexBuild-Signature": object()},
        {"X-CortexBuild-Signature": []},
        {"X-CortexBuild-Signature": _self_nested()},
        {"x-cortexbuild-signature": [[[[[[[[_self_nested()]]]]]]]]},
        [("X-CortexBuild-Signature", _self_nested())],
        {1: SIG, None: SIG, (1, 2): SIG},
        ExplodingMapping(),
        _exploding_pairs(),
        itertools.islice(itertools.count(), 5),
    ],
    ids=repr,
)
def test_unreadable_containers_and_values_count_as_absent(headers: Any) -> None:
    assert signature_headers(headers)[0] is None


@pytest.mark.parametrize(
    "headers",
    [None, 42, object(), {"X-CortexBuild-Signature": _self_nested()}, ExplodingMapping()],
    ids=repr,
)
def test_unreadable_headers_verify_as_missing_signature(headers: Any) -> None:
    with pytest.raises(MissingSignature):
        verify_signature(BODY, headers, SecretKeys(SECRET), now=NOW_MS / 1000)


def test_case_sensitive_mapping_is_scanned_when_no_spelling_matches() -> None:
    headers = CaseSensitiveMapping({"X-CORTEXBUILD-SIGNATURE": SIG})
    assert signature_headers(headers)[0] == SIG


def test_dict_is_scanned_for_unusual_casing() -> None:
    assert signature_headers({"X-CORTEXBUILD-SIGNATURE": SIG})[0] == SIG
    bytes_keys: Any = {b"X-CortexBuild-Signature": SIG}
    assert signature_headers(bytes_keys)[0] == SIG


@pytest.mark.parametrize(
    "container",
    [
        lambda: [("HTTP_X_CORTEXBUILD_SIGNATURE", SIG)],
        lambda: [(b"http_x_cortexbuild_signature", SIG.encode())],  # what uvicorn passes on
        lambda: {"http_x_cortexbuild_signature": SIG},
        lambda: HeaderView({"http_x_cortexbuild_signature": SIG}),
    ],
    ids=["pairs", "asgi-raw", "dict", "header-view"],
)
def test_cgi_spellings_are_unknown_headers_outside_an_environ(container: Any) -> None:
    # A proxy that filters X-CortexBuild-* would let HTTP_X_CORTEXBUILD_* through: only a WSGI
    # environ (or Django's META) is read by CGI names.
    assert signature_headers(container())[0] is None
    assert webhook_headers(container())[2] is None


def test_django_meta_without_wsgi_version_is_an_environ() -> None:
    meta = {"REQUEST_METHOD": "POST", "HTTP_X_CORTEXBUILD_SIGNATURE": SIG}  # META under ASGI
    assert signature_headers(meta)[0] == SIG

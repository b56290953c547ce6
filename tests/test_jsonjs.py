"""The sender's body encoder produces exactly the bytes JavaScript's JSON.stringify produces.

Unit cases pin the known differences from :func:`json.dumps`; the differential test feeds
hypothesis-generated payloads to one long-lived Node.js process and compares bytes.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cortexhooks_receiver.sender.jsonjs import dumps, format_number

NODE_SCRIPT = Path(__file__).parent / "node" / "stringify.js"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1e21, "1e+21"),
        (1e-7, "1e-7"),
        (0.1, "0.1"),
        (100.0, "100"),
        (-0.0, "0"),
        (0.0, "0"),
        (1e20, "100000000000000000000"),
        (123456789012345680000.0, "123456789012345680000"),
        (1.5e300, "1.5e+300"),
        (-2.5e-7, "-2.5e-7"),
        (0.000001, "0.000001"),
        (0.0000012345, "0.0000012345"),
        (5e-324, "5e-324"),
        (1.7976931348623157e308, "1.7976931348623157e+308"),
        (float("nan"), "null"),
        (float("inf"), "null"),
        (float("-inf"), "null"),
        (42, "42"),
        (-(2**53), "-9007199254740992"),
        (2**53 + 1, "9007199254740992"),
        (10**21, "1e+21"),
        (10**400, "null"),
        (Decimal("100.50"), "100.5"),
        (Decimal("1E+21"), "1e+21"),
        (Decimal("NaN"), "null"),
    ],
)
def test_numbers_are_formatted_like_javascript(value: Any, expected: str) -> None:
    assert format_number(value) == expected
    assert dumps(value) == expected.encode()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('a"b\\c', '"a\\"b\\\\c"'),
        ("\b\f\n\r\t", '"\\b\\f\\n\\r\\t"'),
        ("\x00\x1f\x7f", '"\\u0000\\u001f\x7f"'),
        ("é€😀", '"é€😀"'),
        ("\u2028\u2029", '"\u2028\u2029"'),
        ("\ud800", '"\\ud800"'),
        ("x\udfffy", '"x\\udfffy"'),
        ("\ud83d\ude00", '"😀"'),
        ("/", '"/"'),
    ],
)
def test_strings_are_escaped_like_javascript(value: str, expected: str) -> None:
    assert dumps(value) == expected.encode("utf-8")


def test_guide_payload_is_compact_raw_utf8() -> None:
    payload = {
        "event": "task.completed",
        "timestamp": 1699545600000,
        "data": {"id": "task-123", "title": "Câble électrique", "done": True, "cost": 12.0},
        "companyId": "comp-1",
        "userId": None,
    }
    assert (
        dumps(payload)
        == (
            '{"event":"task.completed","timestamp":1699545600000,"data":{"id":"task-123",'
            '"title":"Câble électrique","done":true,"cost":12},"companyId":"comp-1","userId":null}'
        ).encode()
    )


def test_array_index_keys_come_first_in_ascending_order() -> None:
    value = {"b": 1, "10": 2, "2": 3, "01": 4, "4294967295": 5, "4294967294": 6, 7: 8}
    assert dumps(value) == (b'{"2":3,"7":8,"10":2,"4294967294":6,"b":1,"01":4,"4294967295":5}')


def test_datetime_is_encoded_as_date_to_json() -> None:
    moment = datetime(2025, 11, 9, 15, 30, 0, 123456, tzinfo=timezone(timedelta(hours=1)))
    assert dumps({"at": moment}) == b'{"at":"2025-11-09T14:30:00.123Z"}'


@pytest.mark.parametrize(
    ("value", "error"),
    [
        ({1j: 1}, TypeError),
        (object(), TypeError),
        (datetime(2025, 1, 1), TypeError),  # naive on purpose
        ({(1, 2): 3}, TypeError),
    ],
)
def test_values_javascript_cannot_encode_are_refused(value: Any, error: type[Exception]) -> None:
    with pytest.raises(error):
        dumps(value)


def test_circular_structures_are_refused() -> None:
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises(ValueError, match="circular"):
        dumps(loop)


def test_the_same_object_twice_is_not_circular() -> None:
    shared = {"a": 1}
    assert dumps([shared, shared]) == b'[{"a":1},{"a":1}]'


# --- differential test against Node.js ------------------------------------------------------


class NodeOracle:
    """One node process; each call writes one tagged JSON line and reads one stringified line."""

    def __init__(self, node: str) -> None:
        self.proc = subprocess.Popen(
            [node, str(NODE_SCRIPT)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            bufsize=0,
        )

    def stringify(self, value: Any) -> bytes:
        assert self.proc.stdin is not None
        assert self.proc.stdout is not None
        line = json.dumps(_tag(value), ensure_ascii=True, allow_nan=False) + "\n"
        self.proc.stdin.write(line.encode("ascii"))
        self.proc.stdin.flush()
        return self.proc.stdout.readline().rstrip(b"\n")

    def close(self) -> None:
        assert self.proc.stdin is not None
        assert self.proc.stdout is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=10)
        self.proc.stdout.close()


def _tag(value: Any) -> Any:
    if isinstance(value, dict):
        return {"t": "o", "v": [[_js_key(k), _tag(v)] for k, v in value.items()]}
    if isinstance(value, list):
        return {"t": "a", "v": [_tag(v) for v in value]}
    if isinstance(value, Decimal):
        value = float(value)
    if isinstance(value, float) and not math.isfinite(value):
        spelled = "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
        return {"t": "n", "v": spelled}
    return value


def _js_key(key: Any) -> str:
    return key if isinstance(key, str) else format_number(key)


@pytest.fixture(scope="module")
def node_oracle() -> Iterator[NodeOracle]:
    node = shutil.which("node")
    if node is None:
        if IN_CI:
            pytest.fail("node is required in CI for the JSON.stringify differential test")
        pytest.skip("node (Node.js) is not installed; the differential test needs it")
    oracle = NodeOracle(node)
    yield oracle
    oracle.close()


_text = st.text(st.characters(exclude_categories=()), max_size=12) | st.sampled_from(
    ["", "0", "1", "01", "10", "4294967294", "4294967295", "-1", "1.5", "__proto__", "\ud800"]
)
_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**64), max_value=2**64)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.floats(min_value=1e-8, max_value=1e-5)
    | st.floats(min_value=1e19, max_value=1e23)
    | st.decimals(places=2, min_value=-(10**9), max_value=10**9)
    | _text
)
_values = st.recursive(
    _scalars,
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(_text | st.integers(min_value=0, max_value=2**33), children, max_size=5)
    ),
    max_leaves=25,
)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=_values)
def test_encoding_matches_node_json_stringify_byte_for_byte(
    node_oracle: NodeOracle, value: Any
) -> None:
    assert dumps(value) == node_oracle.stringify(value)


@settings(max_examples=1000, deadline=None)
@given(number=st.floats() | st.integers(min_value=-(2**80), max_value=2**80))
def test_number_formatting_matches_node(node_oracle: NodeOracle, number: float | int) -> None:
    assert dumps(number) == node_oracle.stringify(number)


def test_node_oracle_sees_the_difference_from_json_dumps(node_oracle: NodeOracle) -> None:
    value = {"amount": 100.0, "tiny": 1e-7, "name": "é"}
    assert json.dumps(value).encode() != node_oracle.stringify(value)
    assert dumps(value) == node_oracle.stringify(value)
    assert dumps(value) == b'{"amount":100,"tiny":1e-7,"name":"\xc3\xa9"}'
    assert dumps(datetime(2025, 1, 1, tzinfo=UTC)) == b'"2025-01-01T00:00:00.000Z"'

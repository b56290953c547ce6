"""Hypothesis strategies for CortexBuild payloads, derived from the event catalog and its models.

Only this module imports hypothesis (a test dependency): importing
``cortexhooks_receiver.testing`` does not.

* :func:`event_names` / :func:`unknown_event_names`: catalog names / names it does not know;
* :func:`payloads`: valid payload dicts for catalog events, every field value drawn from the
  model's own type (optional fields sometimes omitted or null);
* :func:`bodies`: those payloads encoded as the platform would (``JSON.stringify`` bytes);
* :func:`events`: the typed events decoded from such bodies;
* :func:`json_values`: arbitrary JSON-like values, for fuzzing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

import msgspec
from hypothesis import strategies as st

from cortexhooks_receiver.events import CATALOG, AnyEvent, decode_event
from cortexhooks_receiver.events._envelope import MAX_TIMESTAMP_MS
from cortexhooks_receiver.testing.factories import encode_payload

__all__ = [
    "bodies",
    "event_names",
    "events",
    "json_values",
    "payloads",
    "struct_data",
    "unknown_event_names",
]

_JS_SAFE = 2**53


def event_names() -> st.SearchStrategy[str]:
    """Names of catalog events (``"invoice.paid"``...)."""
    return st.sampled_from(CATALOG.names())


def unknown_event_names() -> st.SearchStrategy[str]:
    """Well-formed event names that are not in the catalog (``"crane.moved"``...)."""
    return st.from_regex(r"\A[a-z]{1,12}\.[a-z_]{1,20}\Z").filter(lambda name: name not in CATALOG)


def _iso_datetime(value: dt.datetime) -> str:
    # Date.prototype.toISOString(): always UTC, milliseconds, "Z".
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def _for_type(info: msgspec.inspect.Type) -> st.SearchStrategy[Any]:
    """A strategy of JSON values that decode into the msgspec type described by ``info``."""
    mi = msgspec.inspect
    if isinstance(info, mi.StrType):
        return st.text(max_size=40)
    if isinstance(info, mi.BoolType):
        return st.booleans()
    if isinstance(info, mi.IntType):
        return st.integers(-_JS_SAFE, _JS_SAFE)
    if isinstance(info, mi.DecimalType):
        return st.decimals(
            min_value=Decimal("-1e12"), max_value=Decimal("1e12"), places=2, allow_nan=False
        )
    if isinstance(info, mi.DateTimeType):
        return st.datetimes(
            min_value=dt.datetime(1970, 1, 1), max_value=dt.datetime(9999, 12, 31)
        ).map(_iso_datetime)
    if isinstance(info, mi.DateType):
        return st.dates(min_value=dt.date(1, 1, 1)).map(dt.date.isoformat)
    if isinstance(info, mi.NoneType):
        return st.none()
    if isinstance(info, mi.UnionType):
        return st.one_of([_for_type(member) for member in info.types])
    if isinstance(info, mi.VarTupleType | mi.ListType):
        return st.lists(_for_type(info.item_type), max_size=4)
    if isinstance(info, mi.DictType):
        return st.dictionaries(st.text(max_size=10), _for_type(info.value_type), max_size=4)
    if isinstance(info, mi.StructType):
        return _struct(info)
    if isinstance(info, mi.AnyType):
        return json_values(finite=True)
    raise NotImplementedError(f"no strategy for {info!r}")  # pragma: no cover - new model type


def _struct(info: msgspec.inspect.StructType) -> st.SearchStrategy[dict[str, Any]]:
    required = {f.encode_name: _for_type(f.type) for f in info.fields if f.required}
    optional = {f.encode_name: _for_type(f.type) for f in info.fields if not f.required}
    return st.fixed_dictionaries(required, optional=optional)


def struct_data(model: type[msgspec.Struct]) -> st.SearchStrategy[dict[str, Any]]:
    """JSON objects (camelCase keys) that decode into ``model``; optional fields may be absent."""
    info = msgspec.inspect.type_info(model)
    assert isinstance(info, msgspec.inspect.StructType)
    return _struct(info)


def payloads(
    names: Iterable[str] | None = None, *, timestamp: int | None = None
) -> st.SearchStrategy[dict[str, Any]]:
    """Valid payload dicts for catalog events (all of them, or ``names``).

    ``timestamp`` fixes the body timestamp (e.g. now, for a receiver); otherwise any valid one.

    Raises:
        KeyError: a name in ``names`` is not in the catalog.
    """
    chosen = list(CATALOG.names() if names is None else names)
    per_name = []
    for name in chosen:
        spec = CATALOG[name]
        per_name.append(
            st.fixed_dictionaries(
                {
                    "event": st.just(name),
                    "timestamp": st.integers(0, MAX_TIMESTAMP_MS)
                    if timestamp is None
                    else st.just(timestamp),
                    "data": struct_data(spec.data_model),
                },
                optional={
                    "companyId": st.text(max_size=20) | st.none(),
                    "userId": st.text(max_size=20) | st.none(),
                },
            )
        )
    return st.one_of(per_name)


def bodies(
    names: Iterable[str] | None = None, *, timestamp: int | None = None
) -> st.SearchStrategy[bytes]:
    """:func:`payloads` encoded as the platform would send them (``JSON.stringify`` bytes)."""
    return payloads(names, timestamp=timestamp).map(encode_payload)


def events(
    names: Iterable[str] | None = None, *, timestamp: int | None = None
) -> st.SearchStrategy[AnyEvent]:
    """Typed events decoded from :func:`bodies`."""
    return bodies(names, timestamp=timestamp).map(decode_event)


def json_values(*, finite: bool = False) -> st.SearchStrategy[Any]:
    """Arbitrary JSON-like values: null, booleans, numbers (huge ints, and NaN/inf unless
    ``finite``), strings, and nested lists and string-keyed dicts."""
    numbers: list[st.SearchStrategy[Any]]
    if finite:
        numbers = [
            st.integers(-_JS_SAFE, _JS_SAFE),
            st.floats(allow_nan=False, allow_infinity=False),
        ]
    else:
        numbers = [st.integers(), st.floats()]
    scalars: st.SearchStrategy[Any] = st.one_of(
        st.none(), st.booleans(), st.text(max_size=20), *numbers
    )
    return st.recursive(
        scalars,
        lambda children: (
            st.lists(children, max_size=4)
            | st.dictionaries(st.text(max_size=10), children, max_size=4)
        ),
        max_leaves=20,
    )

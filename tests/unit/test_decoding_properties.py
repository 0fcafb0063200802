"""The request decoder, as a property: whatever the bytes, a body is the declared type or a 4xx.

Generated bodies mix valid JSON values in every declared field with what an attacker sends:
nests deeper than the interpreter's recursion limit, numbers past every integer and float range,
invalid UTF-8 and lone surrogates, repeated keys, and random bytes.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shop.api.framework.decoding import parse_body
from shop.api.framework.problems import status_and_title
from shop.api.routes import ROUTES
from shop.api.types.inputs import ChargeRequest, Input, MintToken, NoInput
from shop.domain.errors import ShopError

BODY_TYPES = sorted(
    {r.signature.body for r in ROUTES if r.signature.body is not NoInput}, key=lambda t: t.__name__
)

# Each a JSON text (bytes) that is hostile on its own or once placed inside an object.
_HOSTILE_VALUES = st.one_of(
    st.integers(min_value=2, max_value=5000).map(lambda n: b"[" * n + b"]" * n),
    st.integers(min_value=2, max_value=5000).map(lambda n: b'{"a":' * n + b"1" + b"}" * n),
    st.integers(min_value=20, max_value=6000).map(lambda n: b"9" * n),
    st.sampled_from([b"1e400", b"-1e400", b"14.0", b"1E2", b"-0", b"NaN", b"Infinity", b"0x10"]),
    st.binary(min_size=1, max_size=8).map(lambda b: b'"' + b.replace(b'"', b"") + b'"'),
    st.sampled_from([b'"\\ud800"', b'"\\udfff\\ud800"', b'"\xff\xfe"', b'"\xc0\x80"', b'"\x00"']),
)
_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=10,
).map(lambda v: json.dumps(v).encode())


def _valid(kind: msgspec.inspect.Type) -> st.SearchStrategy[bytes]:
    """JSON texts of one declared field type (the ones the body types use)."""
    values: st.SearchStrategy[object]
    if isinstance(kind, msgspec.inspect.IntType):
        values = st.integers(min_value=kind.ge or 0, max_value=kind.le or 10**6)
    elif isinstance(kind, msgspec.inspect.StrType):
        values = st.text("abc-1", min_size=max(kind.min_length or 1, 1), max_size=10)
    elif isinstance(kind, msgspec.inspect.EnumType):
        values = st.sampled_from([member.value for member in kind.cls])
    elif isinstance(kind, msgspec.inspect.DateTimeType):
        values = st.datetimes(timezones=st.just(UTC)).map(datetime.isoformat)
    elif isinstance(kind, msgspec.inspect.UnionType):
        return st.one_of([_valid(member) for member in kind.types])
    elif isinstance(kind, msgspec.inspect.NoneType):
        values = st.none()
    else:
        values = st.sampled_from(["on", "off", "normal", True, 1])
    return values.map(lambda v: json.dumps(v).encode())


@st.composite
def _bodies(draw: st.DrawFn, kind: type[Input]) -> bytes:
    """A valid body of `kind` (so the typed decoder passes it) with hostile members added or
    swapped in: the checks after the typed decoder must refuse what it skipped."""
    members = {
        json.dumps(f.encode_name).encode(): draw(_valid(f.type))
        for f in msgspec.inspect.type_info(kind).fields  # type: ignore[attr-defined]
        if f.required or draw(st.booleans())
    }
    for _ in range(draw(st.integers(min_value=0, max_value=3))):
        key = draw(st.sampled_from([*members, b'"extra"', b'"\xff"', b'"x"']))
        members[key] = draw(_HOSTILE_VALUES | _JSON_VALUES)
    pairs = [k + b":" + v for k, v in members.items()]
    if pairs and draw(st.booleans()):
        pairs.append(draw(st.sampled_from(pairs)))  # a key named twice
    return b"{" + b",".join(draw(st.permutations(pairs))) + b"}"


def _refused_as_4xx(raw: bytes, kind: type[Input]) -> None:
    refusal: ShopError | None = None
    try:
        value = parse_body(raw, kind)
    except ShopError as error:
        refusal = error
    if refusal is None:
        assert isinstance(value, kind)
    else:
        status, _ = status_and_title(refusal)
        assert 400 <= status < 500, (status, refusal.message)
        assert refusal.message


@pytest.mark.parametrize("kind", BODY_TYPES, ids=lambda t: t.__name__)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_any_body_is_the_declared_type_or_a_4xx(kind: type[Input], data: st.DataObject) -> None:
    raw = data.draw(_bodies(kind) | st.binary(max_size=200) | _HOSTILE_VALUES | _JSON_VALUES)
    _refused_as_4xx(raw, kind)


@pytest.mark.parametrize("kind", BODY_TYPES, ids=lambda t: t.__name__)
def test_the_known_hostile_bodies_are_4xx(kind: type[Input]) -> None:
    """The issue's cases, always run (a property test may not draw them in a given run)."""
    deep = sys.getrecursionlimit() * 3
    for raw in (
        b'{"userId": ' + b"[" * deep + b"]" * deep + b"}",
        b'{"x": ' + b'{"a":' * deep + b"1" + b"}" * deep + b"}",
        b'{"x": 1' + b"0" * 5000 + b"}",
        b'{"x": "\xff\xfe"}',
        b'{"\xff": 1}',
        b'{"x": 1, "x": 2}',
    ):
        with pytest.raises(ShopError) as refused:
            parse_body(raw, kind)
        assert status_and_title(refused.value)[0] == 400, raw[:40]


def test_an_integral_float_is_its_integer_and_a_fraction_is_refused() -> None:
    assert parse_body(b'{"amount": 14.0}', ChargeRequest).amount == 14
    token = parse_body(b'{"userId": "u-1", "ttlSeconds": 3e2}', MintToken)
    assert (token.user_id, token.ttl_seconds) == ("u-1", 300)
    for body, kind in (
        (b'{"amount": 14.5}', ChargeRequest),
        (b'{"amount": 1e300}', ChargeRequest),
        (b'{"amount": 14.0, "amount": 15}', ChargeRequest),
        (b'{"userId": 1.0, "ttlSeconds": 3.0}', MintToken),
    ):
        with pytest.raises(ShopError) as refused:
            parse_body(body, kind)
        assert status_and_title(refused.value)[0] == 400, body

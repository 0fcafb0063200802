"""Requests into the declared input types: every malformed, missing or out-of-range value is a 4xx.

msgspec decodes and validates in one pass against the types of `inputs.py`; its messages are
turned into the contract's codes (COMMON001 for a missing or null field, COMMON002 otherwise).
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Mapping
from functools import cache
from typing import Any, TypeVar

import msgspec
from aiohttp import web

from ...domain.errors import InvalidInput, MissingField, ShopError
from ...keys import SETTINGS
from ..types.inputs import Input, NoInput
from .http_errors import RequestTimeout, UnsupportedMediaType

T = TypeVar("T", bound=Input)
JSON = "application/json"
_AT = re.compile(r" - at `\$\.?(?P<field>[^`]*)`$")
_MISSING = re.compile(r"Object missing required field `(?P<field>[^`]+)`")


@cache
def _decoder(kind: type[T]) -> msgspec.json.Decoder[T]:
    return msgspec.json.Decoder(kind)


def refusal(where: str, error: msgspec.MsgspecError) -> ShopError:
    """A msgspec error as the contract's 400: missing/null is COMMON001, the rest COMMON002."""
    text = str(error)
    at = _AT.search(text)
    field = at["field"] if at else ""
    reason = text[: at.start()] if at else text
    missing = _MISSING.fullmatch(reason)
    if missing:
        name = f"{field}.{missing['field']}" if field else missing["field"]
        return MissingField(f"{where} field '{name}' is required")
    if reason.endswith("got `null`"):
        return MissingField(f"{where} field '{field}' is required")
    if isinstance(error, msgspec.DecodeError):
        return InvalidInput(f"malformed JSON: {reason}")
    return InvalidInput(f"{where} field '{field}': {reason}" if field else f"{where}: {reason}")


def _refuse_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise InvalidInput(f"body field '{key}' appears twice")
        found[key] = value
    return found


_PAIRS = json.JSONDecoder(object_pairs_hook=_refuse_duplicates)
_ANY = msgspec.json.Decoder()


def _keys(value: Any) -> int:
    """How many keys all the objects in a decoded value hold (a loop, not a generator: hot)."""
    count = 0
    if isinstance(value, dict):
        count = len(value)
        value = value.values()
    elif not isinstance(value, list):
        return 0
    for item in value:
        if isinstance(item, dict | list):
            count += _keys(item)
    return count


def check_no_duplicate_keys(raw: bytes) -> None:
    """Refuse an object that names a key twice (decoders differ on which one wins).

    Every key is followed by a colon, so when the body holds exactly as many colons as the
    decoded value has keys, no key was repeated: the common case costs a count and a fast
    decode (measured in docs/benchmarks/codec.md). Colons inside strings (timestamps) fall
    back to the exact check by the standard library's pair-wise decoder.
    """
    if raw.count(b":") == _keys(_ANY.decode(raw)):
        return
    _PAIRS.decode(raw.decode())


def _integral_floats_as_ints(value: Any) -> Any:
    """`14.0` as `14`: JSON has one number type and JSON Schema counts 14.0 as an integer, so a
    client (or a generator) that writes an integer that way is understood; `14.5` still is not.
    Only bodies the typed decoder refused take this path, so valid requests pay nothing."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: _integral_floats_as_ints(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_integral_floats_as_ints(item) for item in value]
    return value


def parse_body(raw: bytes, kind: type[T]) -> T:
    """A JSON body as `kind`, or a 4xx ShopError: never anything else, whatever the bytes.

    The typed decoder skips undeclared fields without looking inside them, so invalid UTF-8,
    an out-of-range number or a deep nest there first meets the duplicate-key check's decoders;
    both kinds of refusal are mapped here (tests/unit/test_decoding_properties.py holds it).
    """
    if not raw.strip():
        raise MissingField("a JSON body is required")
    try:
        try:
            value: T = _decoder(kind).decode(raw)
        except msgspec.ValidationError as error:
            if not str(error).startswith("Expected `int"):
                raise
            value = msgspec.convert(_integral_floats_as_ints(_ANY.decode(raw)), kind)
        check_no_duplicate_keys(raw)
    except msgspec.MsgspecError as error:
        raise refusal("body", error) from None
    except RecursionError:
        raise InvalidInput("malformed JSON: nested too deeply") from None
    except ValueError as error:  # the standard library's decoder: bad UTF-8, 4300+ digit ints
        raise InvalidInput(f"malformed JSON: {error}") from None
    return value


async def decode_body(request: web.Request, kind: type[T]) -> T:
    """The request's JSON body as `kind`; NoInput reads nothing."""
    if kind is NoInput:
        return kind()
    header = request.headers.get("Content-Type")
    if header is not None and not _is_json(request):
        raise UnsupportedMediaType(f"the body must be UTF-8 application/json, not {header}")
    if request.content.is_eof():  # arrived with the headers (the usual case): no timer needed
        raw = await request.read()
    else:
        raw = await _read_in_time(request)
    if header is None and raw.strip():  # never guess what an unlabelled body is
        raise UnsupportedMediaType("a body needs 'Content-Type: application/json'")
    return parse_body(raw, kind)


def _is_json(request: web.Request) -> bool:
    # JSON is UTF-8 (RFC 8259 section 8.1): a body labelled with another charset is not read.
    if request.content_type != JSON:
        return False
    charset = request.charset
    return charset is None or charset.lower() in ("utf-8", "utf8")


async def _read_in_time(request: web.Request) -> bytes:
    # A slow client may not hold the connection: the body has the same bound as the headers.
    seconds = request.app[SETTINGS].client_timeout
    try:
        async with asyncio.timeout(seconds):
            return await request.read()
    except TimeoutError:
        raise RequestTimeout(f"the body did not arrive within {seconds:g} s") from None


def decode_params(values: Mapping[str, str], kind: type[T], *, where: str) -> T:
    """Path or query parameters as `kind`; an empty query value counts as absent."""
    if kind is NoInput:
        return kind()
    present = {name: value for name, value in values.items() if value != ""}
    try:
        value: T = msgspec.convert(present, kind, strict=False)
    except msgspec.ValidationError as error:
        raise refusal(where, error) from None
    return value

"""Request parsing: every malformed, missing or out-of-range value becomes a clear 400."""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar

import orjson
from aiohttp import web

from ..domain.errors import InvalidInput, MissingField

E = TypeVar("E", bound=enum.Enum)
_DIGITS = re.compile(r"-?[0-9]{1,19}")
MAX_ID_LENGTH = 64


class Fields:
    """Typed access to a JSON object or a query string, naming the field in every error."""

    def __init__(self, values: Mapping[str, Any], *, where: str, from_text: bool) -> None:
        self._values = values
        self._where = where
        self._from_text = from_text

    def _raw(self, name: str, required: bool) -> Any:
        value = self._values.get(name)
        if (value is None or value == "") and required:
            raise MissingField(f"{self._where} field '{name}' is required")
        return None if value == "" else value

    def raw(self, name: str) -> Any:
        """The value as sent, for a parser elsewhere to check."""
        return self._values.get(name)

    def integer(self, name: str, *, minimum: int, maximum: int) -> int:
        """A required whole number within [minimum, maximum]."""
        return self._whole(name, self._raw(name, True), minimum, maximum)

    def optional_integer(self, name: str, *, minimum: int, maximum: int, default: int) -> int:
        """A whole number within [minimum, maximum], `default` when absent."""
        value = self._raw(name, False)
        return default if value is None else self._whole(name, value, minimum, maximum)

    def _whole(self, name: str, value: Any, minimum: int, maximum: int) -> int:
        if self._from_text:
            if not isinstance(value, str) or not _DIGITS.fullmatch(value):
                raise InvalidInput(f"{self._where} field '{name}' must be a whole number")
            value = int(value)
        elif isinstance(value, bool) or not isinstance(value, int):
            raise InvalidInput(f"{self._where} field '{name}' must be a whole number")
        if not minimum <= value <= maximum:
            raise InvalidInput(
                f"{self._where} field '{name}' must be between {minimum} and {maximum}"
            )
        return int(value)

    def text(self, name: str, *, max_length: int = MAX_ID_LENGTH) -> str:
        """A non-empty string of at most `max_length` characters."""
        value = self._raw(name, True)
        if not isinstance(value, str):
            raise InvalidInput(f"{self._where} field '{name}' must be a string")
        value = value.strip()
        if not value:
            raise MissingField(f"{self._where} field '{name}' is required")
        if len(value) > max_length:
            raise InvalidInput(f"{self._where} field '{name}' is longer than {max_length}")
        return value

    def optional_text(self, name: str, *, max_length: int = MAX_ID_LENGTH) -> str | None:
        """Like text(), but absent or null gives None."""
        return None if self._raw(name, False) is None else self.text(name, max_length=max_length)

    def choice(self, name: str, kind: type[E], *, required: bool = True) -> E | None:
        """One of an enum's values."""
        value = self._raw(name, required)
        if value is None:
            return None
        for member in kind:
            if member.value == value:
                return member
        allowed = ", ".join(str(m.value) for m in kind)
        raise InvalidInput(f"{self._where} field '{name}' must be one of {allowed}")

    def timestamp(self, name: str) -> datetime:
        """An ISO-8601 instant; one without an offset is taken as UTC."""
        value = self._raw(name, True)
        if not isinstance(value, str):
            raise InvalidInput(f"{self._where} field '{name}' must be an ISO-8601 timestamp")
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise InvalidInput(
                f"{self._where} field '{name}' must be an ISO-8601 timestamp"
            ) from None
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


async def body_fields(request: web.Request) -> Fields:
    """The request's JSON object body."""
    raw = await request.read()
    if not raw.strip():
        raise MissingField("a JSON body is required")
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"malformed JSON: {exc}") from None
    if not isinstance(value, dict):
        raise InvalidInput("the body must be a JSON object")
    return Fields(value, where="body", from_text=False)


def query_fields(request: web.Request) -> Fields:
    """The request's query string."""
    return Fields(request.query, where="query", from_text=True)


def path_id(request: web.Request, name: str) -> str:
    """A string id from the path."""
    return request.match_info[name]


def path_number(request: web.Request, name: str, not_found: Exception) -> int:
    """A numeric id from the path; anything that is not one cannot exist, so it is a 404."""
    raw = request.match_info[name]
    if not raw.isascii() or not raw.isdigit() or len(raw) > 18:
        raise not_found
    return int(raw)

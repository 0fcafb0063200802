"""Failures that exist only because the shop speaks HTTP: no route, wrong method, limits, tokens."""

from __future__ import annotations

from collections.abc import Iterable

from ...domain.errors import ShopError, Unavailable


class RouteNotFound(ShopError):
    code = "COMMON005"


class MethodNotAllowed(ShopError):
    code = "COMMON006"

    def __init__(self, message: str, allowed: Iterable[str]) -> None:
        super().__init__(message)
        self.allowed = tuple(sorted(allowed))


class BodyTooLarge(ShopError):
    code = "COMMON002"


class HeadersTooLarge(ShopError):
    code = "COMMON002"


class UnsupportedMediaType(ShopError):
    code = "COMMON002"


class TooManyRequests(ShopError):
    """A client over its per-client limit (api/framework/rate_limits.py)."""

    code = "COMMON007"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RequestTimeout(ShopError):
    code = "COMMON002"


class MalformedRequest(ShopError):
    """A request aiohttp's parser refused before any route saw it."""

    code = "COMMON002"


class Unauthorized(ShopError):
    code = "COMMON003"


class Forbidden(ShopError):
    code = "COMMON003"


class Overloaded(Unavailable):
    """Refused at the front door, before any work: the shop is past its capacity."""

    code = "OVERLOADED"

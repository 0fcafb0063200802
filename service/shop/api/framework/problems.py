"""Every error the shop reports, mapped once to its HTTP status and title (RFC 9457 problems)."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
from aiohttp import web

from ...domain import errors as e
from ...incidents.switches import SwitchNotShared, UnknownSwitch
from ..types.outputs import Problem
from . import http_errors as h

PROBLEM_JSON = "application/problem+json"

# The most specific class wins: a subclass not listed here takes its parent's row.
STATUS_AND_TITLE: dict[type[e.ShopError], tuple[int, str]] = {
    e.ShopError: (500, "Internal error"),
    e.MissingField: (400, "Missing field or parameter"),
    e.InvalidInput: (400, "Invalid input"),
    e.UserNotFound: (404, "User not found"),
    e.ProductNotFound: (404, "Product not found"),
    e.InsufficientStock: (400, "Insufficient stock"),
    e.InsufficientBalance: (400, "Insufficient balance"),
    e.EmptyCart: (400, "Empty cart or invalid quantity"),
    e.OrderNotFound: (404, "Order not found"),
    e.CartItemNotFound: (404, "Cart item not found"),
    e.CouponSoldOut: (400, "Coupon sold out"),
    e.CouponNotFound: (404, "Coupon not found"),
    e.CouponExpired: (400, "Coupon expired"),
    e.CouponAlreadyUsed: (400, "Coupon already used"),
    e.CouponAlreadyIssued: (409, "Coupon already issued to this user"),
    e.OrderBelowMinimum: (400, "Order below the coupon's minimum"),
    e.BalanceLimitExceeded: (400, "Balance would exceed its maximum"),
    e.LockTimeout: (409, "Request still in progress"),
    e.IdempotencyInProgress: (409, "Request with this Idempotency-Key in progress"),
    e.IdempotencyKeyReused: (422, "Idempotency-Key reused with another request"),
    e.AuthenticationRequired: (401, "User token required"),
    e.NotYourResource: (403, "Another user's resource"),
    e.Unavailable: (503, "Service unavailable"),
    e.LockUnavailable: (503, "Lock backend unavailable"),
    e.LeaseLost: (503, "Lock lease lost"),
    e.DatabaseUnavailable: (503, "Database unavailable"),
    e.OutcomeUnknown: (503, "Outcome unknown: retry with the same Idempotency-Key"),
    UnknownSwitch: (404, "No such incident switch"),
    SwitchNotShared: (503, "Switch changed on this replica only"),
    h.RouteNotFound: (404, "No such resource"),
    h.MethodNotAllowed: (405, "Method not allowed"),
    h.BodyTooLarge: (413, "Request body too large"),
    h.HeadersTooLarge: (431, "Request header fields too large"),
    h.UnsupportedMediaType: (415, "Unsupported media type"),
    h.RequestTimeout: (408, "Request not received in time"),
    h.TooManyRequests: (429, "Too many requests"),
    h.MalformedRequest: (400, "Malformed request"),
    h.Unauthorized: (401, "Admin token required"),
    h.Forbidden: (403, "Admin token rejected"),
    h.Overloaded: (503, "Over capacity: retry after the given seconds"),
}
_encoder = msgspec.json.Encoder()


def status_and_title(error: e.ShopError) -> tuple[int, str]:
    """The HTTP status and title of an error, from its most specific mapped class."""
    for kind in type(error).__mro__:
        found = STATUS_AND_TITLE.get(kind)
        if found is not None:
            return found
    return STATUS_AND_TITLE[e.ShopError]  # pragma: no cover - ShopError is always in the MRO


def problem_body(
    error: e.ShopError,
    *,
    instance: str | None,
    trace_id: str | None,
    at: datetime | None = None,
) -> bytes:
    """The problem+json document of an error (decided `at`, or now)."""
    status, title = status_and_title(error)
    return _encoder.encode(
        Problem(
            type=f"https://shop.example/problems/{error.code.lower()}",
            title=title,
            status=status,
            detail=error.message,
            code=error.code,
            message=error.message,
            timestamp=(at or datetime.now(UTC)).isoformat(),
            instance=instance,
            trace_id=trace_id or None,
        )
    )


def problem_headers(error: e.ShopError) -> dict[str, str]:
    """Headers an error's answer carries: when to retry, which methods a path allows."""
    headers: dict[str, str] = {}
    if error.retry_after is not None:
        headers["Retry-After"] = str(error.retry_after)
    if isinstance(error, h.MethodNotAllowed):
        headers["Allow"] = ", ".join(error.allowed)
    if status_and_title(error)[0] == 401:  # RFC 9110: a 401 names the scheme it wants
        headers["WWW-Authenticate"] = 'Bearer realm="shop"'

    return headers


def problem_response(
    error: e.ShopError,
    *,
    instance: str,
    trace_id: str | None = None,
    at: datetime | None = None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    """An error as an application/problem+json response."""
    return web.Response(
        body=problem_body(error, instance=instance, trace_id=trace_id, at=at),
        status=status_and_title(error)[0],
        content_type=PROBLEM_JSON,
        charset="utf-8",
        headers={**problem_headers(error), **(headers or {})},
    )

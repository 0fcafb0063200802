"""Every failure the shop reports, each with a stable code and a message.

HTTP statuses and titles are not the domain's business: `api/framework/problems.py` maps each
type once.
"""

from __future__ import annotations

from typing import TypeVar

T = TypeVar("T")


class ShopError(Exception):
    """A failure with a stable code and a human-readable message."""

    code = "COMMON004"
    # Seconds after which a retry may succeed; None when retrying cannot help.
    retry_after: int | None = None

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class MissingField(ShopError):
    code = "COMMON001"


class InvalidInput(ShopError):
    code = "COMMON002"


class UserNotFound(ShopError):
    code = "U001"


class ProductNotFound(ShopError):
    code = "P001"


class InsufficientStock(ShopError):
    code = "P002"


class InsufficientBalance(ShopError):
    code = "PAY001"


class EmptyCart(ShopError):
    code = "O001"


class OrderNotFound(ShopError):
    code = "O002"


class CartItemNotFound(ShopError):
    code = "CART001"


class CouponSoldOut(ShopError):
    code = "C001"


class CouponNotFound(ShopError):
    code = "C002"


class CouponExpired(ShopError):
    code = "C003"


class CouponAlreadyUsed(ShopError):
    code = "C004"


class CouponAlreadyIssued(ShopError):
    code = "C006"


class OrderBelowMinimum(ShopError):
    code = "C007"


class BalanceLimitExceeded(ShopError):
    code = "B002"


class LockTimeout(ShopError):
    """The previous holder kept the lock past the wait budget."""

    code = "LOCK001"
    retry_after: int | None = 1


class Unavailable(ShopError):
    """A dependency is down or saturated: nothing was written, the client may retry."""

    retry_after: int | None = 1


class LockUnavailable(Unavailable):
    code = "LOCK002"


class LeaseLost(Unavailable):
    code = "LOCK003"


class DatabaseUnavailable(Unavailable):
    code = "DB001"


class OutcomeUnknown(Unavailable):
    """The connection was lost during COMMIT: the write may or may not have happened.

    Unlike every other 503, this one cannot promise that nothing was written; a retry carrying
    the same Idempotency-Key is safe (it returns the first outcome, never a second effect).
    """

    code = "OUTCOME_UNKNOWN"


class IdempotencyInProgress(ShopError):
    """A request with the same Idempotency-Key is still being served; retry shortly."""

    code = "IDEMPOTENCY_IN_PROGRESS"
    retry_after = 1


class IdempotencyKeyReused(ShopError):
    """The Idempotency-Key was first sent with another request (method, path or body)."""

    code = "IDEMPOTENCY_MISMATCH"


class AuthenticationRequired(ShopError):
    """No valid user bearer token (missing, malformed, forged or expired)."""

    code = "COMMON003"


class NotYourResource(ShopError):
    """A valid token, but for another user than the one the request acts on."""

    code = "COMMON003"


def found(value: T | None, missing: type[ShopError], what: str) -> T:
    """`value` as read; `missing` saying that `what` was not found when the read found nothing."""
    if value is None:
        raise missing(f"{what} not found")
    return value


def refusal(code: str, message: str) -> ShopError:
    """The refusal a stored code stands for (a replayed answer); ShopError for an unknown code."""
    kind = next(
        (k for k in _kinds(ShopError) if k.code == code and k.__module__ == __name__), ShopError
    )
    return kind(message)


def _kinds(root: type[ShopError]) -> list[type[ShopError]]:
    """Every error class below `root`, parents before children (the first holder of a code)."""
    found: list[type[ShopError]] = []
    for kind in root.__subclasses__():
        found += [kind, *_kinds(kind)]
    return found

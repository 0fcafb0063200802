"""Every failure the shop reports, each with a stable code; mapped to HTTP once, in api/."""

from __future__ import annotations


class ShopError(Exception):
    """A failure with a stable code and a human-readable message."""

    code = "COMMON004"
    status = 500
    title = "Internal error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class MissingField(ShopError):
    code, status, title = "COMMON001", 400, "Missing field or parameter"


class InvalidInput(ShopError):
    code, status, title = "COMMON002", 400, "Invalid input"


class BodyTooLarge(ShopError):
    code, status, title = "COMMON002", 413, "Request body too large"


class Unauthorized(ShopError):
    code, status, title = "COMMON003", 401, "Admin token required"
    challenge = 'Bearer realm="shop-admin"'


class Forbidden(ShopError):
    code, status, title = "COMMON003", 403, "Admin token rejected"


class RouteNotFound(ShopError):
    code, status, title = "COMMON005", 404, "No such resource"


class MethodNotAllowed(ShopError):
    code, status, title = "COMMON006", 405, "Method not allowed"


class UserNotFound(ShopError):
    code, status, title = "U001", 404, "User not found"


class ProductNotFound(ShopError):
    code, status, title = "P001", 404, "Product not found"


class InsufficientStock(ShopError):
    code, status, title = "P002", 400, "Insufficient stock"


class InsufficientBalance(ShopError):
    code, status, title = "PAY001", 400, "Insufficient balance"


class EmptyCart(ShopError):
    code, status, title = "O001", 400, "Empty cart or invalid quantity"


class OrderNotFound(ShopError):
    code, status, title = "O002", 404, "Order not found"


class CartItemNotFound(ShopError):
    code, status, title = "CART001", 404, "Cart item not found"


class CouponSoldOut(ShopError):
    code, status, title = "C001", 400, "Coupon sold out"


class CouponNotFound(ShopError):
    code, status, title = "C002", 404, "Coupon not found"


class CouponExpired(ShopError):
    code, status, title = "C003", 400, "Coupon expired"


class CouponAlreadyUsed(ShopError):
    code, status, title = "C004", 400, "Coupon already used"


class CouponAlreadyIssued(ShopError):
    code, status, title = "C006", 409, "Coupon already issued to this user"


class OrderBelowMinimum(ShopError):
    code, status, title = "C007", 400, "Order below the coupon's minimum"


class BalanceLimitExceeded(ShopError):
    code, status, title = "B002", 400, "Balance would exceed its maximum"


class Unavailable(ShopError):
    """A dependency is down or saturated: nothing was written, the client may retry."""

    status = 503
    retry_after = 1


class LockTimeout(ShopError):
    """The previous holder kept the lock past the wait budget."""

    code, status, title = "LOCK001", 409, "Request still in progress"
    retry_after = 1


class LockUnavailable(Unavailable):
    code, title = "LOCK002", "Lock backend unavailable"


class LeaseLost(Unavailable):
    code, title = "LOCK003", "Lock lease lost"


class DatabaseUnavailable(Unavailable):
    code, title = "DB001", "Database unavailable"


class IdempotencyInProgress(ShopError):
    """A request with the same Idempotency-Key is still being served; retry shortly."""

    code, status, title = "IDEMPOTENCY_IN_PROGRESS", 409, "Request with this key in progress"
    retry_after = 1


class IdempotencyKeyReused(ShopError):
    """The Idempotency-Key was first sent with another request (method, path or body)."""

    code, status, title = "IDEMPOTENCY_MISMATCH", 422, "Idempotency-Key reused"


class AuthenticationRequired(ShopError):
    """No valid user bearer token (missing, malformed, forged or expired)."""

    code, status, title = "COMMON003", 401, "User token required"
    challenge = 'Bearer realm="shop"'


class NotYourResource(ShopError):
    """A valid token, but for another user than the one the request acts on."""

    code, status, title = "COMMON003", 403, "Another user's resource"

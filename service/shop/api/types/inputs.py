"""What each endpoint accepts: path, query and body types, declared once.

The router decodes requests into these types, and the OpenAPI document is generated from them,
so a bound written here is both enforced and published. Bounds come from the domain constants.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, ClassVar

from msgspec import Meta, Struct

from ...domain.coupons import (
    MAX_COUPON_NAME,
    MAX_COUPON_QUANTITY,
    MAX_PERCENT,
    DiscountType,
    UserCouponStatus,
)
from ...domain.ids import MAX_ID_LENGTH
from ...domain.money import MAX_BALANCE, MAX_CHARGE, MIN_CHARGE
from ...domain.orders import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE,
    MAX_PAGE_SIZE,
    MAX_QUANTITY,
    MIN_QUANTITY,
    OrderStatus,
)
from ...domain.products import (
    DEFAULT_POPULAR_DAYS,
    DEFAULT_POPULAR_LIMIT,
    MAX_POPULAR_DAYS,
    MAX_POPULAR_LIMIT,
    MIN_POPULAR_DAYS,
    MIN_POPULAR_LIMIT,
    ProductSort,
)
from ...domain.users import DEFAULT_HISTORY_LIMIT, MAX_HISTORY_LIMIT
from ...settings import MAX_TOKEN_TTL

# At least one character that is not white space, with white space spelt out as ECMA-262's `\s`:
# Python's `\s` also counts U+001C-U+001F and U+0085, so the document's `\S` (read by clients
# with ECMA rules) and the server's disagreed on those.
NOT_BLANK = r"[^\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]"
# An id: not blank, at most MAX_ID_LENGTH characters.
Id = Annotated[str, Meta(min_length=1, max_length=MAX_ID_LENGTH, pattern=NOT_BLANK)]
Quantity = Annotated[int, Meta(ge=MIN_QUANTITY, le=MAX_QUANTITY)]
Amount = Annotated[int, Meta(ge=0, le=MAX_BALANCE)]
MAX_SEED_USERS = 1_000_000
MAX_SEED_STOCK = 10**12


class Input(Struct, rename="camel"):
    """Base of every input type: camelCase on the wire; unknown body fields are ignored."""

    # Extra JSON Schema for rules across fields, which a field's own bounds cannot say.
    json_schema_extra: ClassVar[dict[str, Any]] = {}


class NoInput(Input):
    """For endpoints that take nothing in that place."""


# Paths.
class UserPath(Input):
    user_id: Id


class ProductPath(Input):
    product_id: Id


class CouponPath(Input):
    coupon_id: Id


class CartItemPath(Input):
    # Numeric in practice: anything else cannot exist, so it answers 404, not 400.
    cart_item_id: Id


class OrderPath(Input):
    order_id: Id


class SwitchPath(Input):
    switch: Id


# Query strings.
class UserQuery(Input):
    user_id: Id


class HistoryQuery(Input):
    limit: Annotated[int, Meta(ge=1, le=MAX_HISTORY_LIMIT)] = DEFAULT_HISTORY_LIMIT


class ProductQuery(Input):
    category: Annotated[str, Meta(max_length=MAX_ID_LENGTH)] | None = None
    sort: ProductSort = ProductSort.NEWEST


class PopularQuery(Input):
    days: Annotated[int, Meta(ge=MIN_POPULAR_DAYS, le=MAX_POPULAR_DAYS)] = DEFAULT_POPULAR_DAYS
    limit: Annotated[int, Meta(ge=MIN_POPULAR_LIMIT, le=MAX_POPULAR_LIMIT)] = DEFAULT_POPULAR_LIMIT


class UserCouponQuery(Input):
    status: UserCouponStatus | None = None


class OrderQuery(Input):
    user_id: Id
    page: Annotated[int, Meta(ge=1, le=MAX_PAGE)] = 1
    limit: Annotated[int, Meta(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE
    status: OrderStatus | None = None


# Bodies.
class ChargeRequest(Input):
    amount: Annotated[int, Meta(ge=MIN_CHARGE, le=MAX_CHARGE)]


class AddCartItem(Input):
    user_id: Id
    product_id: Id
    quantity: Quantity


class ChangeCartItem(Input):
    quantity: Quantity


class CreateCoupon(Input):
    name: Annotated[str, Meta(min_length=1, max_length=MAX_COUPON_NAME, pattern=NOT_BLANK)]
    discount_type: DiscountType
    discount_value: Annotated[int, Meta(ge=1, le=MAX_BALANCE)]
    total_quantity: Annotated[int, Meta(ge=1, le=MAX_COUPON_QUANTITY)]
    # RFC 3339, as the decoder reads it (msgspec's own schema says only "string"). Must also lie
    # in the future: checked against the shop's clock, not expressible here.
    expires_at: Annotated[datetime, Meta(extra_json_schema={"format": "date-time"})]
    min_order_amount: Amount = 0

    json_schema_extra: ClassVar[dict[str, Any]] = {
        "if": {"properties": {"discountType": {"const": DiscountType.PERCENT.value}}},
        "then": {"properties": {"discountValue": {"maximum": MAX_PERCENT}}},
    }

    def __post_init__(self) -> None:
        if self.discount_type is DiscountType.PERCENT and self.discount_value > MAX_PERCENT:
            raise ValueError(f"a PERCENT discountValue must be at most {MAX_PERCENT}")


class IssueCoupon(Input):
    user_id: Id


class ValidateCoupon(Input):
    coupon_id: Id
    order_amount: Amount


class PlaceOrder(Input):
    user_id: Id
    # "" means no coupon, as null and absence do (clients of the original send it).
    coupon_id: Annotated[str, Meta(max_length=MAX_ID_LENGTH)] | None = None


class SetIncidentSwitch(Input):
    # Any JSON value but null (the handler refuses a null as missing: the document says so):
    # each switch parses its own (a whole number, or one of some words).
    value: Annotated[Any, Meta(extra_json_schema={"not": {"type": "null"}})]


class MintToken(Input):
    user_id: Id
    ttl_seconds: Annotated[int, Meta(ge=1, le=MAX_TOKEN_TTL)] | None = None


class RevokeTokens(Input):
    user_id: Id


class SeedRequest(Input):
    users: Annotated[int, Meta(ge=0, le=MAX_SEED_USERS)] = 100_000
    stock: Annotated[int, Meta(ge=0, le=MAX_SEED_STOCK)] = 1_000_000
    coupon_quantity: Annotated[int, Meta(ge=1, le=MAX_COUPON_QUANTITY)] = 100_000

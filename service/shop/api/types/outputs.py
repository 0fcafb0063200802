"""What each endpoint answers: the contract's camelCase shapes, declared once.

Each type is built from its domain value by `of()` (ids become strings, instants ISO-8601 with
their offset, as the contract has always rendered them); the OpenAPI document is generated from
these same types.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from msgspec import Meta, Struct

from ...domain import carts as _carts
from ...domain import coupons as _coupons
from ...domain import orders as _orders
from ...domain import products as _products
from ...domain import users as _users
from ...domain.coupons import DiscountType, UserCouponStatus
from ...domain.orders import OrderStatus
from ...domain.users import BalanceReason
from ...incidents.switches import Switch

# Rendered with datetime.isoformat() ("+00:00"), which the contract's clients already parse.
Instant = Annotated[str, Meta(extra_json_schema={"format": "date-time"})]


def _instant(moment: datetime) -> str:
    return moment.isoformat()


class Output(Struct, rename="camel"):
    """Base of every answer type: camelCase on the wire."""


class Message(Output):
    message: str


class Health(Output, omit_defaults=True):
    status: str
    checks: dict[str, str] = {}


class Balance(Output):
    user_id: str
    balance: int


class ChargeReceipt(Output):
    user_id: str
    previous_balance: int
    charged_amount: int
    current_balance: int
    charged_at: Instant

    @classmethod
    def of(cls, r: _users.ChargeReceipt) -> ChargeReceipt:
        return cls(
            r.user_id,
            r.previous_balance,
            r.charged_amount,
            r.current_balance,
            _instant(r.charged_at),
        )


class BalanceChange(Output):
    amount: int
    previous_balance: int
    current_balance: int
    reason: BalanceReason
    created_at: Instant

    @classmethod
    def of(cls, c: _users.BalanceChange) -> BalanceChange:
        return cls(
            c.amount, c.previous_balance, c.current_balance, c.reason, _instant(c.created_at)
        )


class Product(Output):
    product_id: str
    name: str
    price: int
    stock: int
    category: str

    @classmethod
    def of(cls, p: _products.Product) -> Product:
        return cls(p.product_id, p.name, p.price, p.stock, p.category)


class PopularProduct(Product):
    sales_count: int

    @classmethod
    def of_popular(cls, pp: _products.PopularProduct) -> PopularProduct:
        p = pp.product
        return cls(p.product_id, p.name, p.price, p.stock, p.category, pp.sales_count)


class Stock(Output):
    product_id: str
    stock: int
    available: bool

    @classmethod
    def of(cls, p: _products.Product) -> Stock:
        return cls(p.product_id, p.stock, p.stock > 0)


class OrderLine(Output):
    product_id: str
    product_name: str
    price: int
    quantity: int
    subtotal: int

    @classmethod
    def of(cls, line: _orders.OrderLine) -> OrderLine:
        return cls(line.product_id, line.product_name, line.price, line.quantity, line.subtotal)


class CartItem(OrderLine):
    cart_item_id: str

    @classmethod
    def of_item(cls, i: _carts.CartItem) -> CartItem:
        return cls(
            i.product_id, i.product_name, i.price, i.quantity, i.subtotal, str(i.cart_item_id)
        )


class Cart(Output):
    cart_id: str
    user_id: str
    items: list[CartItem]
    total_amount: int

    @classmethod
    def of(cls, c: _carts.Cart) -> Cart:
        return cls(
            str(c.cart_id), c.user_id, [CartItem.of_item(i) for i in c.items], c.total_amount
        )


class Coupon(Output):
    coupon_id: str
    name: str
    discount_type: DiscountType
    discount_value: int
    total_quantity: int
    remaining_quantity: int
    min_order_amount: int
    expires_at: Instant

    @classmethod
    def of(cls, c: _coupons.Coupon) -> Coupon:
        return cls(
            c.coupon_id,
            c.name,
            c.discount_type,
            c.discount_value,
            c.total_quantity,
            c.remaining_quantity,
            c.min_order_amount,
            _instant(c.expires_at),
        )


class IssuedCoupon(Output):
    user_coupon_id: str
    coupon_id: str
    user_id: str
    issued_at: Instant
    expires_at: Instant
    remaining_quantity: int

    @classmethod
    def of(cls, c: _coupons.IssuedCoupon) -> IssuedCoupon:
        return cls(
            str(c.user_coupon_id),
            c.coupon_id,
            c.user_id,
            _instant(c.issued_at),
            _instant(c.expires_at),
            c.remaining_quantity,
        )


class CouponCheck(Output):
    valid: bool
    discount_amount: int
    final_amount: int
    message: str

    @classmethod
    def of(cls, c: _coupons.CouponCheck) -> CouponCheck:
        return cls(c.valid, c.discount_amount, c.final_amount, c.message)


class UserCoupon(Output):
    user_coupon_id: str
    user_id: str
    coupon_id: str
    name: str
    discount_type: DiscountType
    discount_value: int
    status: UserCouponStatus
    issued_at: Instant
    used_at: Instant | None
    expires_at: Instant

    @classmethod
    def of(cls, uc: _coupons.UserCoupon, now: datetime) -> UserCoupon:
        c = uc.coupon
        return cls(
            str(uc.user_coupon_id),
            uc.user_id,
            c.coupon_id,
            c.name,
            c.discount_type,
            c.discount_value,
            UserCouponStatus(uc.status_at(now)),
            _instant(uc.issued_at),
            None if uc.used_at is None else _instant(uc.used_at),
            _instant(c.expires_at),
        )


class Order(Output):
    order_id: str
    user_id: str
    status: OrderStatus
    items: list[OrderLine]
    total_amount: int
    discount_amount: int
    final_amount: int
    coupon_id: str | None
    created_at: Instant

    @classmethod
    def of(cls, o: _orders.Order) -> Order:
        return cls(
            str(o.order_id),
            o.user_id,
            o.status,
            [OrderLine.of(line) for line in o.lines],
            o.total_amount,
            o.discount_amount,
            o.final_amount,
            o.coupon_id,
            _instant(o.created_at),
        )


class OrderSummary(Output):
    order_id: str
    total_amount: int
    discount_amount: int
    final_amount: int
    status: OrderStatus
    created_at: Instant

    @classmethod
    def of(cls, o: _orders.OrderSummary) -> OrderSummary:
        return cls(
            str(o.order_id),
            o.total_amount,
            o.discount_amount,
            o.final_amount,
            o.status,
            _instant(o.created_at),
        )


class OrderPage(Output):
    orders: list[OrderSummary]
    current_page: int
    total_pages: int
    total_count: int

    @classmethod
    def of(cls, page: _orders.OrderPage) -> OrderPage:
        return cls(
            [OrderSummary.of(o) for o in page.orders],
            page.current_page,
            page.total_pages,
            page.total_count,
        )


class IncidentSwitch(Output):
    switch: str
    value: Any
    normal: Any
    on: bool
    description: str

    @classmethod
    def of(cls, s: Switch) -> IncidentSwitch:
        return cls(s.name, s.value, s.normal, s.on, s.description)


class UserToken(Output):
    token: str
    user_id: str
    expires_at: Instant


class TokensRevoked(Output):
    user_id: str
    # Tokens of the user issued before this moment are refused (on every replica within
    # SHOP_TOKEN_REVOCATION_REFRESH seconds).
    not_before: Instant


class SeedReport(Output):
    users: int
    products: int
    coupon_quantity: int
    seconds: float


class Problem(Output, omit_defaults=True):
    """RFC 9457 problem details, carrying the original API's `code` and `message` too."""

    type: str
    title: str
    status: int
    detail: str
    code: str
    message: str
    timestamp: Instant
    instance: str | None = None
    trace_id: str | None = None

"""Which orders of a batch are paid, and why the others are refused.

The orders of one batch share a transaction (use_cases/order_batches.py): its reads are made
once for all of them, and this rule answers each order as if they had run one after another
in arrival order, each on what the ones before it left — the same refusals, in the same
precedence, as one order alone: U001, O001, C002 / C004 / C003 / C007, PAY001, P002. A
refused order writes nothing, so it never needs to be rolled back.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from .carts import Cart
from .coupons import UserCoupon, check_usable
from .errors import CouponNotFound, EmptyCart, InsufficientBalance, ShopError, UserNotFound
from .orders import OrderLine, check_stock, total_of


@dataclass(frozen=True, slots=True)
class Request:
    user_id: str
    coupon_id: str | None


@dataclass(frozen=True, slots=True)
class Buyer:
    """What the batch's reads found for one user (the balance read under the row's lock)."""

    balance: int
    cart: Cart | None


@dataclass(frozen=True, slots=True)
class Purchase:
    """An order the batch pays: what its writes need."""

    user_id: str
    cart_id: int
    lines: tuple[OrderLine, ...]
    total: int
    discount: int
    user_coupon: UserCoupon | None
    balance_before: int

    @property
    def final(self) -> int:
        return self.total - self.discount


def checkout(
    requests: Sequence[Request],
    *,
    buyers: Mapping[str, Buyer],
    coupons: Mapping[tuple[str, str], UserCoupon],
    stock: Mapping[str, int] | None,
    now: datetime,
) -> list[Purchase | ShopError]:
    """Each request's purchase or refusal, in arrival order.

    `stock` is None when it was not read: the guarded stock update is then the only check,
    and a batch it refuses runs again with the stock read under lock.
    """
    left = dict(stock) if stock is not None else None
    paid: set[str] = set()  # a paid order empties its user's cart
    answers: list[Purchase | ShopError] = []
    for request in requests:
        try:
            purchase = _purchase(request, buyers, coupons, paid, now)
            if left is not None:
                for line in purchase.lines:
                    check_stock(line, left.get(line.product_id, 0))
                for line in purchase.lines:
                    left[line.product_id] -= line.quantity
        except ShopError as refusal:
            answers.append(refusal)
            continue
        paid.add(request.user_id)
        answers.append(purchase)
    return answers


def _purchase(
    request: Request,
    buyers: Mapping[str, Buyer],
    coupons: Mapping[tuple[str, str], UserCoupon],
    paid: set[str],
    now: datetime,
) -> Purchase:
    user_id, coupon_id = request.user_id, request.coupon_id
    buyer = buyers.get(user_id)
    if buyer is None:
        raise UserNotFound(f"user {user_id} not found")
    cart = buyer.cart
    if cart is None or not cart.items or user_id in paid:
        raise EmptyCart("the cart is empty")
    lines = tuple(
        OrderLine(
            product_id=item.product_id,
            product_name=item.product_name,
            price=item.price,
            quantity=item.quantity,
        )
        for item in cart.items
    )
    total = total_of(lines)
    discount = 0
    user_coupon = None
    if coupon_id is not None:
        user_coupon = coupons.get((user_id, coupon_id))
        if user_coupon is None:
            raise CouponNotFound(f"coupon {coupon_id} was not issued to {user_id}")
        check_usable(user_coupon.status)
        discount = user_coupon.coupon.apply(total, now).discount
    final = total - discount
    if final > buyer.balance:
        raise InsufficientBalance(
            f"insufficient balance: {buyer.balance} available, {final} required"
        )
    return Purchase(
        user_id=user_id,
        cart_id=cart.cart_id,
        lines=lines,
        total=total,
        discount=discount,
        user_coupon=user_coupon,
        balance_before=buyer.balance,
    )

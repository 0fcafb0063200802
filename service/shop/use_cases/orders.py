"""Placing and reading orders."""

from __future__ import annotations

import math
from datetime import datetime

from ..domain.coupons import check_usable
from ..domain.errors import (
    CouponAlreadyUsed,
    CouponNotFound,
    EmptyCart,
    InsufficientBalance,
    InsufficientStock,
    OrderNotFound,
    ProductNotFound,
)
from ..domain.orders import Order, OrderLine, OrderPage, OrderStatus, check_stock, total_of
from ..domain.users import BalanceChange, BalanceReason
from .balance import balance_of
from .deps import Deps
from .ports import Tx
from .seals import Seal, transaction

GLOBAL_SCOPE = "global"


def order_lock_key(scope: str, user_id: str) -> str:
    """`order:global` reproduces the original's outage; per-user keys are the fix."""
    return "order:global" if scope == GLOBAL_SCOPE else f"order:user:{user_id}"


async def place_order(
    *, deps: Deps, user_id: str, coupon_id: str | None, seal: Seal | None = None
) -> Order:
    """Turn the user's cart into a paid order in one transaction, or change nothing."""
    key = order_lock_key(deps.order_lock_scope(), user_id)
    async with deps.locks.hold(key, name="order") as lease:
        now = deps.clock()
        return await transaction(
            deps.store, lambda tx: _pay(tx, user_id, coupon_id, now), fence=lease, seal=seal
        )


async def _pay(tx: Tx, user_id: str, coupon_id: str | None, now: datetime) -> Order:
    """One order's transaction: cart, coupon, debit, order rows, and the stock last."""
    balance = await balance_of(tx, user_id)
    # Locking the cart row serialises one user's orders in the database itself: a second
    # order of the same cart waits here and then finds it empty.
    cart_id = await tx.carts.cart_id(user_id, lock=True)
    items = [] if cart_id is None else await tx.carts.items(cart_id)
    if cart_id is None or not items:
        raise EmptyCart("the cart is empty")
    lines = [
        OrderLine(
            product_id=item.product_id,
            product_name=item.product_name,
            price=item.price,
            quantity=item.quantity,
        )
        for item in items
    ]
    total = total_of(lines)

    discount = 0
    user_coupon = None
    if coupon_id is not None:
        user_coupon = await tx.coupons.lock_user_coupon(user_id, coupon_id)
        if user_coupon is None:
            raise CouponNotFound(f"coupon {coupon_id} was not issued to {user_id}")
        check_usable(user_coupon.status)
        discount = user_coupon.coupon.apply(total, now).discount
    final = total - discount

    # A zero-amount debit changes no row, so it is skipped rather than read as a refusal.
    current = await tx.users.debit(user_id, final) if final > 0 else balance
    if current is None:
        raise InsufficientBalance(f"insufficient balance: {balance} available, {final} required")

    order = Order(
        order_id=0,
        user_id=user_id,
        status=OrderStatus.PAID,
        lines=tuple(lines),
        total_amount=total,
        discount_amount=discount,
        final_amount=final,
        coupon_id=coupon_id,
        created_at=now,
    )
    order_id = await tx.orders.add(order)
    if user_coupon is not None and not await tx.coupons.mark_used(
        user_coupon.user_coupon_id, order_id=order_id, now=now
    ):
        raise CouponAlreadyUsed(f"coupon {coupon_id} already used")
    await tx.orders.add_payment(order_id=order_id, user_id=user_id, amount=final, now=now)
    change = BalanceChange(
        amount=-final,
        previous_balance=current + final,
        current_balance=current,
        reason=BalanceReason.PAYMENT,
        created_at=now,
    )
    await tx.users.record(user_id, change, order_id=order_id)
    await tx.carts.clear(cart_id)
    # Stock last: a popular product's row is then locked only from here to the commit, not
    # for the whole order. One guarded statement locks the rows in ascending id order, so
    # two orders never deadlock; a refusal rolls back everything above.
    if not await tx.products.take_stock({line.product_id: line.quantity for line in lines}):
        await _explain_stock(tx, lines)
    return Order(
        order_id=order_id,
        user_id=user_id,
        status=order.status,
        lines=order.lines,
        total_amount=total,
        discount_amount=discount,
        final_amount=final,
        coupon_id=coupon_id,
        created_at=now,
    )


async def _explain_stock(tx: Tx, lines: list[OrderLine]) -> None:
    """Name the line the stock could not cover (the transaction is about to roll back)."""
    products = await tx.products.lock([line.product_id for line in lines])
    for line in lines:
        product = products.get(line.product_id)
        if product is None:
            raise ProductNotFound(f"product {line.product_id} not found")
        check_stock(line, product.stock)
    raise InsufficientStock("insufficient stock")


async def get_order(*, deps: Deps, order_id: int) -> Order:
    """One order with its lines."""
    order = await deps.store.autocommit(lambda tx: tx.orders.get(order_id))
    if order is None:
        raise OrderNotFound(f"order {order_id} not found")
    return order


async def list_orders(
    *, deps: Deps, user_id: str, status: OrderStatus | None, page: int, limit: int
) -> OrderPage:
    """One page of the user's orders, newest first."""

    return await deps.store.autocommit(lambda tx: _page(tx, user_id, status, page, limit))


async def _page(
    tx: Tx, user_id: str, status: OrderStatus | None, page: int, limit: int
) -> OrderPage:
    await balance_of(tx, user_id)
    found, count = await tx.orders.page(
        user_id, status=status, offset=(page - 1) * limit, limit=limit
    )
    return OrderPage(
        orders=tuple(found),
        current_page=page,
        total_pages=math.ceil(count / limit),
        total_count=count,
    )

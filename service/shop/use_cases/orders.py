"""Placing and reading orders."""

from __future__ import annotations

import math

from ..domain.errors import OrderNotFound, found
from ..domain.orders import Order, OrderPage, OrderStatus
from .balance import balance_of
from .deps import Deps
from .ports import Tx
from .seals import Seal

GLOBAL_SCOPE = "global"


def order_lock_key(scope: str, user_id: str) -> str:
    """`order:global` reproduces the original's outage; per-user keys are the fix."""
    return "order:global" if scope == GLOBAL_SCOPE else f"order:user:{user_id}"


async def place_order(
    *, deps: Deps, user_id: str, coupon_id: str | None, seal: Seal | None = None
) -> Order:
    """Turn the user's cart into a paid order, committed with the next batch of orders, or
    change nothing (use_cases/order_batches.py)."""
    key = order_lock_key(deps.order_lock_scope(), user_id)
    async with deps.locks.hold(key, name="order") as lease:
        return await deps.order_placements.place(user_id, coupon_id, lease=lease, seal=seal)


async def get_order(*, deps: Deps, order_id: int) -> Order:
    """One order with its lines."""
    order = await deps.store.autocommit(lambda tx: tx.orders.get(order_id))
    return found(order, OrderNotFound, f"order {order_id}")


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

"""Orders, their lines and payments."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from ...domain.orders import Order, OrderLine, OrderStatus, OrderSummary
from .session import Repository
from .times import from_db, to_db

_SUMMARY = "order_id, total_amount, discount_amount, final_amount, status, created_at"


def _summary(row: Sequence[Any]) -> OrderSummary:
    return OrderSummary(
        order_id=int(row[0]),
        total_amount=int(row[1]),
        discount_amount=int(row[2]),
        final_amount=int(row[3]),
        status=OrderStatus(row[4]),
        created_at=from_db(row[5]),
    )


class OrdersRepository(Repository):
    __slots__ = ()

    async def add_many(self, orders: Sequence[Order]) -> list[int]:
        # One round trip for every order and line: each order's id is kept in a session
        # variable its lines read (a multi-row INSERT's ids need not be consecutive), and
        # the ids come back together at the end.
        for n, order in enumerate(orders):
            created = to_db(order.created_at)
            self._s.defer(
                "orders.insert",
                "INSERT INTO orders (user_id, status, total_amount, discount_amount,"
                " final_amount, coupon_id, created_at) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                (
                    order.user_id,
                    order.status.value,
                    order.total_amount,
                    order.discount_amount,
                    order.final_amount,
                    order.coupon_id,
                    created,
                ),
            )
            self._s.defer("orders.insert", f"SET @shop_order_{n} = LAST_INSERT_ID()")
            self._s.defer(
                "order_items.insert",
                "INSERT INTO order_items (order_id, product_id, product_name, price, quantity,"
                " created_at) VALUES "
                + ", ".join([f"(@shop_order_{n}, %s, %s, %s, %s, %s)"] * len(order.lines)),
                [
                    value
                    for line in order.lines
                    for value in (
                        line.product_id,
                        line.product_name,
                        line.price,
                        line.quantity,
                        created,
                    )
                ],
            )
        row = await self._s.fetch_one(
            "orders.insert", "SELECT " + ", ".join(f"@shop_order_{n}" for n in range(len(orders)))
        )
        if row is None:  # pragma: no cover - a SELECT of variables always answers one row
            raise LookupError("the new order ids were not returned")
        return [int(order_id) for order_id in row]

    async def add_payment(self, *, order_id: int, user_id: str, amount: int, now: datetime) -> None:
        self._s.defer(
            "payments.insert",
            "INSERT INTO payments (order_id, user_id, amount, status, created_at)"
            " VALUES (%s, %s, %s, 'COMPLETED', %s)",
            (order_id, user_id, amount, to_db(now)),
        )

    async def get(self, order_id: int) -> Order | None:
        head = await self._s.fetch_one(
            "orders.get",
            "SELECT order_id, user_id, status, total_amount, discount_amount, final_amount,"
            " coupon_id, created_at FROM orders WHERE order_id = %s",
            (order_id,),
        )
        if head is None:
            return None
        lines = await self._s.fetch_all(
            "order_items.by_order",
            "SELECT product_id, product_name, price, quantity FROM order_items"
            " WHERE order_id = %s ORDER BY order_item_id",
            (order_id,),
        )
        return Order(
            order_id=int(head[0]),
            user_id=head[1],
            status=OrderStatus(head[2]),
            total_amount=int(head[3]),
            discount_amount=int(head[4]),
            final_amount=int(head[5]),
            coupon_id=head[6],
            created_at=from_db(head[7]),
            lines=tuple(
                OrderLine(product_id=r[0], product_name=r[1], price=int(r[2]), quantity=int(r[3]))
                for r in lines
            ),
        )

    async def page(
        self, user_id: str, *, status: OrderStatus | None, offset: int, limit: int
    ) -> tuple[list[OrderSummary], int]:
        where = "user_id = %s" + (" AND status = %s" if status else "")
        params: tuple[Any, ...] = (user_id, status.value) if status else (user_id,)
        count = await self._s.fetch_one(
            "orders.count", f"SELECT COUNT(*) FROM orders WHERE {where}", params
        )
        rows = await self._s.fetch_all(
            "orders.page",
            f"SELECT {_SUMMARY} FROM orders WHERE {where}"
            " ORDER BY order_id DESC LIMIT %s OFFSET %s",
            (*params, limit, offset),
        )
        return [_summary(r) for r in rows], int(count[0]) if count else 0

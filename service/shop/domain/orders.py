"""Order lines and totals: all integer won."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from .errors import EmptyCart, InsufficientStock

MIN_QUANTITY = 1
MAX_QUANTITY = 999


class OrderStatus(enum.StrEnum):
    PENDING = "PENDING"
    PAID = "PAID"
    CANCELLED = "CANCELLED"


# Order list paging bounds.
MAX_PAGE = 1_000_000
MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 10


@dataclass(frozen=True, slots=True)
class OrderLine:
    product_id: str
    product_name: str
    price: int
    quantity: int

    @property
    def subtotal(self) -> int:
        return self.price * self.quantity


def total_of(lines: Sequence[OrderLine]) -> int:
    """Sum of the line subtotals; an order needs at least one line."""
    if not lines:
        raise EmptyCart("the cart is empty")
    return sum(line.subtotal for line in lines)


def check_stock(line: OrderLine, stock: int) -> None:
    """Refuse a line that asks for more units than are in stock."""
    if line.quantity > stock:
        raise InsufficientStock(
            f"insufficient stock for {line.product_id}: {stock} left, {line.quantity} requested"
        )


@dataclass(frozen=True, slots=True)
class Order:
    order_id: int
    user_id: str
    status: OrderStatus
    lines: tuple[OrderLine, ...]
    total_amount: int
    discount_amount: int
    final_amount: int
    coupon_id: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class OrderSummary:
    order_id: int
    total_amount: int
    discount_amount: int
    final_amount: int
    status: OrderStatus
    created_at: datetime


@dataclass(frozen=True, slots=True)
class OrderPage:
    orders: tuple[OrderSummary, ...]
    current_page: int
    total_pages: int
    total_count: int

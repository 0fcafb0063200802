"""One cart per user, created on first use."""

from __future__ import annotations

from dataclasses import dataclass

from .orders import OrderLine


@dataclass(frozen=True, slots=True, kw_only=True)
class CartItem(OrderLine):
    """An order line before the order: the same product, price and quantity, and its own id."""

    cart_item_id: int


@dataclass(frozen=True, slots=True)
class Cart:
    cart_id: int
    user_id: str
    items: tuple[CartItem, ...]

    @property
    def total_amount(self) -> int:
        return sum(item.subtotal for item in self.items)

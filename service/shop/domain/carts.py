"""One cart per user, created on first use."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CartItem:
    cart_item_id: int
    product_id: str
    product_name: str
    price: int
    quantity: int

    @property
    def subtotal(self) -> int:
        return self.price * self.quantity


@dataclass(frozen=True, slots=True)
class Cart:
    cart_id: int
    user_id: str
    items: tuple[CartItem, ...]

    @property
    def total_amount(self) -> int:
        return sum(item.subtotal for item in self.items)

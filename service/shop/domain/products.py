"""The catalogue."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class ProductSort(enum.StrEnum):
    PRICE = "price"
    POPULARITY = "popularity"
    NEWEST = "newest"


@dataclass(frozen=True, slots=True)
class Product:
    product_id: str
    name: str
    price: int
    stock: int
    category: str


@dataclass(frozen=True, slots=True)
class PopularProduct:
    product: Product
    sales_count: int


MIN_POPULAR_DAYS, MAX_POPULAR_DAYS = 1, 30
MIN_POPULAR_LIMIT, MAX_POPULAR_LIMIT = 1, 100
DEFAULT_POPULAR_DAYS, DEFAULT_POPULAR_LIMIT = 3, 5

"""Writing the load-test data set (what `POST /api/admin/seed` and `python -m shop seed` do)."""

from __future__ import annotations

from ..domain.errors import Unavailable
from .deps import Deps
from .ports import SeedReport


async def seed_data(*, deps: Deps, users: int, stock: int, coupon_quantity: int) -> SeedReport:
    """Write the data set idempotently: users, the test coupon, products and carts."""
    if deps.data_set is None:
        raise Unavailable("this process was built without a data set to seed")
    return await deps.data_set.seed(users=users, stock=stock, coupon_quantity=coupon_quantity)

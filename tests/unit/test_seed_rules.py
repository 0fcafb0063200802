"""The seed use case hands the work to the DataSet port, and refuses without one."""

from __future__ import annotations

from dataclasses import replace

import pytest

from shop.domain.errors import Unavailable
from shop.use_cases.ports import SeedReport
from shop.use_cases.seed import seed_data

from .fakes import World


class _Recorded:
    def __init__(self) -> None:
        self.asked: list[tuple[int, int, int]] = []

    async def seed(self, *, users: int, stock: int, coupon_quantity: int) -> SeedReport:
        self.asked.append((users, stock, coupon_quantity))
        return SeedReport(users=users, products=10, coupon_quantity=coupon_quantity, seconds=0.0)


async def test_seed_goes_through_the_data_set() -> None:
    data_set = _Recorded()
    deps = replace(World().deps, data_set=data_set)
    report = await seed_data(deps=deps, users=3, stock=7, coupon_quantity=2)
    assert (report.users, report.coupon_quantity) == (3, 2)
    assert data_set.asked == [(3, 7, 2)]


async def test_no_data_set_is_unavailable() -> None:
    with pytest.raises(Unavailable):
        await seed_data(deps=World().deps, users=1, stock=1, coupon_quantity=1)

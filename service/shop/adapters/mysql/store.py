"""The Store port over MySQL: repositories bound to one session."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from ...use_cases.ports import Fence
from .carts import CartsRepository
from .coupons import CouponsRepository
from .idempotency import IdempotencyRepository
from .orders import OrdersRepository
from .pool import Database
from .products import ProductsRepository
from .session import Session
from .users import UsersRepository

T = TypeVar("T")


class MySqlTx:
    """Every repository over one session; built per unit of work (cheap: six small objects)."""

    __slots__ = ("carts", "coupons", "idempotency", "orders", "products", "users")

    def __init__(self, session: Session) -> None:
        self.users = UsersRepository(session)
        self.products = ProductsRepository(session)
        self.carts = CartsRepository(session)
        self.coupons = CouponsRepository(session)
        self.orders = OrdersRepository(session)
        self.idempotency = IdempotencyRepository(session)


class MySqlStore:
    def __init__(self, database: Database) -> None:
        self.database = database

    async def autocommit(self, work: Callable[[MySqlTx], Awaitable[T]]) -> T:
        """Run `work` on one borrowed connection, each statement committing on its own."""
        async with self.database.session() as session:
            return await work(MySqlTx(session))

    async def transaction(
        self, work: Callable[[MySqlTx], Awaitable[T]], *, fence: Fence | None = None
    ) -> T:
        """Run `work` in one transaction (retried whole on deadlock), `fence` checked last."""
        return await self.database.run(
            lambda session: work(MySqlTx(session)),
            fence=None if fence is None else fence.ensure_valid,
        )

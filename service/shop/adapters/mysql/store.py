"""The Store port over MySQL: repositories bound to one session."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from ...domain.errors import DatabaseUnavailable
from ...use_cases.ports import Fence
from .carts import CartsRepository
from .coupons import CouponsRepository
from .idempotency import IdempotencyRepository
from .orders import OrdersRepository
from .pool import Database
from .products import ProductsRepository
from .session import Deadlock, Session
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
        """Run `work` on one borrowed connection, each statement committing on its own.

        A statement InnoDB picks as a deadlock's victim (a cart line's upsert against an order
        batch emptying that cart, say) is rolled back alone and sent again by the session; one
        that keeps losing tells the caller to try again (503). The work is not run again here,
        as its earlier statements have committed.
        """
        try:
            async with self.database.session() as session:
                return await work(MySqlTx(session))
        except Deadlock as exc:
            raise DatabaseUnavailable("a statement lost a deadlock; try again") from exc

    async def transaction(
        self, work: Callable[[MySqlTx], Awaitable[T]], *, fence: Fence | None = None
    ) -> T:
        """Run `work` in one transaction (retried whole on deadlock), `fence` checked last."""
        return await self.database.run(
            lambda session: work(MySqlTx(session)),
            fence=None if fence is None else fence.ensure_valid,
        )

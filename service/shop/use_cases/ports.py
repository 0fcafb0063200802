"""The Protocols the use cases need; adapters implement them, app.py wires them."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol, TypeVar

from ..domain.carts import Cart, CartItem
from ..domain.coupons import Admission, Coupon, IssuedCoupon, UserCoupon
from ..domain.idempotency import KeyRecord, Outcome
from ..domain.orders import Order, OrderStatus, OrderSummary
from ..domain.products import PopularProduct, Product, ProductSort
from ..domain.users import BalanceChange

if TYPE_CHECKING:  # seals.py builds on these ports
    from .seals import Seal

# Every lock name the use cases take (a bounded metric label): counters for each start at zero.
LOCK_NAMES = ("charge", "order")
LOCK_OUTCOMES = ("acquired", "timeout", "cancelled", "error")


class Lease(Protocol):
    """A held lock: its key, the holder's token and a fence that strictly increases per key."""

    key: str
    token: str
    fence: int
    acquired_at: float
    lost: asyncio.Event

    def ensure_valid(self) -> None:
        """Raise LeaseLost when the lease expired or was taken over."""


class Fence(Protocol):
    """What a transaction checks just before its COMMIT is sent (a lease, or a batch's)."""

    def ensure_valid(self) -> None:
        """Raise to leave the transaction uncommitted."""


class LockManager(Protocol):
    """Per-key mutual exclusion; its wait budget and lease are set when it is built."""

    backend: str

    def waiters(self, key: str) -> int:
        """Tasks of this process queued on `key`."""
        ...

    def keys_count(self) -> int:
        """Keys this process holds or waits on (0 when idle)."""
        ...

    def hold(
        self, key: str, *, name: str, wait: float | None = None, lease: float | None = None
    ) -> AbstractAsyncContextManager[Lease]:
        """Wait for `key` within the manager's budget (or `wait`); LockTimeout past it."""
        ...


class CouponGate(Protocol):
    """A fast first answer for coupon issuance; MySQL confirms every admission."""

    async def admit_many(self, coupon_id: str, user_ids: Sequence[str]) -> list[Admission]:
        """Take a unit for each user, in order, unless they have one or none is left."""
        ...

    async def refund_many(self, coupon_id: str, user_ids: Sequence[str]) -> None:
        """Give back units MySQL did not confirm."""
        ...


class NoGate:
    """One process without Redis: every request goes to MySQL."""

    async def admit_many(self, coupon_id: str, user_ids: Sequence[str]) -> list[Admission]:
        """Always let MySQL decide."""
        return [Admission.BYPASSED] * len(user_ids)

    async def refund_many(self, coupon_id: str, user_ids: Sequence[str]) -> None:
        """Nothing was taken."""


class CouponIssues(Protocol):
    """Concurrent issues of one coupon coalesced into one transaction (group commit)."""

    async def issue(
        self, coupon_id: str, user_id: str, *, seal: Seal | None = None
    ) -> IssuedCoupon:
        """Issue with the next batch of the coupon; returns only once committed (with the
        request's outcome, when sealed)."""
        ...


class OrderPlacements(Protocol):
    """Concurrent orders coalesced into one transaction (group commit)."""

    async def place(
        self,
        user_id: str,
        coupon_id: str | None,
        *,
        lease: Fence | None = None,
        seal: Seal | None = None,
    ) -> Order:
        """Place the order with the next batch; returns only once committed. `lease`, the
        user's order lock held by the caller, is checked before the commit."""
        ...


class Probe(Protocol):
    """A dependency readiness asks after: returns when it answers, raises when it does not."""

    async def ping(self) -> object:
        """One round trip."""
        ...


class DatabaseProbe(Probe, Protocol):
    """The database's probe, which also tells how busy the request pool is."""

    def pool(self) -> str:
        """Occupancy of the request pool, in words (read, never waited on)."""
        ...


class Clock(Protocol):
    def __call__(self) -> datetime:
        """Now, timezone-aware UTC."""
        ...


class UsersRepository(Protocol):
    async def balance(self, user_id: str, *, lock: bool = False) -> int | None:
        """The user's balance, or None for an unknown user."""
        ...

    async def credit(self, user_id: str, amount: int, *, limit: int) -> int | None:
        """Add `amount` unless the balance would pass `limit`: the new balance, None when
        nothing changed (no such user, or past the limit)."""
        ...

    async def lock_balances(self, user_ids: Sequence[str]) -> dict[str, int]:
        """The balances of those of `user_ids` that exist, their rows locked in ascending id
        order (until the transaction ends: this serialises a user's orders in the database)."""
        ...

    async def debit_many(self, amounts: Mapping[str, int]) -> bool:
        """Take each user's amount, each only if the balance covers it; False (roll back)
        when any row was refused."""
        ...

    async def record(
        self, user_id: str, change: BalanceChange, *, order_id: int | None = None
    ) -> None:
        """Append one balance-history row (it may reach the store only with the transaction's
        next statement or its commit: a failure then rolls the whole transaction back)."""
        ...

    async def history(self, user_id: str, *, limit: int) -> list[BalanceChange]:
        """The newest `limit` movements, newest first."""
        ...


class ProductsRepository(Protocol):
    async def listing(self, *, category: str | None, sort: ProductSort) -> list[Product]:
        """The catalogue, optionally one category, in the given order."""
        ...

    async def get(self, product_id: str) -> Product | None:
        """One product, or None."""
        ...

    async def lock(self, product_ids: Sequence[str]) -> dict[str, Product]:
        """Lock the rows in ascending id order (so orders never deadlock) and return them."""
        ...

    async def take_stock(self, quantities: dict[str, int]) -> bool:
        """Take the quantities, guarded by stock; False when any row fell short (roll back)."""
        ...

    async def popular(
        self, *, since: datetime, until: datetime, limit: int
    ) -> list[PopularProduct]:
        """Best sellers by units sold in paid orders from `since` to `until`."""
        ...


class CartsRepository(Protocol):
    async def cart_id(self, user_id: str) -> int | None:
        """The user's cart id, or None before first use."""
        ...

    async def ensure(self, user_id: str, *, now: datetime) -> int:
        """The user's cart id, creating the cart on first use."""
        ...

    async def items(self, cart_id: int) -> list[CartItem]:
        """The cart's items with current product names and prices."""
        ...

    async def add(
        self, cart_id: int, product_id: str, quantity: int, *, max_quantity: int, now: datetime
    ) -> int | None:
        """Add units (merging with an existing line); None when the line would pass the max."""
        ...

    async def set_quantity(self, cart_id: int, cart_item_id: int, quantity: int) -> bool:
        """Change a line of this cart; False when the cart holds no such line."""
        ...

    async def remove(self, cart_id: int, cart_item_id: int) -> bool:
        """Remove a line of this cart; False when the cart holds no such line."""
        ...

    async def of_users(self, user_ids: Sequence[str]) -> dict[str, Cart]:
        """The carts of those of `user_ids` that have one, with their items."""
        ...

    async def clear(self, cart_ids: Sequence[int]) -> None:
        """Empty the carts."""
        ...


class CouponsRepository(Protocol):
    async def create(self, coupon: Coupon, *, now: datetime) -> None:
        """Store a new coupon."""
        ...

    async def get(self, coupon_id: str) -> Coupon | None:
        """One coupon, or None."""
        ...

    async def available(self, *, now: datetime) -> list[Coupon]:
        """Coupons with units left that have not expired."""
        ...

    async def lock(self, coupon_id: str) -> Coupon | None:
        """The coupon with its row locked until the transaction ends (None when unknown)."""
        ...

    async def claimants(self, coupon_id: str, user_ids: Sequence[str]) -> tuple[set[str], set[str]]:
        """Of `user_ids`: those that exist, and those already holding the coupon."""
        ...

    async def grant_many(
        self, coupon_id: str, user_ids: Sequence[str], *, now: datetime
    ) -> dict[str, int] | None:
        """Give each user the coupon at once (user coupon id by user); None on any duplicate."""
        ...

    async def take(self, coupon_id: str, count: int, *, now: datetime) -> bool:
        """Count `count` more issues unless sold out or expired; False when nothing changed."""
        ...

    async def of_user(self, user_id: str) -> list[UserCoupon]:
        """Every coupon issued to the user, newest first."""
        ...

    async def lock_user_coupons(
        self, wanted: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], UserCoupon]:
        """The users' copies of the coupons, by (user id, coupon id), locked for use by orders
        (the pairs not issued are left out)."""
        ...

    async def gate_snapshot(self, coupon_id: str) -> tuple[int, list[str]] | None:
        """Units left and every user holding the coupon (what a coupon gate is rebuilt from)."""
        ...

    async def mark_used_many(self, orders: Mapping[int, int], *, now: datetime) -> bool:
        """Spend unused user coupons, each by its order (user coupon id -> order id); False
        (roll back) when any was already used."""
        ...


class OrdersRepository(Protocol):
    async def add_many(self, orders: Sequence[Order]) -> list[int]:
        """Store the orders and their lines; returns the new order ids, in the same order."""
        ...

    async def add_payment(self, *, order_id: int, user_id: str, amount: int, now: datetime) -> None:
        """Record the completed payment of an order (sent with the next statement or commit)."""
        ...

    async def get(self, order_id: int) -> Order | None:
        """One order with its lines, or None."""
        ...

    async def page(
        self, user_id: str, *, status: OrderStatus | None, offset: int, limit: int
    ) -> tuple[list[OrderSummary], int]:
        """One page of the user's orders, newest first, and how many there are in all."""
        ...


class IdempotencyRepository(Protocol):
    async def claim(
        self, user_id: str, key: str, *, fingerprint: bytes, token: str, now: datetime
    ) -> bool:
        """Store a claim on the key; False when the key is already stored."""
        ...

    async def get(self, user_id: str, key: str) -> KeyRecord | None:
        """The stored key, or None."""
        ...

    async def take_over(
        self,
        user_id: str,
        key: str,
        *,
        old_token: str,
        fingerprint: bytes,
        token: str,
        now: datetime,
        renew: bool,
    ) -> bool:
        """Move a stale claim (or, with `renew`, an expired key) to `token`; False if raced."""
        ...

    async def seal(self, user_id: str, key: str, *, token: str, outcome: Outcome) -> bool:
        """Store the outcome of the claim `token`; False when the claim is no longer ours."""
        ...

    async def release(self, user_id: str, key: str, *, token: str) -> None:
        """Drop the claim `token` unless it was answered."""
        ...

    async def purge(self, *, before: datetime, limit: int) -> int:
        """Delete at most `limit` keys created before `before`; returns how many went."""
        ...


class Tx(Protocol):
    """The repositories over one connection (one transaction when written)."""

    @property
    def users(self) -> UsersRepository: ...
    @property
    def products(self) -> ProductsRepository: ...
    @property
    def carts(self) -> CartsRepository: ...
    @property
    def coupons(self) -> CouponsRepository: ...
    @property
    def orders(self) -> OrdersRepository: ...
    @property
    def idempotency(self) -> IdempotencyRepository: ...


T = TypeVar("T")


class Store(Protocol):
    async def autocommit(self, work: Callable[[Tx], Awaitable[T]]) -> T:
        """Run `work` on one connection, each statement committing on its own."""
        ...

    async def transaction(
        self, work: Callable[[Tx], Awaitable[T]], *, fence: Fence | None = None
    ) -> T:
        """Run `work` in one transaction: all of it commits or none of it does.

        `fence`, the lease of the lock the work runs under, is checked last, just before the
        COMMIT is sent: a holder whose lease lapsed commits nothing (LeaseLost).
        """
        ...


@dataclass(frozen=True, slots=True)
class SeedReport:
    users: int
    products: int
    coupon_quantity: int
    seconds: float


class DataSet(Protocol):
    """Writes what is missing of the load-test data set; rows that exist stay as they are."""

    async def seed(self, *, users: int, stock: int, coupon_quantity: int) -> SeedReport:
        """Users `test-user-1..users`, the test coupon, ten products and a cart per user."""
        ...

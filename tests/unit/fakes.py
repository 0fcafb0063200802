"""In-memory implementations of the ports in `shop.use_cases.ports`, for use-case tests.

They honour the contracts the ports document, guards included: a refused credit, debit,
stock take or coupon take returns False and changes nothing; a second grant of a coupon to
one user returns None; a transaction that raises leaves no trace.
"""

from __future__ import annotations

import copy
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, TypeVar

from shop.domain.carts import Cart, CartItem
from shop.domain.coupons import Admission, Coupon, DiscountType, UserCoupon, UserCouponStatus
from shop.domain.orders import Order, OrderStatus, OrderSummary
from shop.domain.products import PopularProduct, Product, ProductSort
from shop.domain.users import BalanceChange
from shop.locks.local import LocalLockManager
from shop.use_cases.deps import Deps
from shop.use_cases.ports import Fence, NoGate

T = TypeVar("T")
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass(slots=True)
class _Line:
    cart_id: int
    product_id: str
    quantity: int


@dataclass(slots=True)
class _Stored:
    product: Product
    sales_count: int
    created_at: datetime


@dataclass(slots=True)
class _Held:
    user_coupon: UserCoupon
    order_id: int | None = None


@dataclass(slots=True)
class Tables:
    """Every row the shop keeps, as plain Python."""

    balances: dict[str, int] = field(default_factory=dict)
    history: list[tuple[str, BalanceChange, int | None]] = field(default_factory=list)
    products: dict[str, _Stored] = field(default_factory=dict)
    carts: dict[str, int] = field(default_factory=dict)
    lines: dict[int, _Line] = field(default_factory=dict)
    coupons: dict[str, Coupon] = field(default_factory=dict)
    held: dict[int, _Held] = field(default_factory=dict)
    orders: dict[int, Order] = field(default_factory=dict)
    payments: list[tuple[int, str, int]] = field(default_factory=list)
    last_id: int = 0

    def new_id(self) -> int:
        """The next id of any kind (ids only need to be unique and increasing)."""
        self.last_id += 1
        return self.last_id


class Users:
    def __init__(self, t: Tables) -> None:
        self.t = t

    async def balance(self, user_id: str, *, lock: bool = False) -> int | None:
        return self.t.balances.get(user_id)

    async def credit(self, user_id: str, amount: int, *, limit: int) -> int | None:
        current = self.t.balances.get(user_id)
        if current is None or current + amount > limit:
            return None
        self.t.balances[user_id] = current + amount
        return current + amount

    async def lock_balances(self, user_ids: Sequence[str]) -> dict[str, int]:
        return {u: self.t.balances[u] for u in sorted(set(user_ids)) if u in self.t.balances}

    async def debit_many(self, amounts: Mapping[str, int]) -> bool:
        if any(self.t.balances.get(u, -1) < amount for u, amount in amounts.items()):
            return False
        for user_id, amount in amounts.items():
            self.t.balances[user_id] -= amount
        return True

    async def record(
        self, user_id: str, change: BalanceChange, *, order_id: int | None = None
    ) -> None:
        self.t.history.append((user_id, change, order_id))

    async def history(self, user_id: str, *, limit: int) -> list[BalanceChange]:
        mine = [change for uid, change, _ in self.t.history if uid == user_id]
        return mine[::-1][:limit]


class Products:
    def __init__(self, t: Tables) -> None:
        self.t = t

    async def listing(self, *, category: str | None, sort: ProductSort) -> list[Product]:
        rows = [s for s in self.t.products.values() if category in (None, s.product.category)]
        if sort is ProductSort.PRICE:
            rows.sort(key=lambda s: (s.product.price, s.product.product_id))
        elif sort is ProductSort.POPULARITY:
            rows.sort(key=lambda s: (-s.sales_count, s.product.product_id))
        else:
            rows.sort(key=lambda s: (s.created_at, s.product.product_id), reverse=True)
        return [s.product for s in rows]

    async def get(self, product_id: str) -> Product | None:
        stored = self.t.products.get(product_id)
        return None if stored is None else stored.product

    async def lock(self, product_ids: Sequence[str]) -> dict[str, Product]:
        return {
            pid: self.t.products[pid].product
            for pid in sorted(set(product_ids))
            if pid in self.t.products
        }

    async def take_stock(self, quantities: dict[str, int]) -> bool:
        # As the one guarded UPDATE does: rows that cover their quantity change, the others
        # do not, and False tells the caller to roll the whole transaction back.
        changed = 0
        for pid, taken in quantities.items():
            stored = self.t.products.get(pid)
            if stored is not None and stored.product.stock >= taken:
                stored.product = replace(stored.product, stock=stored.product.stock - taken)
                stored.sales_count += taken
                changed += 1
        return changed == len(quantities)

    async def popular(
        self, *, since: datetime, until: datetime, limit: int
    ) -> list[PopularProduct]:
        units: dict[str, int] = {}
        for order in self.t.orders.values():
            if since <= order.created_at <= until:
                for line in order.lines:
                    units[line.product_id] = units.get(line.product_id, 0) + line.quantity
        ranked = sorted(units.items(), key=lambda item: (-item[1], item[0]))[:limit]
        return [
            PopularProduct(product=self.t.products[pid].product, sales_count=n)
            for pid, n in ranked
            if pid in self.t.products
        ]


class Carts:
    def __init__(self, t: Tables) -> None:
        self.t = t

    async def cart_id(self, user_id: str) -> int | None:
        return self.t.carts.get(user_id)

    async def ensure(self, user_id: str, *, now: datetime) -> int:
        if user_id not in self.t.carts:
            self.t.carts[user_id] = self.t.new_id()
        return self.t.carts[user_id]

    async def of_users(self, user_ids: Sequence[str]) -> dict[str, Cart]:
        return {
            u: Cart(
                cart_id=self.t.carts[u], user_id=u, items=tuple(await self.items(self.t.carts[u]))
            )
            for u in sorted(set(user_ids))
            if u in self.t.carts
        }

    async def items(self, cart_id: int) -> list[CartItem]:
        found = []
        for line_id, line in sorted(self.t.lines.items()):
            if line.cart_id == cart_id:
                product = self.t.products[line.product_id].product
                found.append(
                    CartItem(
                        cart_item_id=line_id,
                        product_id=line.product_id,
                        product_name=product.name,
                        price=product.price,
                        quantity=line.quantity,
                    )
                )
        return found

    async def add(
        self, cart_id: int, product_id: str, quantity: int, *, max_quantity: int, now: datetime
    ) -> int | None:
        for line_id, line in self.t.lines.items():
            if line.cart_id == cart_id and line.product_id == product_id:
                if line.quantity + quantity > max_quantity:
                    return None
                line.quantity += quantity
                return line_id
        line_id = self.t.new_id()
        self.t.lines[line_id] = _Line(cart_id, product_id, quantity)
        return line_id

    async def set_quantity(self, cart_id: int, cart_item_id: int, quantity: int) -> bool:
        line = self.t.lines.get(cart_item_id)
        if line is None or line.cart_id != cart_id:
            return False
        line.quantity = quantity
        return True

    async def remove(self, cart_id: int, cart_item_id: int) -> bool:
        line = self.t.lines.get(cart_item_id)
        if line is None or line.cart_id != cart_id:
            return False
        del self.t.lines[cart_item_id]
        return True

    async def clear(self, cart_ids: Sequence[int]) -> None:
        for line_id in [i for i, line in self.t.lines.items() if line.cart_id in cart_ids]:
            del self.t.lines[line_id]


class Coupons:
    def __init__(self, t: Tables) -> None:
        self.t = t

    async def create(self, coupon: Coupon, *, now: datetime) -> None:
        self.t.coupons[coupon.coupon_id] = coupon

    async def get(self, coupon_id: str) -> Coupon | None:
        return self.t.coupons.get(coupon_id)

    async def available(self, *, now: datetime) -> list[Coupon]:
        found = [
            c
            for c in self.t.coupons.values()
            if c.expires_at > now and c.issued_quantity < c.total_quantity
        ]
        return sorted(found, key=lambda c: (c.expires_at, c.coupon_id))

    async def lock(self, coupon_id: str) -> Coupon | None:
        return self.t.coupons.get(coupon_id)

    async def claimants(self, coupon_id: str, user_ids: Sequence[str]) -> tuple[set[str], set[str]]:
        known = {u for u in user_ids if u in self.t.balances}
        holders = {
            h.user_coupon.user_id
            for h in self.t.held.values()
            if h.user_coupon.coupon.coupon_id == coupon_id and h.user_coupon.user_id in known
        }
        return known, holders

    async def grant_many(
        self, coupon_id: str, user_ids: Sequence[str], *, now: datetime
    ) -> dict[str, int] | None:
        _, holders = await self.claimants(coupon_id, user_ids)
        if holders or len(set(user_ids)) < len(user_ids):  # the unique key
            return None
        ids: dict[str, int] = {}
        for user_id in user_ids:
            ids[user_id] = held_id = self.t.new_id()
            self.t.held[held_id] = _Held(
                UserCoupon(
                    user_coupon_id=held_id,
                    user_id=user_id,
                    coupon=self.t.coupons[coupon_id],
                    status=UserCouponStatus.AVAILABLE,
                    issued_at=now,
                    used_at=None,
                )
            )
        return ids

    async def take(self, coupon_id: str, count: int, *, now: datetime) -> bool:
        coupon = self.t.coupons.get(coupon_id)
        if coupon is None or coupon.remaining_quantity < count or coupon.is_expired(now):
            return False
        self.t.coupons[coupon_id] = replace(coupon, issued_quantity=coupon.issued_quantity + count)
        return True

    def _fresh(self, held: _Held) -> UserCoupon:
        coupon = self.t.coupons[held.user_coupon.coupon.coupon_id]
        return replace(held.user_coupon, coupon=coupon)

    async def of_user(self, user_id: str) -> list[UserCoupon]:
        mine = [h for h in self.t.held.values() if h.user_coupon.user_id == user_id]
        return [self._fresh(h) for h in sorted(mine, key=lambda h: -h.user_coupon.user_coupon_id)]

    async def lock_user_coupons(
        self, wanted: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], UserCoupon]:
        asked = set(wanted)
        return {
            (h.user_coupon.user_id, h.user_coupon.coupon.coupon_id): self._fresh(h)
            for h in self.t.held.values()
            if (h.user_coupon.user_id, h.user_coupon.coupon.coupon_id) in asked
        }

    async def gate_snapshot(self, coupon_id: str) -> tuple[int, list[str]] | None:
        coupon = self.t.coupons.get(coupon_id)
        if coupon is None:
            return None
        holders = [
            h.user_coupon.user_id
            for h in self.t.held.values()
            if h.user_coupon.coupon.coupon_id == coupon_id
        ]
        return coupon.remaining_quantity, holders

    async def mark_used_many(self, orders: Mapping[int, int], *, now: datetime) -> bool:
        held = [self.t.held.get(user_coupon_id) for user_coupon_id in orders]
        if any(h is None or h.user_coupon.status is not UserCouponStatus.AVAILABLE for h in held):
            return False
        for user_coupon_id, order_id in orders.items():
            h = self.t.held[user_coupon_id]
            h.user_coupon = replace(h.user_coupon, status=UserCouponStatus.USED, used_at=now)
            h.order_id = order_id
        return True


class Orders:
    def __init__(self, t: Tables) -> None:
        self.t = t

    async def add_many(self, orders: Sequence[Order]) -> list[int]:
        order_ids = []
        for order in orders:
            order_ids.append(order_id := self.t.new_id())
            self.t.orders[order_id] = replace(order, order_id=order_id)
        return order_ids

    async def add_payment(self, *, order_id: int, user_id: str, amount: int, now: datetime) -> None:
        self.t.payments.append((order_id, user_id, amount))

    async def get(self, order_id: int) -> Order | None:
        return self.t.orders.get(order_id)

    async def page(
        self, user_id: str, *, status: OrderStatus | None, offset: int, limit: int
    ) -> tuple[list[OrderSummary], int]:
        mine = [
            o
            for o in sorted(self.t.orders.values(), key=lambda o: -o.order_id)
            if o.user_id == user_id and status in (None, o.status)
        ]
        return [
            OrderSummary(
                order_id=o.order_id,
                total_amount=o.total_amount,
                discount_amount=o.discount_amount,
                final_amount=o.final_amount,
                status=o.status,
                created_at=o.created_at,
            )
            for o in mine[offset : offset + limit]
        ], len(mine)


class MemoryTx:
    __slots__ = ("carts", "coupons", "orders", "products", "users")

    def __init__(self, t: Tables) -> None:
        self.users = Users(t)
        self.products = Products(t)
        self.carts = Carts(t)
        self.coupons = Coupons(t)
        self.orders = Orders(t)


class MemoryStore:
    """The Store port over `Tables`; a transaction that raises is rolled back whole."""

    def __init__(self, tables: Tables | None = None) -> None:
        self.tables = tables or Tables()
        self.transactions = 0

    async def autocommit(self, work: Callable[[MemoryTx], Awaitable[T]]) -> T:
        return await work(MemoryTx(self.tables))

    async def transaction(
        self, work: Callable[[MemoryTx], Awaitable[T]], *, fence: Fence | None = None
    ) -> T:
        self.transactions += 1
        saved = copy.deepcopy(self.tables)
        try:
            result = await work(MemoryTx(self.tables))
            if fence is not None:
                fence.ensure_valid()
            return result
        except BaseException:
            for name in Tables.__dataclass_fields__:
                setattr(self.tables, name, getattr(saved, name))
            raise


class MemoryGate:
    """The CouponGate port: at most `remaining` distinct users per coupon, refunds honoured."""

    def __init__(self, store: MemoryStore) -> None:
        self._store = store
        self.admitted: dict[str, set[str]] = {}
        self.left: dict[str, int] = {}
        self.refunds: list[tuple[str, str]] = []

    async def admit_many(self, coupon_id: str, user_ids: Sequence[str]) -> list[Admission]:
        return [await self._admit(coupon_id, user_id) for user_id in user_ids]

    async def refund_many(self, coupon_id: str, user_ids: Sequence[str]) -> None:
        for user_id in user_ids:
            self.refunds.append((coupon_id, user_id))
            if user_id in self.admitted.get(coupon_id, set()):
                self.admitted[coupon_id].discard(user_id)
                self.left[coupon_id] += 1

    async def _admit(self, coupon_id: str, user_id: str) -> Admission:
        if coupon_id not in self.left:
            snapshot = await Coupons(self._store.tables).gate_snapshot(coupon_id)
            if snapshot is None:
                return Admission.BYPASSED
            self.left[coupon_id], holders = snapshot
            self.admitted[coupon_id] = set(holders)
        if user_id in self.admitted[coupon_id]:
            return Admission.DUPLICATE
        if self.left[coupon_id] <= 0:
            return Admission.SOLD_OUT
        self.admitted[coupon_id].add(user_id)
        self.left[coupon_id] -= 1
        return Admission.ADMITTED


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime = EPOCH) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass(slots=True)
class World:
    """A shop with no services: the store, clock, gate and locks a use case is given."""

    store: MemoryStore = field(default_factory=MemoryStore)
    clock: Clock = field(default_factory=Clock)
    locks: LocalLockManager = field(default_factory=lambda: LocalLockManager(wait=1, lease=10))
    scope: str = "user"
    gate: Any = field(default_factory=NoGate)

    @property
    def tables(self) -> Tables:
        return self.store.tables

    @property
    def deps(self) -> Deps:
        return Deps(
            store=self.store,
            locks=self.locks,
            clock=self.clock,
            order_lock_scope=lambda: self.scope,
            coupon_gate=self.gate,
        )

    def user(self, user_id: str = "alice", *, balance: int = 0) -> str:
        self.tables.balances[user_id] = balance
        return user_id

    def product(
        self,
        product_id: str = "book",
        *,
        price: int = 1_000,
        stock: int = 10,
        category: str = "BOOKS",
        created_at: datetime = EPOCH,
    ) -> str:
        product = Product(
            product_id=product_id,
            name=f"Product {product_id}",
            price=price,
            stock=stock,
            category=category,
        )
        self.tables.products[product_id] = _Stored(product, 0, created_at)
        return product_id

    def coupon(self, coupon_id: str = "ten-off", **fields: Any) -> str:
        values: dict[str, Any] = {
            "name": "Coupon",
            "discount_type": "FIXED",
            "discount_value": 1_000,
            "min_order_amount": 0,
            "total_quantity": 10,
            "issued_quantity": 0,
            "expires_at": self.clock.now.replace(year=self.clock.now.year + 1),
            **fields,
        }
        values["discount_type"] = DiscountType(values["discount_type"])
        self.tables.coupons[coupon_id] = Coupon(coupon_id=coupon_id, **values)
        return coupon_id

    def stock(self, product_id: str) -> int:
        return self.tables.products[product_id].product.stock

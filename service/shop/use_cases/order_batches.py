"""Placing orders, the one path: concurrent orders share one transaction (group commit).

Every seeded cart holds the same product, as a flash sale does, so with one transaction per
order every order queues on that product row's lock and orders top out at one commit per lock
hand-over. Here the orders that arrive while a batch runs wait in a queue and go together in
the next one, whatever their products:

1. reads, once for the batch: the users' balances (rows locked, ascending id: a user's orders
   serialise on them in the database itself), their carts and items, their coupons (locked);
2. the rule `domain/checkout.py` answers each order as if they had run one after another in
   arrival order; a refused order writes nothing;
3. writes, set-based: the orders and their lines in one round trip, one guarded debit of every
   paying user, one guarded update spending the coupons, payments and history rows sent along
   with one statement emptying the carts, each keyed order's outcome, and last one guarded
   stock update by the
   batch's total per product (ascending id), so the hot row is locked once per batch, from
   that update to the commit;
4. one commit, after checking every order's lease.

A batch costs the same few round trips whatever its size. With `max_batch=1` every order is a
batch of one.

The stock is not read: when the guarded update finds less than the batch takes, the batch is
rolled back and runs again with the products locked and read first, which makes the rule exact
(it then refuses P002 to the orders the stock cannot cover, in arrival order). Guarantees:
- a 200 means that order committed; a batch commits whole or not at all;
- a guard refusing what the locked reads allowed (a writer outside the locks) rolls the batch
  back and splits it into one-order batches, each getting its own answer;
- an order whose lease lapsed, or whose idempotency claim a retry took over, is answered
  alone (LOCK003 / 409) and the rest of its batch runs again without it;
- a batch is bounded by `timeout`: past it, it is rolled back and its orders get 503;
- an order cancelled while queued is withdrawn; once its batch has started, the batch finishes
  and the order's caller keeps the user's lock until it has.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Unpack

from ..domain.checkout import Buyer, Purchase, Request, checkout
from ..domain.errors import (
    CouponAlreadyUsed,
    DatabaseUnavailable,
    IdempotencyInProgress,
    InsufficientBalance,
    InsufficientStock,
    LeaseLost,
    ShopError,
)
from ..domain.idempotency import Outcome
from ..domain.orders import Order, OrderStatus
from ..domain.users import BalanceChange, BalanceReason
from .group_commit import Batches, Limits, Rerun, State, Ticket, next_batch
from .ports import Clock, Fence, Store, Tx
from .seals import Seal

Result = Order | BaseException


class _Ticket(Ticket[Order]):
    """One order's place in the queue."""

    __slots__ = ("lease", "request", "seal")

    def __init__(self, request: Request, lease: Fence | None, seal: Seal | None) -> None:
        super().__init__()
        self.request = request
        self.lease = lease
        self.seal = seal


class _Refused(Rerun):
    """A guard refused what the batch's reads allowed: rolled back whole. `alone` is the
    answer of a batch of one (the order's own refusal)."""

    def __init__(self, alone: ShopError) -> None:
        super().__init__(alone.message)
        self.alone = alone


class _Shortfall(Rerun):
    """The stock update found less than the batch takes: rolled back, to run again locked."""


class _Excluded(Rerun):
    """One order cannot commit (lease lapsed, key taken over): the batch was rolled back."""

    def __init__(self, ticket: _Ticket, error: ShopError) -> None:
        super().__init__(error.message)
        self.ticket = ticket
        self.error = error


class _Leases:
    """The fence of a batch: every order's lease, checked just before the COMMIT is sent."""

    def __init__(self, tickets: Sequence[_Ticket]) -> None:
        self._tickets = tickets

    def ensure_valid(self) -> None:
        for ticket in self._tickets:
            if ticket.lease is not None:
                try:
                    ticket.lease.ensure_valid()
                except LeaseLost as lost:
                    raise _Excluded(ticket, lost) from lost


class OrderBatches(Batches):
    """The order queue of this process."""

    def __init__(self, store: Store, clock: Clock, **limits: Unpack[Limits]) -> None:
        super().__init__(store, clock, **limits)
        self._tickets: deque[_Ticket] = deque()
        self._running = 0

    async def place(
        self,
        user_id: str,
        coupon_id: str | None,
        *,
        lease: Fence | None = None,
        seal: Seal | None = None,
    ) -> Order:
        """Place the order with the next batch; returns only once committed. `lease` is the
        user's order lock, held by the caller until this returns: checked before the commit."""
        ticket = _Ticket(Request(user_id, coupon_id), lease, seal)
        self._tickets.append(ticket)
        if self._running < self._parallel:
            self._running += 1
            self._start(self._drain(), "order-batches")
        # Once sent, the batch may still commit this order: the caller keeps the user's lock
        # until it is over, so that the user's next order cannot overtake it.
        return await ticket.wait(hold_while_sent=True)

    def queued(self) -> int:
        """Orders waiting for a batch."""
        return sum(t.state is State.QUEUED for t in self._tickets)

    async def _drain(self) -> None:
        tickets = self._tickets
        try:
            while tickets:
                batch = next_batch(tickets, self._max_batch)
                if batch:
                    await self._serve(batch)
        finally:
            # No await between the last emptiness check and here: a later order starts anew.
            self._running -= 1
            if not self._running:
                while tickets:
                    tickets.popleft().answer(DatabaseUnavailable("the shop is shutting down"))

    async def _serve(self, batch: list[_Ticket]) -> None:
        try:
            results = await self._run(batch, locked=False)
        except BaseException as exc:  # the runner itself was cancelled: nothing committed
            for ticket in batch:
                ticket.answer(exc)
            raise
        for ticket, result in zip(batch, results, strict=True):
            ticket.answer(result)

    async def _run(self, tickets: list[_Ticket], *, locked: bool) -> list[Result]:
        now = self._clock()

        async def work(tx: Tx) -> tuple[list[Result], list[tuple[Seal, Outcome]]]:
            return await _settle(tx, tickets, now, locked=locked)

        try:
            transaction = self._store.transaction(work, fence=_Leases(tickets))
            return await self._commit(transaction, "the order", len(tickets))
        except _Shortfall:
            return await self._run(tickets, locked=True)
        except _Refused as refused:
            if len(tickets) == 1:
                return [refused.alone]
            return [(await self._run([t], locked=True))[0] for t in tickets]
        except _Excluded as excluded:
            rest = [t for t in tickets if t is not excluded.ticket]
            results = await self._run(rest, locked=locked) if rest else []
            results.insert(tickets.index(excluded.ticket), excluded.error)
            return results


async def _settle(
    tx: Tx, tickets: list[_Ticket], now: datetime, *, locked: bool
) -> tuple[list[Result], list[tuple[Seal, Outcome]]]:
    """The batch's transaction: locked reads, the rule, set-based writes, the stock last."""
    requests = [t.request for t in tickets]
    balances = await tx.users.lock_balances([r.user_id for r in requests])
    carts = await tx.carts.of_users(sorted(balances)) if balances else {}
    wanted = sorted(
        {(r.user_id, r.coupon_id) for r in requests if r.coupon_id and r.user_id in carts}
    )
    coupons = await tx.coupons.lock_user_coupons(wanted) if wanted else {}
    stock = None
    if locked:  # exact: the products are locked after the rows above, as the update does
        ids = sorted({item.product_id for cart in carts.values() for item in cart.items})
        stock = {pid: p.stock for pid, p in (await tx.products.lock(ids)).items()} if ids else {}
    buyers = {user: Buyer(balance, carts.get(user)) for user, balance in balances.items()}
    answers = checkout(requests, buyers=buyers, coupons=coupons, stock=stock, now=now)
    purchases = [a for a in answers if isinstance(a, Purchase)]
    orders = await _write(tx, purchases, now) if purchases else []
    paid = iter(orders)
    results: list[Result] = [next(paid) if isinstance(a, Purchase) else a for a in answers]
    sealed: list[tuple[Seal, Outcome]] = []
    for ticket, result in zip(tickets, results, strict=True):
        if ticket.seal is not None:  # a keyed order: its outcome commits with the batch
            outcome = ticket.seal.outcome(result)
            if not await ticket.seal.write(tx, outcome):
                lost = IdempotencyInProgress("a retry with this key took over the request")
                raise _Excluded(ticket, lost)
            sealed.append((ticket.seal, outcome))
    if purchases:
        totals: dict[str, int] = {}
        for purchase in purchases:
            for line in purchase.lines:
                totals[line.product_id] = totals.get(line.product_id, 0) + line.quantity
        if not await tx.products.take_stock(totals):
            if locked:
                raise _Refused(InsufficientStock("insufficient stock"))
            raise _Shortfall
    return results, sealed


async def _write(tx: Tx, purchases: list[Purchase], now: datetime) -> list[Order]:
    """The paid orders' rows, all but the stock."""
    drafts = [
        Order(
            order_id=0,
            user_id=p.user_id,
            status=OrderStatus.PAID,
            lines=p.lines,
            total_amount=p.total,
            discount_amount=p.discount,
            final_amount=p.final,
            coupon_id=None if p.user_coupon is None else p.user_coupon.coupon.coupon_id,
            created_at=now,
        )
        for p in purchases
    ]
    order_ids = await tx.orders.add_many(drafts)
    # A zero-amount debit changes no row, so it is left out rather than read as a refusal.
    debits = {p.user_id: p.final for p in purchases if p.final > 0}
    if debits and not await tx.users.debit_many(debits):
        raise _Refused(InsufficientBalance("insufficient balance"))
    uses = {
        p.user_coupon.user_coupon_id: order_id
        for p, order_id in zip(purchases, order_ids, strict=True)
        if p.user_coupon is not None
    }
    if uses and not await tx.coupons.mark_used_many(uses, now=now):
        raise _Refused(CouponAlreadyUsed("coupon already used"))
    orders = []
    for purchase, draft, order_id in zip(purchases, drafts, order_ids, strict=True):
        final = purchase.final
        await tx.orders.add_payment(
            order_id=order_id, user_id=purchase.user_id, amount=final, now=now
        )
        change = BalanceChange(
            amount=-final,
            previous_balance=purchase.balance_before,
            current_balance=purchase.balance_before - final,
            reason=BalanceReason.PAYMENT,
            created_at=now,
        )
        await tx.users.record(purchase.user_id, change, order_id=order_id)
        orders.append(replace(draft, order_id=order_id))
    await tx.carts.clear([p.cart_id for p in purchases])
    return orders

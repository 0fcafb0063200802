"""Coupon issuance, the one path: concurrent issues of one coupon share one transaction.

Every issue of a coupon updates the same row, so one transaction per issue queues them all on
that row's lock and the coupon tops out at one commit per lock hand-over. Here the issues of a
coupon that arrive while its previous batch runs wait in a queue and go together in the next
one: one gate call for all of them (when Redis is configured), then one transaction — read the
coupon, which of the users exist and already hold it, one multi-row insert for the winners,
one update guarded by their count, one commit — and one refund call for admitted losers.
With `max_batch=1` every issue is a batch of one. A request with an `Idempotency-Key` joins a
batch like any other: its outcome (its coupon, or its refusal) is sealed in the batch's
transaction, so it commits with the batch or not at all.

The transaction reads without locking, so the hot row is locked only from the guarded update
to the commit and concurrent batches (other processes, or this one's) overlap everything else.
When the update finds fewer units than the read did, the batch runs again with the row locked
from the start (`SELECT ... FOR UPDATE`), which makes its read exact. The unique key and the
guarded update stay the last word.

Guarantees:
- a request's answer is its own (C006, C001, U001, C003, C002 as if it had run alone, in
  arrival order), and a winner is answered only after the commit;
- a batch fails whole or not at all (one transaction); when the unique key refuses it (a
  holder written meanwhile) it is split into one-request batches;
- a batch is bounded by `timeout`: past it, it is rolled back and its requests get 503, and
  the next batch starts;
- a keyed request whose claim a retry took over is answered 409 and the rest of its batch runs
  again without it;
- a request cancelled while queued is withdrawn before the gate or the database see it; once
  its batch has started, the batch finishes and settles the gate for it.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import datetime
from typing import Unpack

from ..domain.allotment import Allotment, allot, already_issued, refused_by_gate
from ..domain.coupons import Admission, Coupon, IssuedCoupon
from ..domain.errors import (
    DatabaseUnavailable,
    IdempotencyInProgress,
)
from ..domain.idempotency import Outcome
from .group_commit import Batches, Limits, Rerun, State, Ticket, next_batch
from .ports import Clock, CouponGate, Store, Tx
from .seals import Seal

Result = IssuedCoupon | BaseException


class _Ticket(Ticket[IssuedCoupon]):
    """One request's place in its coupon's queue."""

    __slots__ = ("seal", "user_id")

    def __init__(self, user_id: str, seal: Seal | None) -> None:
        super().__init__()
        self.user_id = user_id
        self.seal = seal


class _Collision(Rerun):
    """The unique key refused the batch's insert: it was rolled back whole."""


class _Taken(Rerun):
    """A keyed request's claim was taken over by a retry: the batch was rolled back whole."""

    def __init__(self, ticket: _Ticket) -> None:
        super().__init__(ticket.user_id)
        self.ticket = ticket


class _Shortfall(Rerun):
    """Fewer units were left than the unlocked read said: rolled back, to run again locked."""


@dataclass(slots=True)
class _Queue:
    tickets: deque[_Ticket]
    running: int = 0  # batches of this coupon in flight from this process


class CouponBatches(Batches):
    """The issue queue of every coupon this process serves."""

    def __init__(
        self, store: Store, gate: CouponGate, clock: Clock, **limits: Unpack[Limits]
    ) -> None:
        super().__init__(store, clock, **limits)
        self._gate = gate
        self._queues: dict[str, _Queue] = {}

    async def issue(
        self, coupon_id: str, user_id: str, *, seal: Seal | None = None
    ) -> IssuedCoupon:
        """Issue with the next batch of this coupon; returns only once committed (with the
        request's outcome, when sealed)."""
        # Cancelled while queued, it never reaches the gate or the database.
        return await self._submit(coupon_id, user_id, seal).wait()

    def queued(self, coupon_id: str) -> int | None:
        """Requests waiting for a batch of the coupon; None when no batch of it is running."""
        queue = self._queues.get(coupon_id)
        return None if queue is None else sum(t.state is State.QUEUED for t in queue.tickets)

    def _submit(self, coupon_id: str, user_id: str, seal: Seal | None) -> _Ticket:
        ticket = _Ticket(user_id, seal)
        queue = self._queues.get(coupon_id)
        if queue is None:
            queue = self._queues[coupon_id] = _Queue(deque())
        queue.tickets.append(ticket)
        if queue.running < self._parallel:
            queue.running += 1
            self._start(self._drain(coupon_id, queue), "coupon-batches")
        return ticket

    async def _drain(self, coupon_id: str, queue: _Queue) -> None:
        tickets = queue.tickets
        try:
            while tickets:
                batch = next_batch(tickets, self._max_batch)
                if batch:
                    await self._serve(coupon_id, batch)
        finally:
            # No await between the last emptiness check and here: a later submit starts anew.
            queue.running -= 1
            if not queue.running:
                del self._queues[coupon_id]
                for ticket in tickets:
                    ticket.answer(DatabaseUnavailable("the shop is shutting down"))

    async def _serve(self, coupon_id: str, batch: list[_Ticket]) -> None:
        """Gate, transaction, refunds; every ticket of the batch is answered at the end."""
        users = [t.user_id for t in batch]
        admissions = await self._gate.admit_many(coupon_id, users)
        results: list[Result | None] = [
            refused_by_gate(coupon_id, user, admission)
            for user, admission in zip(users, admissions, strict=True)
        ]
        ask = [i for i, r in enumerate(results) if r is None]
        if ask:
            for i, result in zip(
                ask, await self._run(coupon_id, [batch[i] for i in ask]), strict=True
            ):
                results[i] = result
        refunds = [
            users[i]
            for i in ask
            if admissions[i] is Admission.ADMITTED and not isinstance(results[i], IssuedCoupon)
        ]
        if refunds:  # before the answers: a refused user asking again finds the unit back
            await self._gate.refund_many(coupon_id, refunds)
        for ticket, answer in zip(batch, results, strict=True):
            assert answer is not None  # the gate or the transaction answered every request
            ticket.answer(answer)

    async def _run(
        self, coupon_id: str, tickets: list[_Ticket], *, locked: bool = False
    ) -> list[Result]:
        users = [t.user_id for t in tickets]
        now = self._clock()

        async def work(tx: Tx) -> tuple[list[Result], list[tuple[Seal, Outcome]]]:
            return await _issue(tx, coupon_id, tickets, now, locked=locked)

        try:
            return await self._commit(self._store.transaction(work), "coupon issue", len(tickets))
        except _Shortfall:
            return await self._run(coupon_id, tickets, locked=True)
        except _Collision:
            if len(tickets) == 1:
                return [already_issued(coupon_id, users[0])]
            results = []
            for ticket in tickets:  # each alone: its own answer, whatever the others hold
                results += await self._run(coupon_id, [ticket])
            return results
        except _Taken as taken:
            # A retry took this request's key over (the claim looked dead): the retry owns the
            # effect, and the rest of the batch runs again without it.
            rest = [t for t in tickets if t is not taken.ticket]
            results = await self._run(coupon_id, rest, locked=locked) if rest else []
            lost = IdempotencyInProgress("a retry with this key took over the request")
            results.insert(tickets.index(taken.ticket), lost)
            return results


async def _issue(
    tx: Tx, coupon_id: str, tickets: list[_Ticket], now: datetime, *, locked: bool
) -> tuple[list[Result], list[tuple[Seal, Outcome]]]:
    """The batch's transaction: read, one insert, the keyed requests' outcomes, one update
    guarded by the batch's size (last: the hot row is locked from it to the commit)."""
    users = [t.user_id for t in tickets]
    coupon = await (tx.coupons.lock(coupon_id) if locked else tx.coupons.get(coupon_id))
    known: set[str] = set()
    holders: set[str] = set()
    if coupon is not None and not coupon.is_expired(now) and coupon.remaining_quantity > 0:
        known, holders = await tx.coupons.claimants(coupon_id, sorted(set(users)))
    allotment = allot(coupon_id, coupon, users, now=now, known_users=known, holders=holders)
    ids: dict[str, int] = {}
    if allotment.winners:
        granted = await tx.coupons.grant_many(coupon_id, allotment.winners, now=now)
        if granted is None:
            raise _Collision(coupon_id)
        ids = granted
    results = _results(coupon_id, users, coupon, allotment, ids, now)
    sealed: list[tuple[Seal, Outcome]] = []
    for ticket, result in zip(tickets, results, strict=True):
        if ticket.seal is not None:  # a keyed request: its outcome commits with the batch
            outcome = ticket.seal.outcome(result)
            if not await ticket.seal.write(tx, outcome):
                raise _Taken(ticket)
            sealed.append((ticket.seal, outcome))
    if allotment.winners and not await tx.coupons.take(coupon_id, len(allotment.winners), now=now):
        # Under the row lock the read was exact: only a writer outside the batches can have
        # got in between; one request at a time then settles it.
        raise _Collision(coupon_id) if locked else _Shortfall(coupon_id)
    return results, sealed


def _results(
    coupon_id: str,
    users: list[str],
    coupon: Coupon | None,
    allotment: Allotment,
    ids: dict[str, int],
    now: datetime,
) -> list[Result]:
    """Each request's answer: its refusal, or its issued coupon."""
    results: list[Result] = []
    for user, refusal in zip(users, allotment.answers, strict=True):
        if refusal is not None:
            results.append(refusal)
            continue
        assert coupon is not None  # an unknown coupon refuses every request
        results.append(
            IssuedCoupon(
                user_coupon_id=ids[user],
                coupon_id=coupon_id,
                user_id=user,
                issued_at=now,
                expires_at=coupon.expires_at,
                remaining_quantity=allotment.remaining_after(coupon, user),
            )
        )
    return results

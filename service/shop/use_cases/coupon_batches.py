"""Group commit for coupon issuance: concurrent issues of one coupon share one transaction.

Every issue of a coupon updates the same row, so one transaction per issue queues them all on
that row's lock and the coupon tops out at one commit per lock hand-over. Here the issues of a
coupon that arrive while its previous transaction runs wait in a queue and go together in the
next one: lock the coupon row, read which of the users exist and already hold it, one
multi-row insert for the winners, one update guarded by their count, one commit. The row lock
serialises batches across processes, so the duplicate check under it is exact; the unique key
and the guarded update stay the last word.

Guarantees:
- a request's answer is its own (C006, C001, U001, C003, C002 as if it had run alone, in
  arrival order), and a winner is answered only after the commit;
- a batch fails whole or not at all (one transaction); when the last-word guards refuse it
  (a holder written by something outside the batches) it is split into one-request batches;
- a batch is bounded by `timeout`: past it, it is rolled back and its requests get 503, and
  the next batch starts;
- a request cancelled while queued is withdrawn and never written; one whose batch already
  started learns its outcome through `settle()`.
"""

from __future__ import annotations

import asyncio
import enum
from collections import deque
from dataclasses import dataclass
from datetime import datetime

from ..domain.allotment import Allotment, allot
from ..domain.coupons import Coupon, IssuedCoupon
from ..domain.errors import CouponAlreadyIssued, DatabaseUnavailable
from .ports import Clock, Store, Tx


class _State(enum.Enum):
    QUEUED = "queued"
    SENT = "sent"
    WITHDRAWN = "withdrawn"


class Ticket:
    """One request's place in its coupon's queue."""

    __slots__ = ("_future", "_state", "user_id")

    def __init__(self, user_id: str) -> None:
        self.user_id = user_id
        self._future: asyncio.Future[IssuedCoupon] = asyncio.get_running_loop().create_future()
        self._state = _State.QUEUED

    async def result(self) -> IssuedCoupon:
        """The issued coupon once committed, or this request's own refusal."""
        # Shielded: a cancelled waiter must not cancel an answer its batch will still give.
        return await asyncio.shield(self._future)

    async def settle(self) -> bool:
        """After the waiter gave up: withdraw if still queued, else wait for the batch.

        True when the user's coupon was committed.
        """
        if self._state is _State.QUEUED:
            self._state = _State.WITHDRAWN
            self._future.cancel()
            return False
        await asyncio.wait([self._future])
        return not self._future.cancelled() and self._future.exception() is None

    def _answer(self, result: IssuedCoupon | BaseException) -> None:
        if self._future.done():
            return
        if isinstance(result, BaseException):
            self._future.set_exception(result)
        else:
            self._future.set_result(result)


class _Collision(Exception):
    """The database's own guards refused the batch: it was rolled back whole."""


@dataclass(frozen=True, slots=True)
class _Outcome:
    coupon: Coupon | None
    allotment: Allotment
    ids: dict[str, int]


class CouponBatches:
    """The issue queue of every coupon this process serves; one transaction in flight each."""

    def __init__(self, store: Store, clock: Clock, *, max_batch: int, timeout: float) -> None:
        self._store = store
        self._clock = clock
        self._max_batch = max_batch
        self._timeout = timeout
        self._queues: dict[str, deque[Ticket]] = {}
        self._runners: set[asyncio.Task[None]] = set()

    def submit(self, coupon_id: str, user_id: str) -> Ticket:
        """Queue an issue; it goes with the next transaction of this coupon."""
        ticket = Ticket(user_id)
        queue = self._queues.get(coupon_id)
        if queue is None:
            queue = self._queues[coupon_id] = deque()
            runner = asyncio.create_task(self._drain(coupon_id, queue), name="coupon-batches")
            self._runners.add(runner)
            runner.add_done_callback(self._runners.discard)
        queue.append(ticket)
        return ticket

    def queued(self, coupon_id: str) -> int | None:
        """Requests waiting behind the coupon's running batch; None when none is running."""
        queue = self._queues.get(coupon_id)
        return None if queue is None else sum(t._state is _State.QUEUED for t in queue)

    async def aclose(self) -> None:
        """Wait for the queued batches (each bounded by the timeout)."""
        while self._runners:
            await asyncio.gather(*self._runners, return_exceptions=True)

    async def _drain(self, coupon_id: str, queue: deque[Ticket]) -> None:
        try:
            while queue:
                batch: list[Ticket] = []
                while queue and len(batch) < self._max_batch:
                    ticket = queue.popleft()
                    if ticket._state is _State.QUEUED:
                        ticket._state = _State.SENT
                        batch.append(ticket)
                if batch:
                    await self._run(coupon_id, batch)
        finally:
            # No await between the last emptiness check and here: a later submit starts anew.
            del self._queues[coupon_id]
            for ticket in queue:
                ticket._answer(DatabaseUnavailable("the shop is shutting down"))

    async def _run(self, coupon_id: str, batch: list[Ticket]) -> None:
        now = self._clock()
        users = [t.user_id for t in batch]

        async def work(tx: Tx) -> _Outcome:
            return await _issue(tx, coupon_id, users, now)

        try:
            async with asyncio.timeout(self._timeout):
                outcome = await self._store.transaction(work)
        except _Collision:
            if len(batch) == 1:
                batch[0]._answer(
                    CouponAlreadyIssued(f"coupon {coupon_id} was already issued to {users[0]}")
                )
                return
            for ticket in batch:  # each alone: its own answer, whatever the others hold
                await self._run(coupon_id, [ticket])
            return
        except TimeoutError:
            failure: BaseException = DatabaseUnavailable(
                f"coupon issue took longer than {self._timeout:g}s; try again"
            )
            for ticket in batch:
                ticket._answer(failure)
            return
        except Exception as exc:
            for ticket in batch:
                ticket._answer(exc)
            return
        coupon, allotment = outcome.coupon, outcome.allotment
        for ticket, refusal in zip(batch, allotment.answers, strict=True):
            if refusal is not None:
                ticket._answer(refusal)
                continue
            assert coupon is not None  # an unknown coupon refuses every request
            ticket._answer(
                IssuedCoupon(
                    user_coupon_id=outcome.ids[ticket.user_id],
                    coupon_id=coupon_id,
                    user_id=ticket.user_id,
                    issued_at=now,
                    expires_at=coupon.expires_at,
                    remaining_quantity=allotment.remaining_after(coupon, ticket.user_id),
                )
            )


async def _issue(tx: Tx, coupon_id: str, users: list[str], now: datetime) -> _Outcome:
    """The batch's transaction: lock, check, one insert, one guarded update."""
    coupon = await tx.coupons.lock(coupon_id)
    known: set[str] = set()
    holders: set[str] = set()
    if coupon is not None and not coupon.is_expired(now) and coupon.remaining_quantity > 0:
        known, holders = await tx.coupons.claimants(coupon_id, sorted(set(users)))
    allotment = allot(coupon_id, coupon, users, now=now, known_users=known, holders=holders)
    ids: dict[str, int] = {}
    if allotment.winners:
        granted = await tx.coupons.grant_many(coupon_id, allotment.winners, now=now)
        if granted is None or not await tx.coupons.take(coupon_id, len(allotment.winners), now=now):
            raise _Collision(coupon_id)
        ids = granted
    return _Outcome(coupon, allotment, ids)

"""The front door's gate: requests in flight up to the limit, a short queue, fast refusals.

A request of a sheddable priority enters when the requests in flight leave room for it (each
priority may fill only its share of the limit, so the last slots stay with the critical ones);
otherwise it waits in its priority's queue. The queue's deadline follows Facebook's controlled
delay (CoDel applied to a server's request queue): while the queue empties now and then, a
request may wait `interval`; once it has not emptied for `interval`, only `target`, and the
newest waiter is served first (LIFO): under overload the oldest waiters are the ones whose
clients have given up. A request that already waited longer than the deadline before reaching
the gate (a busy event loop) is refused at once, before any work is spent on it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import IntEnum

from .limit import GradientLimit


class Priority(IntEnum):
    """Who is shed last (lower) and first (higher); never-shed requests skip the gate."""

    CRITICAL = 0  # money in motion: orders, payments, balance charges
    STANDARD = 1  # other writes: coupon issues, carts, coupon creation
    SHEDDABLE = 2  # reads: a client can retry them, or show what it has


# The share of the limit each priority may fill: reads leave a quarter to writes, other writes
# a tenth to the critical ones.
SHARE = {Priority.CRITICAL: 1.0, Priority.STANDARD: 0.9, Priority.SHEDDABLE: 0.75}
# Why a request was refused (the label values of the refusal counter).
QUEUE_FULL = "queue_full"
QUEUE_TIMEOUT = "queue_timeout"
LATE = "late"
REASONS = (QUEUE_FULL, QUEUE_TIMEOUT, LATE)


class Shed(Exception):
    """The gate refused a request; `reason` is one of REASONS."""

    def __init__(self, reason: str, waited: float) -> None:
        super().__init__(reason)
        self.reason = reason
        self.waited = waited


@dataclass(slots=True)
class Gate:
    """Admission for one process (one event loop): call `enter`, then `leave` once answered."""

    limit: GradientLimit
    clock: Callable[[], float]
    # CoDel's interval and target: the normal and the overloaded queue deadline (seconds).
    interval: float = 0.1
    target: float = 0.005
    in_flight: int = 0
    _queues: tuple[deque[asyncio.Future[None]], ...] = field(
        default_factory=lambda: tuple(deque() for _ in Priority)
    )
    _waiting: int = 0
    _last_empty: float = field(default=0.0)

    @property
    def waiting(self) -> int:
        """Requests queued right now."""
        return self._waiting

    def overloaded(self, now: float) -> bool:
        """True once the queue has not emptied for a whole interval."""
        return self._waiting > 0 and now - self._last_empty > self.interval

    def deadline(self, now: float) -> float:
        """The longest a request may wait now before its handler starts."""
        return self.target if self.overloaded(now) else self.interval

    async def enter(self, priority: Priority, *, waited: float = 0.0) -> float:
        """Admit or raise Shed; `waited` is how long the request queued before the gate.

        Returns the seconds it waited in all (before and in the gate).
        """
        now = self.clock()
        if self._waiting == 0:
            self._last_empty = now
        deadline = self.deadline(now)
        if waited > deadline:
            raise Shed(LATE, waited)
        if self._room(priority) and not any(self._queues[p] for p in Priority if p <= priority):
            self.in_flight += 1
            return waited
        if self._waiting >= self.limit.current:
            raise Shed(QUEUE_FULL, waited)
        ticket: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queues[priority].append(ticket)
        self._waiting += 1
        try:
            async with asyncio.timeout(deadline - waited):
                await ticket
        except TimeoutError:
            if not _admitted(ticket):
                self._forget(priority, ticket)
                raise Shed(QUEUE_TIMEOUT, waited + self.clock() - now) from None
            # admitted in the same loop turn as the deadline passed: the slot is ours
        except asyncio.CancelledError:  # the client left while waiting
            if _admitted(ticket):
                self.in_flight -= 1
                self._wake(self.clock())
            else:
                self._forget(priority, ticket)
            raise
        return waited + self.clock() - now

    def leave(self, *, started: float) -> None:
        """An admitted request answered: its latency feeds the limit, its slot goes on."""
        now = self.clock()
        self.limit.sample(now=now, latency=now - started, in_flight=self.in_flight)
        self.in_flight -= 1
        self._wake(now)

    def _room(self, priority: Priority) -> bool:
        return self.in_flight < max(1, int(self.limit.current * SHARE[priority]))

    def _forget(self, priority: Priority, ticket: asyncio.Future[None]) -> None:
        # A waiter that gave up (deadline, or its client left) leaves its queue at once (a
        # queue is at most as long as the limit), so `enter` never queues behind the dead.
        with contextlib.suppress(ValueError):  # already popped by `_wake`, skipped as done
            self._queues[priority].remove(ticket)
        self._waiting -= 1
        if self._waiting == 0:
            self._last_empty = self.clock()

    def _wake(self, now: float) -> None:
        lifo = self.overloaded(now)
        for priority in Priority:
            queue = self._queues[priority]
            while queue and self._room(priority):
                ticket = queue.pop() if lifo else queue.popleft()
                if ticket.done():  # cancelled, its task not yet resumed: `_forget` counts it out
                    continue
                ticket.set_result(None)
                self.in_flight += 1
                self._waiting -= 1
                if self._waiting == 0:
                    self._last_empty = now
            if queue:
                return  # a higher priority still waits: lower ones do not pass it


def _admitted(ticket: asyncio.Future[None]) -> bool:
    return ticket.done() and not ticket.cancelled()

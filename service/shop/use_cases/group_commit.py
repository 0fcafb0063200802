"""What every group commit shares: a request's ticket in a queue, and taking the next batch.

The coupon issue (coupon_batches.py) and the order (order_batches.py) queue their requests
while a batch runs and send the queued ones together in the next; each request waits for its
ticket's answer, which only its batch gives.
"""

from __future__ import annotations

import asyncio
import enum
from collections import deque
from collections.abc import Awaitable, Coroutine
from typing import Any, Generic, TypedDict, TypeVar

from ..domain.errors import DatabaseUnavailable
from ..domain.idempotency import Outcome
from .ports import Clock, Store
from .seals import Seal

R = TypeVar("R")
T = TypeVar("T", bound="Ticket")  # type: ignore[type-arg]  # any ticket, whatever it answers


class State(enum.Enum):
    QUEUED = "queued"
    SENT = "sent"
    WITHDRAWN = "withdrawn"


class Ticket(Generic[R]):
    """One request's place in a queue: answered once, by its batch."""

    __slots__ = ("future", "state")

    def __init__(self) -> None:
        self.future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self.state = State.QUEUED

    def answer(self, result: R | BaseException) -> None:
        """Give the request its result, or its error (a cancellation cancels the wait)."""
        if self.future.done():
            return
        if isinstance(result, asyncio.CancelledError):
            self.future.cancel()
        elif isinstance(result, BaseException):
            self.future.set_exception(result)
        else:
            self.future.set_result(result)

    async def wait(self, *, hold_while_sent: bool = False) -> R:
        """The answer. Cancelled while queued, the request is withdrawn (no batch sees it);
        once sent, its batch finishes anyway, and with `hold_while_sent` the caller waits for
        that before its cancellation goes on (it keeps whatever lock it holds until then)."""
        try:
            # Shielded: a cancelled waiter must not cancel the answer its batch still gives.
            return await asyncio.shield(self.future)
        except asyncio.CancelledError:
            if self.state is State.QUEUED:
                self.state = State.WITHDRAWN
            elif hold_while_sent:
                await asyncio.wait([self.future])
            raise


class Rerun(Exception):
    """A batch's transaction was rolled back for the batch to run again another way (locked,
    split, or without one request); never a request's answer."""


class Limits(TypedDict, total=False):
    """A queue's bounds: requests per batch, batches in flight, seconds per batch."""

    max_batch: int
    parallel: int
    timeout: float


class Batches:
    """What every group commit's queue holds: the store, the clock, its limits, its runners."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        *,
        max_batch: int = 100,
        parallel: int = 4,
        timeout: float = 5.0,
    ) -> None:
        self._store = store
        self._clock = clock
        self._max_batch = max_batch
        self._parallel = parallel
        self._timeout = timeout
        self._runners: set[asyncio.Task[None]] = set()

    def _start(self, drain: Coroutine[Any, Any, None], name: str) -> None:
        """Run `drain` until its queue is empty; aclose waits for it."""
        runner = asyncio.create_task(drain, name=name)
        self._runners.add(runner)
        runner.add_done_callback(self._runners.discard)

    async def _commit(
        self,
        transaction: Awaitable[tuple[list[R], list[tuple[Seal, Outcome]]]],
        what: str,
        count: int,
    ) -> list[R | Exception]:
        """The results of a batch's `transaction` (of `count` requests), bounded by the timeout;
        once it committed, each keyed request's seal knows the outcome it stored. A failure is
        every request's answer, but a Rerun goes to the caller, which runs the batch again."""
        try:
            async with asyncio.timeout(self._timeout):
                results, sealed = await transaction
        except Rerun:
            raise
        except TimeoutError:
            late = DatabaseUnavailable(f"{what} took longer than {self._timeout:g}s")
            return [late] * count
        except Exception as exc:
            return [exc] * count
        for seal, outcome in sealed:
            seal.stored = outcome
        return list(results)

    async def aclose(self) -> None:
        """Wait for the queued batches (each bounded by the timeout)."""
        while self._runners:
            await asyncio.gather(*self._runners, return_exceptions=True)


def next_batch(tickets: deque[T], size: int) -> list[T]:
    """Up to `size` queued tickets, in arrival order, marked sent (withdrawn ones dropped)."""
    batch: list[T] = []
    while tickets and len(batch) < size:
        ticket = tickets.popleft()
        if ticket.state is State.QUEUED:
            ticket.state = State.SENT
            batch.append(ticket)
    return batch

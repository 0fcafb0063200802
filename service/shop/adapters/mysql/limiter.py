"""A FIFO limit on concurrent borrowers whose size can change at runtime.

aiomysql fixes its pool size at creation; this limit in front of it is what
`SHOP_DB_POOL_MAX` and the `db_pool_max` incident switch set.
"""

from __future__ import annotations

import asyncio
from collections import deque


class Limiter:
    __slots__ = ("_waiters", "in_use", "limit")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.in_use = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    @property
    def pending(self) -> int:
        """Borrowers waiting for a slot."""
        return len(self._waiters)

    async def acquire(self) -> None:
        """Take a slot, waiting in arrival order; cancellation leaves no slot taken."""
        if self.in_use < self.limit and not self._waiters:
            self.in_use += 1
            return
        slot: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(slot)
        try:
            await slot
        except BaseException:
            if slot.done() and not slot.cancelled():
                self.release()  # handed a slot just as the wait ended: pass it on
            elif slot in self._waiters:
                self._waiters.remove(slot)
            raise

    def release(self) -> None:
        """Give a slot back, handing it to the oldest waiter."""
        self.in_use -= 1
        self._wake()

    def resize(self, limit: int) -> None:
        """Change the limit; growing wakes waiters at once, shrinking waits for releases."""
        self.limit = limit
        self._wake()

    def _wake(self) -> None:
        while self._waiters and self.in_use < self.limit:
            slot = self._waiters.popleft()
            if not slot.done():
                self.in_use += 1
                slot.set_result(None)

"""The process's background loops, run for the app's lifetime and cancelled at its end."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Coroutine
from typing import Any

# Seconds to wait for a cancelled loop to end before cancelling it again.
CANCEL_RETRY = 0.5


@contextlib.asynccontextmanager
async def running(**loops: Coroutine[Any, Any, None]) -> AsyncIterator[None]:
    """Run each named coroutine as a task until the block ends, then cancel and await it."""
    tasks = [asyncio.create_task(loop, name=name) for name, loop in loops.items()]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            await ended(task)


async def ended(task: asyncio.Task[Any]) -> None:
    """Cancel `task` and wait until it has really ended.

    redis-py can swallow a cancellation that lands mid-command, and a loop then runs on: it is
    cancelled again every CANCEL_RETRY until it ends, so a shutdown never hangs on it.
    """
    task.cancel()
    while not task.done():
        await asyncio.wait([task], timeout=CANCEL_RETRY)
        task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task

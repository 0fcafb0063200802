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
            # redis-py can swallow a cancellation that lands mid-command, and the loop then runs
            # on: cancel again until the task has really ended, so shutdown never hangs on it.
            while not task.done():
                await asyncio.wait([task], timeout=CANCEL_RETRY)
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

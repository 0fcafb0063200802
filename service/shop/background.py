"""The process's background loops, run for the app's lifetime and cancelled at its end."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Coroutine
from typing import Any


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
            with contextlib.suppress(asyncio.CancelledError):
                await task

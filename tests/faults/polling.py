"""Waiting for a state another process brings about (there is no event to wait on)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable


async def until(check: Callable[[], Awaitable[bool]], *, within: float = 30.0) -> float:
    """Ask `check` every 50 ms until it holds; returns the seconds it took.

    `within` is a generous ceiling against hanging forever, not a timing assertion.
    """
    started = time.monotonic()
    async with asyncio.timeout(within):
        while True:
            if await check():
                return time.monotonic() - started
            await asyncio.sleep(0.05)

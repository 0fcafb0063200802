"""What every lock backend's tests check alike, whichever backend hands out the holds."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any


async def all_inside_at_once(
    holds: Sequence[AbstractAsyncContextManager[Any]], seconds: float
) -> None:
    """Enter every one of `holds` at once, each staying inside until all are: this returns only
    if none of them waits for another (else the wait for the others times out)."""
    inside = 0
    everyone = asyncio.Event()

    async def enter(held: AbstractAsyncContextManager[Any]) -> None:
        nonlocal inside
        async with held:
            inside += 1
            if inside == len(holds):
                everyone.set()
            await asyncio.wait_for(everyone.wait(), seconds)

    await asyncio.gather(*(enter(held) for held in holds))

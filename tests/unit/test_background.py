"""Background loops end at shutdown even when one swallows a cancellation (redis-py can, when
it lands mid-command): a replica whose shutdown never finishes is killed, not stopped."""

from __future__ import annotations

import asyncio

from shop.background import ended, running


async def _reads_on(swallowed: list[int]) -> None:
    """A loop that swallows its first cancellation, as a Redis read interrupted mid-command."""
    while True:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            if swallowed:
                raise
            swallowed.append(1)


async def test_a_task_that_swallows_a_cancellation_is_cancelled_until_it_ends() -> None:
    swallowed: list[int] = []
    task = asyncio.ensure_future(_reads_on(swallowed))
    await asyncio.sleep(0)
    await asyncio.wait_for(ended(task), timeout=5)
    assert task.cancelled()
    assert swallowed == [1]


async def test_running_loops_end_with_the_block_even_one_that_swallowed_a_cancellation() -> None:
    swallowed: list[int] = []
    async with running(reader=_reads_on(swallowed)):
        await asyncio.sleep(0)
    assert swallowed == [1]

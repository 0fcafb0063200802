"""A Redis close at shutdown is bounded: redis-py's can wait forever on a socket's
`wait_closed` (redis/redis-py#3941), and a shop that never finishes its shutdown is killed
instead of stopping cleanly."""

from __future__ import annotations

import asyncio
import time

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from shop.adapters.redis import pool


async def test_a_close_that_never_finishes_is_left_after_its_bound(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(pool, "CLOSE_WITHIN", 0.05)
    started = time.monotonic()
    await pool.close_within(asyncio.Event().wait(), "stuck")
    assert time.monotonic() - started < 1.0


async def test_a_close_that_fails_is_logged_not_raised() -> None:
    async def failing() -> None:
        raise RedisConnectionError("reset by peer")

    await pool.close_within(failing(), "failing")


async def test_a_close_inside_a_cancelled_task_is_bounded_too(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The lock manager's subscription closes in its reader's `finally`, while the reader is
    being cancelled: the bound holds there, and the cancellation still ends the task."""
    monkeypatch.setattr(pool, "CLOSE_WITHIN", 0.05)

    async def reader() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            await pool.close_within(asyncio.Event().wait(), "subscription")

    task = asyncio.ensure_future(reader())
    await asyncio.sleep(0)
    task.cancel()
    started = time.monotonic()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert time.monotonic() - started < 1.0

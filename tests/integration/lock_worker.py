"""A separate process incrementing a Redis counter by GET then SET under a lock.

Without mutual exclusion across processes the read-modify-write loses updates.
Usage: python -m tests.integration.lock_worker BACKEND COUNTER_KEY LOCK_PREFIX N
"""

from __future__ import annotations

import asyncio
import os
import sys

import redis.asyncio as aioredis

from shop.adapters.redis.locks import RedisLockManager
from shop.locks.local import LocalLockManager

REDIS_URL = os.environ.get("SHOP_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


async def main(backend: str, counter: str, prefix: str, rounds: int) -> None:
    client = aioredis.Redis.from_url(REDIS_URL)
    locks = RedisLockManager(client, prefix=prefix) if backend == "redis" else LocalLockManager()
    try:
        for _ in range(rounds):
            async with locks.hold("counter", name="test", wait=30, lease=10):
                value = int(await client.get(counter) or 0)
                await asyncio.sleep(0.001)  # the window another process would slip into
                await client.set(counter, value + 1)
    finally:
        if isinstance(locks, RedisLockManager):
            await locks.aclose()
        await client.aclose()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])))

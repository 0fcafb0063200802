"""A replica cut off from Redis must stop believing it holds a lock before another takes it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import redis.asyncio as aioredis

from loadtest.harness.servers import RedisServer
from shop.adapters.redis.locks import RedisLockManager
from shop.domain.errors import LeaseLost

from ..faults.link import TcpLink


@pytest.fixture(scope="module")
def private_redis() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


async def test_a_partitioned_holder_sees_its_lease_lost_before_another_replica_takes_it(
    private_redis: RedisServer,
) -> None:
    prefix = f"test:{uuid.uuid4().hex}:"
    async with TcpLink(private_redis.port) as link:
        # The same socket timeout as the service: a cut link turns into errors, not hangs.
        cut_off = aioredis.Redis.from_url(f"redis://127.0.0.1:{link.port}/0", socket_timeout=1.0)
        reachable = aioredis.Redis.from_url(private_redis.url)
        first = RedisLockManager(cut_off, prefix=prefix)
        second = RedisLockManager(reachable, prefix=prefix)
        try:
            async with first.hold("k", name="test", wait=1, lease=1.0) as old:
                await first.renew_now()  # one renewal confirmed before the cut
                confirmed = old.expires_at
                link.cut()
                async with second.hold("k", name="test", wait=10, lease=1.0) as new:
                    # Event order, not timing: by the time the key changed hands, the old
                    # holder had already been told, and its last confirmed expiry had passed.
                    assert old.lost.is_set()
                    with pytest.raises(LeaseLost):
                        old.ensure_valid()
                    assert old.expires_at == confirmed
                    assert new.fence > old.fence
                    new.ensure_valid()
        finally:
            for manager in (first, second):
                await manager.aclose()
            for client in (cut_off, reachable):
                await client.aclose()

"""The Redis pool waits for a connection instead of refusing, and shows it as the DB pool does."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import replace

import pytest
from prometheus_client.parser import text_string_to_metric_families

from shop.app import create_app
from shop.keys import REDIS
from shop.settings import Settings

from ..conftest import REDIS_URL
from ..factories import Factory
from .conftest import problem


def _redis_app(settings: Settings, **changes: object):
    return create_app(
        replace(
            settings,
            redis_url=REDIS_URL,
            lock_backend="redis",
            redis_prefix=f"{settings.redis_prefix}{uuid.uuid4().hex[:12]}:",
            **changes,
        )
    )


async def _samples(client) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = await (await client.get("/metrics")).text()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def test_known_label_sets_start_at_zero(aiohttp_client, settings: Settings) -> None:
    client = await aiohttp_client(_redis_app(settings, redis_pool_max=9))
    samples = await _samples(client)
    assert samples[("db_client_connection_max", (("pool", "redis"),))] == 9
    # Counts connects in progress too: the switch sync's first connect may be under way.
    assert samples[("db_client_connection_pending_requests", (("pool", "redis"),))] <= 1
    assert ("db_client_connection_count", (("pool", "redis"), ("state", "used"))) in samples
    for pool in ("main", "redis"):
        assert samples[("db_client_connection_timeouts_total", (("pool", pool),))] == 0
    for name in ("charge", "order"):
        labels = (("backend", "redis"), ("lock_name", name))
        assert samples[("shop_lock_lease_lost_total", labels)] == 0
        timeout = (*labels[:1], ("lock_name", name), ("outcome", "timeout"))
        assert samples[("shop_lock_wait_duration_seconds_count", timeout)] == 0
    for op in ("acquire", "release", "renew"):
        key = ("shop_lock_backend_errors_total", (("backend", "redis"), ("op", op)))
        assert samples[key] == 0


async def test_a_request_waits_for_a_connection_then_times_out_as_503(
    aiohttp_client, settings: Settings, factory: Factory
) -> None:
    client = await aiohttp_client(_redis_app(settings, redis_pool_max=3, redis_acquire_timeout=0.5))
    pool = client.app[REDIS].client.connection_pool
    user = await factory.user()
    charge_url = f"/api/users/{user}/balance/charge"
    # The first lock starts the release subscription, which keeps one connection for itself.
    assert (await client.post(charge_url, json={"amount": 5})).status == 200
    taken = [await pool.get_connection() for _ in range(2)]  # the rest of the pool, lent out

    # Given back while the request waits: the request goes through, it was never refused.
    charge = asyncio.ensure_future(client.post(charge_url, json={"amount": 5}))
    pending = ("db_client_connection_pending_requests", (("pool", "redis"),))
    for _ in range(500):  # until the request queues for a connection (seen through /metrics)
        if (await _samples(client))[pending] >= 1:
            break
        await asyncio.sleep(0.01)
    else:
        pytest.fail("the request never waited for a Redis connection")
    for connection in taken:
        await pool.release(connection)
    assert (await charge).status == 200

    # Never given back within the wait: a 503 that says so, and counted.
    taken = [await pool.get_connection() for _ in range(2)]
    late = await client.post(charge_url, json={"amount": 5})
    await problem(late, 503, "LOCK002")
    assert late.headers["Retry-After"]
    samples = await _samples(client)
    assert samples[("db_client_connection_timeouts_total", (("pool", "redis"),))] >= 1
    assert samples[("db_client_connection_count", (("pool", "redis"), ("state", "used")))] == 3
    for connection in taken:
        await pool.release(connection)

"""Several worker processes on one port (SO_REUSEPORT): per-user locks still hold across them."""

from __future__ import annotations

import asyncio
import socket
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
import pytest

from shop.settings import Settings, SettingsError

from ..factories import Factory
from ..metrics_text import metric_sum
from .replicas import fill_carts, replicas

pytestmark = pytest.mark.slow


def _listening_sockets(port: int) -> int:
    """Sockets listening on `port` (one per worker with SO_REUSEPORT)."""
    rows = Path("/proc/net/tcp").read_text().splitlines()[1:]
    return sum(
        1
        for row in rows
        if row.split()[3] == "0A" and int(row.split()[1].split(":")[1], 16) == port
    )


def test_workers_need_the_redis_lock_backend() -> None:
    with pytest.raises(SettingsError, match="SHOP_LOCK_BACKEND=redis"):
        Settings(workers=2)


def test_workers_need_a_metrics_port_each() -> None:
    with pytest.raises(SettingsError, match="SHOP_METRICS_PORT"):
        Settings(workers=2, lock_backend="redis", redis_url="redis://127.0.0.1:6379/0")


def _two_free_ports() -> int:
    """A port p with p + 1 free as well."""
    while True:
        with socket.socket() as a, socket.socket() as b:
            a.bind(("127.0.0.1", 0))
            port = int(a.getsockname()[1])
            try:
                b.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
            return port


async def test_two_workers_on_one_port_keep_every_user_consistent(
    factory: Factory, test_database: str, redis_prefix: str, tmp_path: Path
) -> None:
    users = await factory.users(10, balance=10_000)
    product = await factory.product(price=1_000, stock=10)
    metrics_port = _two_free_ports()
    with replicas(
        1,
        db_url=test_database,
        redis_prefix=redis_prefix,
        log_dir=tmp_path,
        SHOP_WORKERS="2",
        SHOP_LOCK_BACKEND="redis",
        SHOP_METRICS_PORT=str(metrics_port),
    ) as (url,):
        port = urlsplit(url).port or 0
        for _ in range(300):  # the second worker starts after the first answered /readyz
            if _listening_sockets(port) == 2:
                break
            await asyncio.sleep(0.1)
        assert _listening_sockets(port) == 2
        # Fresh connections each: the kernel spreads them over both workers.
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as http:
            await fill_carts(http, url, users, product, 2)

            async def call(path: str, body: dict[str, object]) -> tuple[str, int]:
                async with http.post(f"{url}{path}", json=body) as r:
                    return path, r.status

            calls = [call("/api/orders", {"userId": u}) for u in users for _ in range(3)]
            calls += [
                call(f"/api/users/{u}/balance/charge", {"amount": 100})
                for u in users
                for _ in range(5)
            ]
            results = await asyncio.gather(*calls)
            # Each worker's own metrics port: together they counted every charge, and the
            # kernel gave both workers some (a scrape of the shared port sees one at random).
            counted = []
            for port in (metrics_port, metrics_port + 1):
                async with http.get(f"http://127.0.0.1:{port}/metrics") as r:
                    assert r.status == 200
                    counted.append(
                        metric_sum(
                            await r.text(),
                            "http_server_request_duration_seconds_count",
                            http_route="/api/users/{userId}/balance/charge",
                        )
                    )
    assert sum(counted) == 50, counted
    assert all(counted), counted
    assert [s for p, s in results if p.endswith("/charge")] == [200] * 50
    assert Counter(s for p, s in results if p == "/api/orders")[200] == 5  # stock 10, carts of 2
    marks = ", ".join(["%s"] * len(users))
    paid = await factory.rows(
        f"SELECT user_id, COUNT(*) FROM orders WHERE user_id IN ({marks}) GROUP BY user_id", *users
    )
    assert len(paid) == 5
    assert all(count == 1 for _, count in paid)  # nobody paid twice, whichever worker served
    total = await factory.scalar(
        f"SELECT SUM(balance) FROM users WHERE user_id IN ({marks})", *users
    )
    assert total == 10 * 10_000 + 50 * 100 - 5 * 2_000

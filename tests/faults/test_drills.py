"""Fault drills under concurrent load, each ending with the consistency audit read from MariaDB.

Every drill runs the shop as a real process against a private `mariadbd` and `redis-server`
(own ports, own data dirs), so killing them never disturbs anything else. Run with
`make test-faults`; each drill appends its figures to `.run/drills/<name>.json`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import AbstractContextManager as ContextManager
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import aiomysql
import pytest
import redis.asyncio as aioredis

from loadtest.audit import Scope, audit
from loadtest.harness.database import seed
from loadtest.harness.servers import MariaDbServer, RedisServer
from loadtest.harness.waiting import until
from shop.adapters.mysql.pool import parse_db_url

from ..conftest import ADMIN_TOKEN
from ..integration.replicas import RUNNING, replicas
from .load import LOCKED, Load

pytestmark = pytest.mark.faults

USERS, STOCK, COUPON_QUANTITY, INITIAL_BALANCE = 60, 100_000, 25, 1_000_000
# Recovery the drills hold the service to, from the moment the dependency is back.
RECOVERY_BUDGET = 5.0
# A drill that has not finished by then is stuck: fail it rather than hang the suite.
DRILL_LIMIT = 120.0
# How long a dependency stays down in a drill (phase length, not an assertion).
OUTAGE = 2.0
RESULTS = Path(__file__).resolve().parents[2] / ".run" / "drills"


@pytest.fixture(scope="module", autouse=True)
def _results() -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    for old in RESULTS.glob("replica-*.log"):
        old.unlink()


@pytest.fixture(scope="module")
def mariadb() -> Iterator[MariaDbServer]:
    with MariaDbServer() as server:
        yield server


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


@dataclass
class Dataset:
    url: str
    scope: Scope
    users: list[str]
    coupon: str
    product: str


@pytest.fixture
async def dataset(mariadb: MariaDbServer) -> AsyncIterator[Dataset]:
    url = mariadb.url(f"drill_{uuid.uuid4().hex[:8]}")
    await seed(url, users=USERS, stock=STOCK, coupon_quantity=COUPON_QUANTITY)
    users = [f"test-user-{n}" for n in range(1, USERS + 1)]
    products = [f"test-product-{n}" for n in range(1, 11)]
    scope = Scope.explicit(
        dict.fromkeys(users, INITIAL_BALANCE), dict.fromkeys(products, STOCK), ["test-coupon-1"]
    )
    yield Dataset(url, scope, users, "test-coupon-1", "test-product-1")
    if mariadb.proc is not None:  # drop it, unless a failed drill left the server down
        target = parse_db_url(url)
        conn = await aiomysql.connect(**target.connect_args())
        async with conn.cursor() as cur:
            await cur.execute(f"DROP DATABASE `{target.database}`")
        conn.close()


# The routes under load: their 503s are the drills' expected answers, any other 5xx fails.
LOADED_ROUTES = frozenset(
    {
        "/api/users/{userId}/balance/charge",
        "/api/coupons/{couponId}/issue",
        "/api/cart/items",
        "/api/orders",
    }
)


def _shop(dataset: Dataset, redis_server: RedisServer, **extra: str) -> ContextManager[list[str]]:
    """One shop process on the drill's private servers (its log checked when it stops)."""
    return replicas(
        1,
        db_url=dataset.url,
        redis_prefix="shop:",
        log_dir=RESULTS,
        allowed_5xx=LOADED_ROUTES,
        SHOP_REDIS_URL=redis_server.url,
        SHOP_LOCK_BACKEND="redis",
        SHOP_DB_POOL_MAX="16",
        **extra,
    )


@asynccontextmanager
async def _loaded(dataset: Dataset, urls: list[str]) -> AsyncIterator[Load]:
    """Load on `urls` for the duration of the block (at most DRILL_LIMIT seconds)."""
    load = Load(urls, dataset.users, dataset.coupon, dataset.product)
    stop = asyncio.Event()
    running = asyncio.create_task(load.run(stop))
    try:
        async with asyncio.timeout(DRILL_LIMIT):
            yield load
    finally:
        stop.set()
        await asyncio.wait_for(running, 90)


@asynccontextmanager
async def _flowing_load(
    dataset: Dataset, redis_server: RedisServer
) -> AsyncIterator[tuple[list[str], Load]]:
    """The shop on the drill's servers, under load that is already going through."""
    with _shop(dataset, redis_server) as urls:
        async with _loaded(dataset, urls) as load:
            await _flowing(load)
            yield urls, load


def _successes(load: Load) -> int:
    return sum(1 for o in load.outcomes if o.status is not None and o.status < 300)


async def _flowing(load: Load, more: int = 60) -> None:
    """Wait until `more` further requests succeeded: the load is really going through."""
    target = _successes(load) + more

    async def enough() -> bool:
        return _successes(load) >= target

    await until(enough, within=60)


async def _acknowledged_are_durable(load: Load, url: str) -> dict[str, int]:
    """Every 2xx is in the database; every refusal (but OUTCOME_UNKNOWN) wrote nothing."""
    target = parse_db_url(url)
    conn = await aiomysql.connect(**target.connect_args(), db=target.database)
    try:
        async with conn.cursor() as cur:
            await cur.execute("SELECT user_id, amount FROM balance_history WHERE reason = 'CHARGE'")
            charged = set(await cur.fetchall())
            await cur.execute("SELECT order_id FROM orders")
            orders = {row[0] for row in await cur.fetchall()}
            await cur.execute("SELECT user_id FROM user_coupons")
            holders = {row[0] for row in await cur.fetchall()}
    finally:
        conn.close()
    acked = {"charge": 0, "order": 0, "coupon": 0}
    for o in load.outcomes:
        ok = o.status is not None and o.status < 300
        if o.op == "charge":
            if ok:
                assert (o.user, o.amount) in charged, f"acknowledged charge lost: {o}"
            elif o.code != "OUTCOME_UNKNOWN":
                # Refused, or never answered (the shop is never killed here: a request it did
                # not answer is one it did not take).
                assert (o.user, o.amount) not in charged, f"unacknowledged charge written: {o}"
        elif o.op == "order" and ok:
            assert o.order_id in orders, f"acknowledged order lost: {o}"
        elif o.op == "coupon" and ok:
            assert o.user in holders, f"acknowledged coupon lost: {o}"
        if ok and o.op in acked:
            acked[o.op] += 1
    return acked


def _outage(load: Load, down: float, back: float, recovery: float) -> dict[str, Any]:
    """A dependency's outage in a drill's figures: how long, what was answered, recovery."""
    return {
        "outage_s": round(back - down, 2),
        "during_outage": load.by_status(down, back),
        "recovery_s": round(recovery, 2),
    }


def _record(name: str, figures: dict[str, Any]) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(figures, indent=2) + "\n")


async def _finish(
    name: str, load: Load, dataset: Dataset, figures: dict[str, Any]
) -> dict[str, Any]:
    """The checks every drill ends with: no 5xx but 503, Retry-After on 503, durable acks, audit."""
    assert load.server_errors() == []
    unavailable = [o for o in load.outcomes if o.status == 503]
    assert all(o.retry_after for o in unavailable)
    acked = await _acknowledged_are_durable(load, dataset.url)
    report = await asyncio.to_thread(audit, dataset.url, dataset.scope)
    figures = {
        "requests": len(load.outcomes),
        "answers": load.by_status(),
        "acknowledged": acked,
        **figures,
        "audit": report.summary(),
    }
    _record(name, figures)
    assert report.discrepancies == [], report.describe()
    return figures


async def test_redis_killed_and_restarted_mid_load(
    dataset: Dataset, redis_server: RedisServer
) -> None:
    async with _flowing_load(dataset, redis_server) as (_, load):
        down = time.monotonic()
        redis_server.kill()

        async def refused_fast() -> bool:
            return any(o.code == "LOCK002" and o.started >= down for o in load.outcomes)

        await until(refused_fast)
        await _flowing_errors(load, down)
        back = time.monotonic()
        redis_server.start()

        await _recover(load, back)
    # Served wholly inside the outage: a request sent just before the restart began may reach
    # its lock after Redis is back, and rightly succeed.
    outage = [o for o in load.outcomes if down <= o.started and o.ended < back and o.op in LOCKED]
    recovery = _recovery(load, back)
    # Requests that need Redis were refused with 503 while it was down, none succeeded.
    assert outage
    assert all(o.status == 503 for o in outage), load.by_status(down, back)
    gate = aioredis.Redis.from_url(redis_server.url)
    try:
        rebuilt = await gate.exists(f"shop:coupon:{{{dataset.coupon}}}:ready")
    finally:
        await gate.aclose()
    issued_after = [o for o in load.outcomes if o.op == "coupon" and o.started >= back]
    assert not issued_after or rebuilt == 1  # the gate came back from MySQL
    await _finish(
        "redis-restart",
        load,
        dataset,
        {
            **_outage(load, down, back, recovery),
            "slowest_refusal_during_outage_s": round(max(o.ended - o.started for o in outage), 3),
        },
    )


async def _recover(load: Load, back: float) -> None:
    """Wait for the first success after the dependency came back, then a little more load."""

    async def recovered() -> bool:
        return load.first_success_after(back) is not None

    await until(recovered, within=30)
    await _flowing(load)


def _recovery(load: Load, back: float) -> float:
    recovery = load.first_success_after(back)
    assert recovery is not None
    assert recovery <= RECOVERY_BUDGET
    return recovery


async def _flowing_errors(
    load: Load, since: float, count: int = 80, at_least: float = OUTAGE
) -> None:
    """Let the outage last for `count` answered requests and `at_least` seconds."""

    async def enough() -> bool:
        return sum(1 for o in load.outcomes if o.started >= since) >= count

    await until(enough, within=60)
    await asyncio.sleep(max(0.0, since + at_least - time.monotonic()))


async def test_mariadb_restarted_mid_load(
    dataset: Dataset, redis_server: RedisServer, mariadb: MariaDbServer
) -> None:
    async with _flowing_load(dataset, redis_server) as (_, load):
        down = time.monotonic()
        mariadb.kill()  # a crash: InnoDB recovers on start, half-written transactions roll back
        await _flowing_errors(load, down)
        mariadb.start()
        back = time.monotonic()

        await _recover(load, back)
    recovery = _recovery(load, back)
    outage = [o for o in load.outcomes if down <= o.started < back]
    assert all(o.status in (503, None) or o.status < 500 for o in outage)
    await _finish("mariadb-restart", load, dataset, _outage(load, down, back, recovery))


async def test_sigterm_under_load_finishes_in_flight_requests(
    dataset: Dataset, redis_server: RedisServer
) -> None:
    async with _flowing_load(dataset, redis_server) as (urls, load):
        process = RUNNING[urls[0]]
        term = time.monotonic()
        process.send_signal(signal.SIGTERM)
        code = await asyncio.to_thread(process.wait, 60)
        exited = time.monotonic()
    assert code == 0
    in_flight = [o for o in load.outcomes if o.started < term < o.ended]
    answered = [o for o in in_flight if o.status is not None]
    after_exit = [o for o in load.outcomes if o.started > exited and o.status is not None]
    assert after_exit == []  # it stopped accepting
    await _finish(
        "sigterm",
        load,
        dataset,
        {
            "exit_code": code,
            "shutdown_s": round(exited - term, 2),
            "in_flight_at_sigterm": len(in_flight),
            "in_flight_answered": len(answered),
            "in_flight_answers": dict(
                sorted(
                    {
                        str(o.status): sum(1 for a in answered if a.status == o.status)
                        for o in answered
                    }.items()
                )
            ),
        },
    )


async def test_lease_expiring_mid_hold_is_refused_and_writes_nothing(
    dataset: Dataset, redis_server: RedisServer
) -> None:
    with _shop(dataset, redis_server, SHOP_LOCK_LEASE="0.6") as urls:
        async with aiohttp.ClientSession() as http:
            # A slow database keeps each hold longer than one renewal period.
            slow = await http.put(
                f"{urls[0]}/api/admin/incidents/db_latency_ms",
                json={"value": 40},
                headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
            )
            assert slow.status == 200
        async with _loaded(dataset, urls) as load:
            await _flowing(load, 10)
            raw = aioredis.Redis.from_url(redis_server.url)
            calm = asyncio.Event()
            chaos = asyncio.create_task(_take_over_leases(raw, calm))
            started = time.monotonic()

            async def refused() -> bool:
                return sum(1 for o in load.outcomes if o.code == "LOCK003") >= 10

            try:
                with contextlib.suppress(TimeoutError):  # judged below, with the figures
                    await until(refused, within=30)
            finally:
                # An event, not cancel(): redis-py can swallow a cancellation mid-command.
                calm.set()
                await chaos
                await raw.aclose()
            ended = time.monotonic()
    lost = [o for o in load.outcomes if o.code == "LOCK003"]
    assert lost, load.by_status(started, ended)
    assert {o.op for o in lost} <= set(LOCKED)
    await _finish(
        "lease-expiry",
        load,
        dataset,
        {
            "chaos_s": round(ended - started, 2),
            "during_chaos": load.by_status(started, ended),
            "lock003_by_op": {op: sum(1 for o in lost if o.op == op) for op in LOCKED},
        },
    )


async def _take_over_leases(raw: aioredis.Redis, calm: asyncio.Event) -> None:
    """Every 100 ms until `calm`, hand every user lock held by the shop to someone else, for
    300 ms: as if the lease had expired and another replica had taken the key."""
    while not calm.is_set():
        async for key in raw.scan_iter(match="shop:lock:*:user:*"):
            if await raw.get(key) != b"someone-else":
                await raw.set(key, "someone-else", px=300, xx=True)
        await asyncio.sleep(0.1)

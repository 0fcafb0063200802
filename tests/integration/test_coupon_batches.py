"""Group commit of coupon issues on the real MariaDB: each request keeps its own answer."""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis

from shop.adapters.mysql.pool import Database
from shop.adapters.mysql.store import MySqlStore, MySqlTx
from shop.app import create_app, utc_now
from shop.domain.coupons import IssuedCoupon
from shop.domain.errors import (
    CouponAlreadyIssued,
    CouponExpired,
    DatabaseUnavailable,
    ShopError,
    UserNotFound,
)
from shop.keys import DATABASE, DEPS, SETTINGS
from shop.settings import Settings
from shop.use_cases import coupons
from shop.use_cases.coupon_batches import CouponBatches
from shop.use_cases.idempotency import KeyPolicy, Reply, once
from shop.use_cases.ports import NoGate

from ..factories import Factory
from ..polling import until
from ..stores import CountingStore
from .keyed import batch_deps, keyed_request
from .replicas import replicas

REDIS_URL = "redis://127.0.0.1:6379/0"


def _batches(store: Any) -> CouponBatches:
    return CouponBatches(store, NoGate(), utc_now, max_batch=100, parallel=4, timeout=5.0)


async def _answers(batches: CouponBatches, coupon: str, users: list[str]) -> list[Any]:
    # gather starts every issue before any batch runs: they all queue for the same batch
    return await asyncio.gather(*(batches.issue(coupon, u) for u in users), return_exceptions=True)


def _kinds(answers: list[Any]) -> list[str]:
    return [
        "ok" if isinstance(a, IssuedCoupon) else a.code if isinstance(a, ShopError) else repr(a)
        for a in answers
    ]


async def test_one_transaction_answers_each_request_its_own(
    database: Database, factory: Factory
) -> None:
    coupon = await factory.coupon(quantity=4)
    holder, first, second, third, late = await factory.users(5)
    store = CountingStore(MySqlStore(database))
    batches = _batches(store)
    assert _kinds(await _answers(batches, coupon, [holder])) == ["ok"]
    asked = [first, holder, "nobody-" + first, first, second, third, late, late]
    answers = await _answers(batches, coupon, asked)
    assert _kinds(answers) == ["ok", "C006", "U001", "C006", "ok", "ok", "C001", "C001"]
    assert store.transactions == 2
    assert [a.remaining_quantity for a in answers if isinstance(a, IssuedCoupon)] == [2, 1, 0]
    rows = await factory.rows(
        "SELECT user_id, user_coupon_id FROM user_coupons WHERE coupon_id = %s", coupon
    )
    committed = dict(rows)
    assert set(committed) == {holder, first, second, third}
    for answer in answers:
        if isinstance(answer, IssuedCoupon):
            assert committed[answer.user_id] == answer.user_coupon_id
    assert await factory.issued(coupon) == 4


async def test_coupon_wide_refusals_answer_every_request(
    database: Database, factory: Factory
) -> None:
    store = MySqlStore(database)
    batches = _batches(store)
    users = await factory.users(3)
    expired = await factory.coupon(quantity=10, expires_in=-timedelta(days=1))
    assert _kinds(await _answers(batches, expired, users)) == ["C003"] * 3
    assert _kinds(await _answers(batches, "no-such-coupon", users)) == ["C002"] * 3
    assert isinstance((await _answers(batches, expired, users[:1]))[0], CouponExpired)


class StaleHolders:
    """A view of the holders that misses every one of them, as a writer outside the batches
    racing past the check would: the unique key must still have the last word."""

    def __init__(self, inner: MySqlStore) -> None:
        self.inner = inner

    async def autocommit(self, work: Callable[[MySqlTx], Awaitable[Any]]) -> Any:
        return await self.inner.autocommit(work)

    async def transaction(self, work: Callable[[MySqlTx], Awaitable[Any]]) -> Any:
        return await self.inner.transaction(lambda tx: work(_BlindTx(tx)))


class _BlindCoupons:
    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def claimants(self, coupon_id: str, user_ids: Any) -> tuple[set[str], set[str]]:
        known, _ = await self._inner.claimants(coupon_id, user_ids)
        return known, set()


class _BlindTx:
    def __init__(self, tx: MySqlTx) -> None:
        self.users, self.products, self.carts = tx.users, tx.products, tx.carts
        self.orders, self.coupons = tx.orders, _BlindCoupons(tx.coupons)


async def test_a_batch_the_unique_key_refuses_is_split_not_half_applied(
    database: Database, factory: Factory
) -> None:
    coupon = await factory.coupon(quantity=10)
    holder, *others = await factory.users(4)
    fair = _batches(MySqlStore(database))
    assert _kinds(await _answers(fair, coupon, [holder])) == ["ok"]
    blind = _batches(StaleHolders(MySqlStore(database)))
    answers = await _answers(blind, coupon, [others[0], holder, others[1], others[2]])
    assert _kinds(answers) == ["ok", "C006", "ok", "ok"]
    assert isinstance(answers[1], CouponAlreadyIssued)
    assert await factory.issued(coupon) == 4
    assert (
        await factory.scalar("SELECT COUNT(*) FROM user_coupons WHERE coupon_id = %s", coupon) == 4
    )


class _StaleCount:
    """A coupon read that still shows every unit: only the guarded update knows better."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def get(self, coupon_id: str) -> Any:
        coupon = await self._inner.get(coupon_id)
        return None if coupon is None else replace(coupon, issued_quantity=0)


class StaleCountStore(StaleHolders):
    async def transaction(self, work: Callable[[MySqlTx], Awaitable[Any]]) -> Any:
        async def stale(tx: MySqlTx) -> Any:
            view = _BlindTx(tx)
            view.coupons = _StaleCount(tx.coupons)
            return await work(view)  # type: ignore[arg-type]

        return await self.inner.transaction(stale)


async def test_a_batch_short_of_units_runs_again_locked_and_exact(
    database: Database, factory: Factory
) -> None:
    coupon = await factory.coupon(quantity=5)
    users = await factory.users(7)
    fair = _batches(MySqlStore(database))
    assert _kinds(await _answers(fair, coupon, users[:3])) == ["ok"] * 3
    stale = _batches(StaleCountStore(MySqlStore(database)))
    answers = await _answers(stale, coupon, users[3:])  # the read says 5 left; 2 are
    assert _kinds(answers) == ["ok", "ok", "C001", "C001"]
    assert [a.remaining_quantity for a in answers[:2]] == [1, 0]
    assert (
        await factory.scalar("SELECT COUNT(*) FROM user_coupons WHERE coupon_id = %s", coupon) == 5
    )


async def _until(condition: Callable[[], bool]) -> None:
    """Wait for an event of the batches (polled: they publish none)."""
    for _ in range(4_000):
        if condition():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("the batches never reached the expected state")


@pytest.fixture
async def gated_app(aiohttp_client, settings: Settings):
    client = await aiohttp_client(
        create_app(replace(settings, redis_url=REDIS_URL, lock_wait=1.0, coupon_batch_parallel=1))
    )
    return client.app


async def test_cancelled_waiters_keep_gate_and_database_in_step(
    gated_app, factory: Factory
) -> None:
    deps = gated_app[DEPS]
    batches = deps.coupon_issues
    coupon = await factory.coupon(quantity=10)
    warm, early, queued = await factory.users(3)
    redis = aioredis.Redis.from_url(REDIS_URL)
    try:
        await coupons.issue_coupon(deps=deps, coupon_id=coupon, user_id=warm)  # gate loaded
        gated_app[DATABASE].statement_delay = 0.1  # the first batch stays in flight a while
        in_flight = asyncio.create_task(
            coupons.issue_coupon(deps=deps, coupon_id=coupon, user_id=early)
        )
        await _until(lambda: gated_app[DATABASE].used == 1)  # its transaction has begun
        gated_app[DATABASE].statement_delay = 0.0
        waiting = asyncio.create_task(
            coupons.issue_coupon(deps=deps, coupon_id=coupon, user_id=queued)
        )
        await _until(lambda: batches.queued(coupon) == 1)
        waiting.cancel()
        in_flight.cancel()  # its batch is already in the database: it finishes regardless
        for task in (waiting, in_flight):
            with pytest.raises(asyncio.CancelledError):
                await task
        await _until(lambda: batches.queued(coupon) is None)  # the sent batch finishes alone
        holders = await factory.rows(
            "SELECT user_id FROM user_coupons WHERE coupon_id = %s", coupon
        )
        assert sorted(holders) == sorted([(warm,), (early,)])
        # The gate agrees with MySQL: the sent request kept its unit, the queued one never took one.
        gate = f"{gated_app[SETTINGS].redis_prefix}coupon:{{{coupon}}}"
        assert int(await redis.get(f"{gate}:left")) == 8
        assert await redis.smembers(f"{gate}:users") == {warm.encode(), early.encode()}
    finally:
        await redis.aclose()


async def test_a_slow_batch_fails_alone_within_its_bound(gated_app, factory: Factory) -> None:
    deps = gated_app[DEPS]
    coupon = await factory.coupon(quantity=10)
    warm, slow, next_one = await factory.users(3)
    await coupons.issue_coupon(deps=deps, coupon_id=coupon, user_id=warm)  # gate loaded
    gated_app[DATABASE].statement_delay = 0.5  # five statements: far past the 1 s bound
    stuck = asyncio.create_task(coupons.issue_coupon(deps=deps, coupon_id=coupon, user_id=slow))
    await _until(lambda: gated_app[DATABASE].used == 1)  # its transaction has its connection
    gated_app[DATABASE].statement_delay = 0.0
    behind = asyncio.create_task(
        coupons.issue_coupon(deps=deps, coupon_id=coupon, user_id=next_one)
    )
    with pytest.raises(DatabaseUnavailable):
        await stuck
    assert (await behind).user_id == next_one
    holders = await factory.rows("SELECT user_id FROM user_coupons WHERE coupon_id = %s", coupon)
    assert sorted(holders) == sorted([(warm,), (next_one,)])


async def test_unknown_user_in_a_batch_is_refused_alone(
    database: Database, factory: Factory
) -> None:
    coupon = await factory.coupon(quantity=2)
    user = await factory.user()
    batches = _batches(MySqlStore(database))
    answers = await _answers(batches, coupon, ["ghost-" + user, user])
    assert isinstance(answers[0], UserNotFound)
    assert isinstance(answers[1], IssuedCoupon)


@pytest.mark.slow
async def test_exactly_n_distinct_winners_across_replicas_without_a_gate(
    factory: Factory, test_database: str, redis_prefix: str, tmp_path
) -> None:
    """No Redis: three processes' batches meet only at the coupon row in MariaDB."""
    coupon = await factory.coupon(quantity=150)
    users = await factory.users(400)
    asked = [u for u in users for _ in range(2)]  # every user twice: duplicates in flight
    with replicas(
        3,
        db_url=test_database,
        redis_prefix=redis_prefix,
        log_dir=tmp_path,
        SHOP_REDIS_URL="",
        SHOP_LOCK_BACKEND="local",
    ) as urls:
        targets = itertools.cycle(urls)
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=200)) as http:

            async def issue(user: str, base: str) -> tuple[int, dict[str, Any]]:
                async with http.post(
                    f"{base}/api/coupons/{coupon}/issue", json={"userId": user}
                ) as r:
                    return r.status, await r.json(content_type=None)

            answers = await asyncio.gather(*(issue(u, next(targets)) for u in asked))
    statuses = Counter(status for status, _ in answers)
    assert statuses[200] == 150
    assert set(statuses) <= {200, 400, 409}
    won = {body["userId"]: body["userCouponId"] for status, body in answers if status == 200}
    assert len(won) == 150  # never twice to one user
    rows = await factory.rows(
        "SELECT user_id, user_coupon_id FROM user_coupons WHERE coupon_id = %s", coupon
    )
    assert {u: str(uc) for u, uc in rows} == won  # every 200 is committed, and nothing else is
    assert await factory.issued(coupon) == 150


async def test_keyed_requests_join_a_batch_and_their_outcomes_commit_with_it(
    database: Database, factory: Factory
) -> None:
    coupon = await factory.coupon(quantity=3)
    plain, winner = await factory.users(2)
    stranger = f"nobody-{winner}"
    store = CountingStore(MySqlStore(database))
    batches = CouponBatches(store, NoGate(), utc_now, max_batch=100, parallel=1, timeout=30.0)
    deps = batch_deps(store, coupon_issues=batches)

    async def keyed(user: str) -> Reply[IssuedCoupon]:
        return await once(
            deps=deps,
            policy=KeyPolicy(),
            request=keyed_request(user, coupon),
            effect=lambda seal: coupons.issue_coupon(
                deps=deps, coupon_id=coupon, user_id=user, seal=seal
            ),
            result_type=IssuedCoupon,
        )

    # The coupon row held: the plain request's batch waits, the keyed ones queue behind it.
    async with factory.locked("SELECT 1 FROM coupons WHERE coupon_id = %s FOR UPDATE", coupon):
        issued = asyncio.create_task(
            coupons.issue_coupon(deps=deps, coupon_id=coupon, user_id=plain)
        )
        await until(lambda: batches.queued(coupon) == 0)
        replies = [asyncio.create_task(keyed(user)) for user in (winner, stranger)]
        await until(lambda: batches.queued(coupon) == 2)
    assert isinstance(await issued, IssuedCoupon)
    won, refused = await asyncio.gather(*replies)
    assert store.transactions == 2  # both keyed requests in one batch
    assert isinstance(won.result, IssuedCoupon)
    assert isinstance(refused.result, UserNotFound)
    # Each keyed outcome committed with its batch: a retry replays it, with no second effect.
    assert await keyed(winner) == replace(won, replayed=True)
    again = await keyed(stranger)
    assert again.replayed
    assert (type(again.result), again.at) == (UserNotFound, refused.at)
    assert store.transactions == 2

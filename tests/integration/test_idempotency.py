"""Idempotent retries at the use-case level, against the real MariaDB.

The crash-window tests stand a store in front of MySQL that loses the connection right after
COMMIT (the effect is durable, the answer never leaves) or right before it (nothing is): a retry
with the same key must replay the first answer in the first case and run once in the second.
They fail if the answer is written anywhere but inside the effect's own transaction.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import orjson
import pytest

from shop.adapters.mysql.pool import Database
from shop.adapters.mysql.store import MySqlStore, MySqlTx
from shop.adapters.mysql.times import to_db
from shop.app import utc_now
from shop.domain.errors import (
    DatabaseUnavailable,
    IdempotencyInProgress,
    LockTimeout,
    OutcomeUnknown,
    ShopError,
)
from shop.domain.idempotency import fingerprint
from shop.domain.users import ChargeReceipt
from shop.locks.local import LocalLockManager
from shop.use_cases.balance import charge_balance
from shop.use_cases.deps import Deps
from shop.use_cases.idempotency import KeyPolicy, Reply, once, purge_expired
from shop.use_cases.ports import Lease
from shop.use_cases.seals import KeyedRequest

from ..factories import Factory

T = TypeVar("T")


class LostAfterCommit(MySqlStore):
    """The transaction commits, then the connection drops before the answer is known."""

    async def transaction(
        self, work: Callable[[MySqlTx], Awaitable[T]], *, fence: Lease | None = None
    ) -> T:
        await super().transaction(work, fence=fence)
        raise OutcomeUnknown("connection lost after COMMIT")


class LostBeforeCommit(MySqlStore):
    """The transaction's work runs, then the connection drops before COMMIT (rolled back)."""

    async def transaction(
        self, work: Callable[[MySqlTx], Awaitable[T]], *, fence: Lease | None = None
    ) -> T:
        async def then_fail(tx: MySqlTx) -> T:
            await work(tx)
            raise DatabaseUnavailable("connection lost before COMMIT")

        return await super().transaction(then_fail, fence=fence)


def _deps(store: MySqlStore, locks: LocalLockManager | None = None) -> Deps:
    return Deps(
        store=store,
        locks=locks or LocalLockManager(wait=5, lease=10),
        clock=utc_now,
        order_lock_scope=lambda: "user",
    )


@dataclass(frozen=True)
class _Charge:
    """A keyed charge of `amount` to a user who starts with nothing: every attempt sends the same
    key and body, as a client's retries do."""

    factory: Factory
    user: str
    amount: int
    request: KeyedRequest

    async def send(self, deps: Deps, policy: KeyPolicy | None = None) -> Reply[ChargeReceipt]:
        return await once(
            deps=deps,
            policy=policy or KeyPolicy(),
            request=self.request,
            effect=lambda seal: charge_balance(
                deps=deps, user_id=self.user, amount=self.amount, seal=seal
            ),
            result_type=ChargeReceipt,
        )

    async def balance(self) -> Any:
        return await self.factory.scalar("SELECT balance FROM users WHERE user_id = %s", self.user)


@pytest.fixture
async def charge(factory: Factory) -> _Charge:
    """A keyed charge of 300 to a new user with no balance."""
    user = await factory.user(balance=0)
    amount = 300
    path = f"/api/users/{user}/balance/charge"
    request = KeyedRequest(
        user_id=user,
        key=f"k-{uuid.uuid4()}",
        fingerprint=fingerprint("POST", path, orjson.dumps({"amount": amount})),
    )
    return _Charge(factory, user, amount, request)


async def test_a_crash_between_commit_and_answer_is_replayed_not_paid_twice(
    database: Database, charge: _Charge
) -> None:
    with pytest.raises(OutcomeUnknown):
        await charge.send(_deps(LostAfterCommit(database)))
    assert await charge.balance() == charge.amount  # the effect is durable, its answer was lost
    retry = await charge.send(_deps(MySqlStore(database)))
    assert retry.replayed
    assert isinstance(retry.result, ChargeReceipt)
    assert retry.result.current_balance == charge.amount
    assert await charge.balance() == charge.amount


async def test_a_connection_lost_before_commit_lets_the_retry_run_once(
    database: Database, charge: _Charge
) -> None:
    with pytest.raises(DatabaseUnavailable):
        await charge.send(_deps(LostBeforeCommit(database)))
    assert await charge.balance() == 0
    # The claim was given back, so the retry does not wait for it to time out.
    retry = await charge.send(_deps(MySqlStore(database)))
    assert not retry.replayed
    assert await charge.balance() == charge.amount


async def test_a_refusal_made_before_the_transaction_is_not_stored(
    database: Database, charge: _Charge
) -> None:
    locks = LocalLockManager(wait=0.05)
    deps = _deps(MySqlStore(database), locks)
    held, done = asyncio.Event(), asyncio.Event()

    async def holder() -> None:  # another request of the same user, holding its lock
        async with locks.hold(f"charge:user:{charge.user}", name="charge", wait=1, lease=10):
            held.set()
            await done.wait()

    task = asyncio.create_task(holder())
    await held.wait()
    with pytest.raises(LockTimeout):
        await charge.send(deps)
    done.set()
    await task
    answer = await charge.send(deps)
    assert isinstance(answer.result, ChargeReceipt)
    assert not answer.replayed
    assert await charge.balance() == charge.amount


async def test_a_retry_that_takes_over_a_slow_claim_leaves_one_effect(
    database: Database, factory: Factory, charge: _Charge
) -> None:
    """The first request outlives its claim; only one of the two may commit."""
    # The retry queues on the user's charge lock behind the first: wait as long as it takes.
    deps = _deps(MySqlStore(database), LocalLockManager(wait=120, lease=10))
    eager = KeyPolicy(claim_timeout=timedelta(0))  # every claim already looks dead
    async with factory.locked(
        "SELECT balance FROM users WHERE user_id = %s FOR UPDATE", charge.user
    ):
        first = asyncio.create_task(charge.send(deps, eager))
        await _until_stored(factory, charge.user)
        second = asyncio.create_task(charge.send(deps, eager))
        await _until_token_changes(factory, charge.user)
    outcomes = await asyncio.gather(first, second, return_exceptions=True)
    answers = [o for o in outcomes if isinstance(o, Reply)]
    refused = [o for o in outcomes if isinstance(o, ShopError)]
    assert len(answers) == 1, outcomes
    assert [type(e) for e in refused] == [IdempotencyInProgress]
    assert await charge.balance() == charge.amount


async def _until_stored(factory: Factory, user: str) -> None:
    sql = "SELECT COUNT(*) FROM idempotency_keys WHERE user_id = %s"
    await _until(factory, sql, user, lambda count: bool(count), "the claim never appeared")


async def _until_token_changes(factory: Factory, user: str) -> None:
    sql = "SELECT claim_token FROM idempotency_keys WHERE user_id = %s"
    first = await factory.scalar(sql, user)
    await _until(factory, sql, user, lambda token: token != first, "the claim was never taken over")


async def _until(
    factory: Factory, sql: str, user: str, done: Callable[[object], bool], never: str
) -> None:
    """Poll `sql`'s value for `user` until `done` holds, up to a minute on a busy machine."""
    for _ in range(6000):
        if done(await factory.scalar(sql, user)):
            return
        await asyncio.sleep(0.01)
    raise AssertionError(never)


async def test_purge_removes_expired_keys_in_batches_and_keeps_fresh_ones(
    database: Database, factory: Factory
) -> None:
    user = await factory.user()
    old = to_db(datetime.now(UTC) - timedelta(hours=25))
    now = to_db(datetime.now(UTC))
    rows = [(user, f"old-{n}", "0" * 64, "t" * 32, old, old) for n in range(1_200)]
    rows.append((user, "fresh", "0" * 64, "t" * 32, now, now))
    async with database.session() as s:
        await s.execute_many(
            "test.keys",
            "INSERT INTO idempotency_keys (user_id, idem_key, fingerprint, claim_token,"
            " claimed_at, created_at) VALUES (%s, %s, %s, %s, %s, %s)",
            rows,
        )
    purged = await purge_expired(deps=_deps(MySqlStore(database)), policy=KeyPolicy(), pause=0)
    assert purged >= 1_200
    left = await factory.rows("SELECT idem_key FROM idempotency_keys WHERE user_id = %s", user)
    assert left == [("fresh",)]

"""Idempotent retries: a keyed request has its effect at most once and one outcome for good.

A request with an `Idempotency-Key` first claims the key in a statement of its own, so every
replica sees it in flight at once (a second request gets 409 IDEMPOTENCY_IN_PROGRESS, never a
second effect). The claim becomes a `Seal`, which the use case passes to the transaction of its
effect: that transaction writes the request's outcome into the claimed row before it commits,
so the effect and its outcome commit together or not at all, and a crash between commit and
answer leaves the outcome for the retry to replay, never a second charge.

What is stored is the use case's result (or refusal), not an HTTP answer: the API renders it
after the use case returns, the first time and on every replay alike. Business rejections
decided inside that transaction (MySQL's verdict, rolled back) are stored too and replayed;
everything else (503s, lock waits, refusals made before the transaction) releases the claim so
that a retry runs again. Why: docs/decisions/0009-idempotency-keys.md, 0026.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Generic, TypeVar

from ..domain.errors import IdempotencyInProgress, IdempotencyKeyReused, ShopError
from ..domain.idempotency import KeyRecord, Outcome, Verdict, judge
from .deps import Deps
from .ports import Tx
from .seals import KeyedRequest, Seal, read

T = TypeVar("T")
PURGE_BATCH = 500
CLAIM_ATTEMPTS = 3


@dataclass(frozen=True, slots=True)
class KeyPolicy:
    ttl: timedelta = timedelta(hours=24)
    # A claim older than this belongs to a request that died before answering: a retry may
    # take it over. Longer than any request can run (lock wait + lease + pool wait).
    claim_timeout: timedelta = timedelta(seconds=30)


@dataclass(frozen=True, slots=True)
class Reply(Generic[T]):
    """A keyed request's outcome: the result or the refusal, and when it was decided."""

    result: T | ShopError
    at: datetime
    replayed: bool = False


async def _claim(
    deps: Deps, policy: KeyPolicy, request: KeyedRequest, token: str
) -> Outcome | None:
    """None when the key is now ours; the stored outcome when it was answered before."""
    for _ in range(CLAIM_ATTEMPTS):
        outcome = await _try_claim(deps, policy, request, token)
        if outcome is not _AGAIN:
            return outcome if isinstance(outcome, Outcome) else None
    raise IdempotencyInProgress("a request with this Idempotency-Key is in progress; retry shortly")


_AGAIN = object()  # the stored key changed under us: look again


async def _try_claim(
    deps: Deps, policy: KeyPolicy, request: KeyedRequest, token: str
) -> Outcome | object | None:
    now = deps.clock()

    async def claim(tx: Tx) -> tuple[bool, KeyRecord | None]:
        if await tx.idempotency.claim(
            request.user_id, request.key, fingerprint=request.fingerprint, token=token, now=now
        ):
            return True, None
        return False, await tx.idempotency.get(request.user_id, request.key)

    claimed, record = await deps.store.autocommit(claim)
    if claimed:
        return None
    if record is None:  # released between the two statements
        return _AGAIN
    verdict = judge(
        record,
        fingerprint=request.fingerprint,
        now=now,
        ttl=policy.ttl,
        claim_timeout=policy.claim_timeout,
    )
    if verdict is Verdict.REPLAY and record.outcome is not None:
        return record.outcome
    if verdict is Verdict.MISMATCH:
        raise IdempotencyKeyReused(
            "this Idempotency-Key was used with another request; use a new key"
        )
    if verdict is Verdict.IN_PROGRESS:
        raise IdempotencyInProgress(
            "a request with this Idempotency-Key is in progress; retry shortly"
        )
    # A stale claim or an expired key: take it over, unless another retry got there first.
    taken = await deps.store.autocommit(
        lambda tx: tx.idempotency.take_over(
            request.user_id,
            request.key,
            old_token=record.claim_token,
            fingerprint=request.fingerprint,
            token=token,
            now=now,
            renew=verdict is Verdict.EXPIRED,
        )
    )
    return None if taken else _AGAIN


async def _release(deps: Deps, request: KeyedRequest, token: str) -> None:
    """Give the key back so a retry runs again; if this fails the claim times out instead."""
    with contextlib.suppress(ShopError):
        await deps.store.autocommit(
            lambda tx: tx.idempotency.release(request.user_id, request.key, token=token)
        )


async def once(
    *,
    deps: Deps,
    policy: KeyPolicy,
    request: KeyedRequest,
    effect: Callable[[Seal], Awaitable[T]],
    result_type: type[T],
) -> Reply[T]:
    """Run `effect` at most once per key; the outcome of its first run, every time.

    `effect` is a use case given the seal: it must pass it to the one transaction that writes
    its effect (charge, coupon issue and order all do).
    """
    token = uuid.uuid4().hex
    stored = await _claim(deps, policy, request, token)
    if stored is not None:
        return Reply(read(stored, result_type), stored.at, replayed=True)
    seal = Seal(request, token, deps.clock)
    try:
        result = await effect(seal)
    except ShopError as error:
        if seal.stored is not None:  # refused inside a committed transaction (coupon batches)
            return Reply(error, seal.stored.at)
        if error is seal.rejection:
            outcome = seal.outcome(error)
            # Unrecorded when this fails: the claim times out and a retry runs again, which
            # is safe because the refused transaction changed nothing.
            with contextlib.suppress(ShopError):
                await deps.store.autocommit(lambda tx: seal.write(tx, outcome))
            return Reply(error, outcome.at)
        await asyncio.shield(_release(deps, request, token))
        raise
    except BaseException:
        await asyncio.shield(_release(deps, request, token))
        raise
    if seal.stored is None:
        raise RuntimeError("the keyed effect stored no outcome")
    return Reply(result, seal.stored.at)


async def purge_expired(*, deps: Deps, policy: KeyPolicy, pause: float = 0.05) -> int:
    """Delete keys past their retention in small batches, yielding between them."""
    before = deps.clock() - policy.ttl
    purged = 0
    while True:
        count = await deps.store.autocommit(
            lambda tx: tx.idempotency.purge(before=before, limit=PURGE_BATCH)
        )
        purged += count
        if count < PURGE_BATCH:
            return purged
        await asyncio.sleep(pause)  # short statements with gaps: requests never queue behind it


async def purge_periodically(
    *,
    deps: Deps,
    policy: KeyPolicy,
    interval: float,
    on_error: Callable[[Exception], None],
) -> None:
    """Purge expired keys every `interval` seconds for as long as the process runs."""
    while True:
        try:
            await purge_expired(deps=deps, policy=policy)
        except Exception as error:  # a failed pass must not end the housekeeping
            on_error(error)
        await asyncio.sleep(interval)

"""Idempotent retries: a keyed request has its effect at most once and one answer for good.

A request with an `Idempotency-Key` first claims the key in a statement of its own, so every
replica sees it in flight at once (a second request gets 409 IDEMPOTENCY_IN_PROGRESS, never a
second effect). The effect's transaction then writes the answer into the claimed row before it
commits: the effect and its answer commit together or not at all, so a crash between commit
and answer leaves an answer for the retry to replay, never a second charge.

Business rejections decided inside that transaction (MySQL's verdict, rolled back) are stored
too and replayed; everything else (503s, lock waits, refusals made before the transaction)
releases the claim so that a retry runs again. Why: docs/decisions/0009-idempotency-keys.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

from ..domain.errors import IdempotencyInProgress, IdempotencyKeyReused, ShopError, Unavailable
from ..domain.idempotency import Answer, KeyRecord, Verdict, judge
from .deps import Deps
from .ports import Lease, Store, Tx

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
class KeyedRequest:
    user_id: str
    key: str
    fingerprint: bytes


def _recorded(error: ShopError) -> bool:
    """A refusal worth replaying: a business verdict, not "try again later" nor a bug."""
    return (
        error.retry_after is None
        and not isinstance(error, Unavailable)
        and error.code != ShopError.code
    )


class _SealingStore:
    """The effect's Store: its one transaction also writes the answer into the claimed key."""

    def __init__(
        self,
        inner: Store,
        *,
        request: KeyedRequest,
        token: str,
        deps: Deps,
        render: Callable[[Any], Answer],
    ) -> None:
        self._inner = inner
        self._request = request
        self._token = token
        self._deps = deps
        self._render = render
        self._used = False
        self.rejection: ShopError | None = None
        self.answer: Answer | None = None

    async def autocommit(self, work: Callable[[Tx], Awaitable[T]]) -> T:
        return await self._inner.autocommit(work)

    async def transaction(
        self, work: Callable[[Tx], Awaitable[T]], *, fence: Lease | None = None
    ) -> T:
        if self._used:
            raise RuntimeError("a keyed effect must run exactly one transaction")
        self._used = True
        request = self._request
        sealed: list[Answer] = []

        async def sealing(tx: Tx) -> T:
            sealed.clear()  # a deadlock retry starts over
            try:
                result = await work(tx)
            except ShopError as error:
                self.rejection = error if _recorded(error) else None
                raise
            self.rejection = None
            answer = self._render(result)
            if not await tx.idempotency.seal(
                request.user_id,
                request.key,
                token=self._token,
                answer=answer,
                now=self._deps.clock(),
            ):
                # Another retry took the claim over (ours looked dead): it owns the effect.
                raise IdempotencyInProgress("a retry with this key took over the request")
            sealed.append(answer)
            return result

        result = await self._inner.transaction(sealing, fence=fence)
        self.answer = sealed[0]
        return result


async def _claim(deps: Deps, policy: KeyPolicy, request: KeyedRequest, token: str) -> Answer | None:
    """None when the key is now ours; the stored answer when it was answered before."""
    for _ in range(CLAIM_ATTEMPTS):
        outcome = await _try_claim(deps, policy, request, token)
        if outcome is not _AGAIN:
            return outcome if isinstance(outcome, Answer) else None
    raise IdempotencyInProgress("a request with this Idempotency-Key is in progress; retry shortly")


_AGAIN = object()  # the stored key changed under us: look again


async def _try_claim(
    deps: Deps, policy: KeyPolicy, request: KeyedRequest, token: str
) -> Answer | object | None:
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
    if verdict is Verdict.REPLAY and record.answer is not None:
        return dataclasses.replace(record.answer, replayed=True)
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
    effect: Callable[[Deps], Awaitable[object]],
    render: Callable[[Any], Answer],
    reject: Callable[[ShopError], Answer],
) -> Answer:
    """Run `effect` at most once per key; the answer of its first run, every time.

    `effect` must write through exactly one `deps.store.transaction`, whose result `render`
    turns into the answer (charge, coupon issue and order all do).
    """
    token = uuid.uuid4().hex
    replay = await _claim(deps, policy, request, token)
    if replay is not None:
        return replay
    store = _SealingStore(deps.store, request=request, token=token, deps=deps, render=render)
    try:
        # Group commit is bypassed: the answer must commit in this request's own transaction.
        await effect(dataclasses.replace(deps, store=store, coupon_issues=None))
    except ShopError as error:
        if error is store.rejection:
            answer = reject(error)
            # Unrecorded when this fails: the claim times out and a retry runs again, which
            # is safe because the refused transaction changed nothing.
            with contextlib.suppress(ShopError):
                await deps.store.autocommit(
                    lambda tx: tx.idempotency.seal(
                        request.user_id, request.key, token=token, answer=answer, now=deps.clock()
                    )
                )
            return answer
        await asyncio.shield(_release(deps, request, token))
        raise
    except BaseException:
        await asyncio.shield(_release(deps, request, token))
        raise
    if store.answer is None:
        raise RuntimeError("the keyed effect ran no transaction")
    return store.answer


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

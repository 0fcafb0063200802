"""The seal of a keyed request: the transaction it is passed to also stores the outcome.

`idempotency.once` claims the key and hands the use case a `Seal`; the use case passes it to
the one transaction that writes its effect (`transaction` below, or a coupon batch's), which
writes the result there before COMMIT: the effect and its outcome commit together or not at all.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import msgspec

from ..domain.errors import IdempotencyInProgress, ShopError, Unavailable, refusal
from ..domain.idempotency import Outcome
from .ports import Clock, Fence, Store, Tx

T = TypeVar("T")
_encoder = msgspec.json.Encoder()


@dataclass(frozen=True, slots=True)
class KeyedRequest:
    user_id: str
    key: str
    fingerprint: bytes


class _Refusal(msgspec.Struct):
    code: str
    message: str


def recorded(error: ShopError) -> bool:
    """A refusal worth replaying: a business verdict, not "try again later" nor a bug."""
    return (
        error.retry_after is None
        and not isinstance(error, Unavailable)
        and error.code != ShopError.code
    )


@dataclass(slots=True)
class Seal:
    """A claimed key, passed to the one transaction that writes its request's outcome."""

    request: KeyedRequest
    token: str
    clock: Clock
    # A recorded refusal raised inside the transaction (rolled back): `once` stores it after.
    rejection: ShopError | None = None
    # What the committed transaction stored.
    stored: Outcome | None = None

    def outcome(self, result: object) -> Outcome:
        """The stored form of a result, or of a refusal."""
        if isinstance(result, ShopError):
            body = _encoder.encode(_Refusal(result.code, result.message))
            return Outcome(refused=True, body=body, at=self.clock())
        return Outcome(refused=False, body=_encoder.encode(result), at=self.clock())

    async def write(self, tx: Tx, outcome: Outcome) -> bool:
        """Store the outcome in `tx`; False when a retry took the claim over (ours looked dead)."""
        request = self.request
        return await tx.idempotency.seal(
            request.user_id, request.key, token=self.token, outcome=outcome
        )


async def transaction(
    store: Store,
    work: Callable[[Tx], Awaitable[T]],
    *,
    fence: Fence | None = None,
    seal: Seal | None = None,
) -> T:
    """`store.transaction(work)`; with a seal, the same transaction stores the result."""
    if seal is None:
        return await store.transaction(work, fence=fence)
    written: list[Outcome] = []

    async def sealing(tx: Tx) -> T:
        written.clear()  # a deadlock retry starts over
        try:
            result = await work(tx)
        except ShopError as error:
            seal.rejection = error if recorded(error) else None
            raise
        seal.rejection = None
        outcome = seal.outcome(result)
        if not await seal.write(tx, outcome):
            raise IdempotencyInProgress("a retry with this key took over the request")
        written.append(outcome)
        return result

    result = await store.transaction(sealing, fence=fence)
    seal.stored = written[0]
    return result


def read(stored: Outcome, result_type: type[T]) -> T | ShopError:
    """The result, or the refusal, a stored outcome stands for."""
    if stored.refused:
        refused = msgspec.json.decode(stored.body, type=_Refusal)
        return refusal(refused.code, refused.message)
    return msgspec.json.decode(stored.body, type=result_type)

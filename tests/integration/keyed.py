"""A use case run once per Idempotency-Key against a group commit under test, as the HTTP layer
runs it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from shop.app import utc_now
from shop.domain.idempotency import fingerprint
from shop.locks.local import LocalLockManager
from shop.use_cases.deps import Deps
from shop.use_cases.idempotency import KeyPolicy, Reply, once
from shop.use_cases.seals import KeyedRequest, Seal

T = TypeVar("T")


def batch_deps(store: Any, **batches: Any) -> Deps:
    """The use cases' deps on `store`, in-process locks, and `batches` (the coupon issues or
    order placements under test) in place of the ones Deps would build."""
    return Deps(
        store=store,
        locks=LocalLockManager(wait=5, lease=10),
        clock=utc_now,
        order_lock_scope=lambda: "user",
        **batches,
    )


async def once_for(
    deps: Deps,
    user: str,
    target: str,
    effect: Callable[[Seal], Awaitable[T]],
    result_type: type[T],
) -> Reply[T]:
    """`effect` under the user's one key (`k-<user>`), as a POST to `target` carrying it."""
    return await once(
        deps=deps,
        policy=KeyPolicy(),
        request=KeyedRequest(user, f"k-{user}", fingerprint("POST", target, user.encode())),
        effect=effect,
        result_type=result_type,
    )

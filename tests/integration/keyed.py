"""Keyed use-case runs against a group commit under test: the deps, the request of a key."""

from __future__ import annotations

from typing import Any

from shop.app import utc_now
from shop.domain.idempotency import fingerprint
from shop.locks.local import LocalLockManager
from shop.use_cases.deps import Deps
from shop.use_cases.seals import KeyedRequest


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


def keyed_request(user: str, target: str) -> KeyedRequest:
    """The user's one key (`k-<user>`) on a POST to `target`."""
    return KeyedRequest(user, f"k-{user}", fingerprint("POST", target, user.encode()))

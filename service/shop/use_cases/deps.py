"""What every use case may depend on, built once by the composition root."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from .ports import Clock, CouponGate, CouponIssues, DataSet, LockManager, NoGate, Store


@dataclass(frozen=True, slots=True)
class Deps:
    store: Store
    locks: LockManager
    clock: Clock
    # Read on every order so that flipping the incident switch takes effect at once.
    order_lock_scope: Callable[[], str]
    coupon_gate: CouponGate = field(default_factory=NoGate)
    # Group commit of coupon issues; None = one transaction per issue.
    coupon_issues: CouponIssues | None = None
    data_set: DataSet | None = None

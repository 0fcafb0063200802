"""What every use case may depend on, built once by the composition root."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from .coupon_batches import CouponBatches
from .order_batches import OrderBatches
from .ports import (
    Clock,
    CouponGate,
    CouponIssues,
    DataSet,
    LockManager,
    NoGate,
    OrderPlacements,
    Store,
)


@dataclass(frozen=True, slots=True)
class Deps:
    store: Store
    locks: LockManager
    clock: Clock
    # Read on every order so that flipping the incident switch takes effect at once.
    order_lock_scope: Callable[[], str]
    coupon_gate: CouponGate = field(default_factory=NoGate)
    # Every coupon issue goes through it (group commit); built with its defaults when not given.
    coupon_issues: CouponIssues = None  # type: ignore[assignment]  # set by __post_init__
    # Every order goes through it (group commit); built with its defaults when not given.
    order_placements: OrderPlacements = None  # type: ignore[assignment]  # set by __post_init__
    data_set: DataSet | None = None

    def __post_init__(self) -> None:
        if self.coupon_issues is None:
            issues = CouponBatches(self.store, self.coupon_gate, self.clock)
            object.__setattr__(self, "coupon_issues", issues)  # frozen: set once, here
        if self.order_placements is None:
            placements = OrderBatches(self.store, self.clock)
            object.__setattr__(self, "order_placements", placements)

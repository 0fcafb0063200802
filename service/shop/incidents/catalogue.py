"""Every incident switch, in the order operators see them; adding a switch is one entry here.

Each entry says what the switch reproduces, its normal value, what it accepts and how it acts
on the running process. What the switches act on comes in as `Targets`, filled in by the
composition root once those resources are open.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from .switches import Switches, choice, whole


class TunableDatabase(Protocol):
    """The database knobs the switches turn."""

    statement_delay: float

    def resize(self, maxsize: int) -> None:
        """Lend at most `maxsize` connections at once."""
        ...


class CuttableRedis(Protocol):
    """The shop's Redis pool, which the `redis` switch cuts as if Redis refused connections."""

    async def set_reachable(self, reachable: bool) -> None:
        """Cut (False) or restore (True) every command's way to Redis."""
        ...


@dataclass(frozen=True, slots=True)
class Targets:
    database: TunableDatabase
    normal_pool_size: int
    pool_ceiling: int
    # Creates (True) or drops (False) the cart_items(cart_id) index.
    set_cart_index: Callable[[bool], Awaitable[None]]
    # None without Redis: then there is no `redis` switch.
    redis: CuttableRedis | None = None


def register_switches(switches: Switches, targets: Targets) -> None:
    """Register every switch at its normal value."""
    database = targets.database

    async def resize(size: Any) -> None:
        database.resize(size)

    async def slow_down(milliseconds: Any) -> None:
        database.statement_delay = milliseconds / 1000

    switches.register(
        "db_pool_max",
        description="connections one process may use at once (10 = the undersized pool)",
        normal=targets.normal_pool_size,
        parse=whole(1, targets.pool_ceiling),
        apply=resize,
    )
    switches.register(
        "db_latency_ms",
        description="milliseconds added before every SQL statement (a slow database)",
        normal=0,
        parse=whole(0, 10_000),
        apply=slow_down,
    )
    switches.register(
        "cart_index",
        description="the cart_items(cart_id) index: on, or off (the original's full scan)",
        normal="on",
        parse=choice("on", "off"),
        apply=lambda value: targets.set_cart_index(value == "on"),
    )
    # Read by every order (use_cases/orders.py), so it needs nothing applied.
    switches.register(
        "order_lock_scope",
        description="what orders lock on: user (normal) or global (the original's outage)",
        normal="user",
        parse=choice("user", "global"),
    )
    # Read at every lock hold (incidents/slow_holds.py), so it needs nothing applied.
    switches.register(
        "lock_hold_ms",
        description="milliseconds every lock holder lingers before its work "
        "(a slow critical section: waiters pile up, leases near expiry)",
        normal=0,
        parse=whole(0, 10_000),
    )
    redis = targets.redis
    if redis is not None:

        async def cut(value: Any) -> None:
            await redis.set_reachable(value == "up")

        switches.register(
            "redis",
            description="the shop's Redis (locks, coupon gate, readiness): up, or down "
            "(as if unreachable: orders and charges 503 LOCK002, coupons go to MySQL)",
            normal="up",
            parse=choice("up", "down"),
            apply=cut,
        )

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


@dataclass(frozen=True, slots=True)
class Targets:
    database: TunableDatabase
    normal_pool_size: int
    pool_ceiling: int
    # Creates (True) or drops (False) the cart_items(cart_id) index.
    set_cart_index: Callable[[bool], Awaitable[None]]


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

"""The six game days: which switch each flips, and which alerts it must and may raise.

Switch names and scenario names are those of docs/operations.md. Every drill runs the order
traffic of `make loadtest SCENARIO=<name>` (add to cart, one in ten with a coupon, order) with
the database put DB_DISTANCE_MS away per statement for the whole drill: on a 2-core machine
with the database beside the shop, CPU alone would bind first and no lock would show. Users
are few because the machine is shared: the drill is about detection, not throughput.
Each user places about one order a second (gameday/locustfile.py). `small-pool` shrinks the
pool to one connection per replica, below what the offered orders need: the original's undersized
pool (10 for 100 VUs) scaled to this drill's load, not its absolute number. `no-cart-index`
runs with 80,000 abandoned carts beyond the shoppers (~800,000 cart items): on the few rows
the shoppers' own carts hold, a full scan costs nothing and no index is missed.

`expected` alerts must fire (and notify) after the flip; `tolerated` ones are consequences the
drill accepts after the flip (an order lock collapsing also burns latency budget). Any other
alert, or any alert at all during the baseline, fails the drill.
"""

from __future__ import annotations

from dataclasses import dataclass

DB_DISTANCE_MS = 5


@dataclass(frozen=True, slots=True)
class Drill:
    scenario: str
    switch: str
    value: object
    expected: tuple[str, ...]
    tolerated: tuple[str, ...] = ()
    users: int = 10


# The database server and the host are shared with other suites: alerts on their server-wide
# counters (row-lock time, deadlocks) or on the host's CPU (event-loop lag, exporters timing
# out) say more about the neighbours than about the drill, so every drill tolerates them.
SHARED_MACHINE = (
    "ShopInnodbRowLockWaits",
    "ShopInnodbDeadlocks",
    "ShopEventLoopLag",
    "ShopScrapeTargetDown",
)
LATENCY = "ShopLatencyBudgetBurn"
AVAILABILITY = "ShopAvailabilityBudgetBurn"

DRILLS: dict[str, Drill] = {
    d.scenario: d
    for d in (
        Drill(
            "global-lock",
            "order_lock_scope",
            "global",
            # Timeouts need a queue longer than the 5 s wait budget: load-dependent, tolerated.
            expected=("ShopLockWaitersPiling",),
            tolerated=("ShopLockTimeouts", "ShopLockContention", LATENCY),
            # More orders offered than one global lock serves (about 13/s with the database
            # 5 ms away per statement), on a fast machine as on a slow one: with fewer users
            # a quiet machine keeps up and the queue never passes the alert's 10 waiters.
            users=30,
        ),
        Drill(
            "small-pool",
            "db_pool_max",
            1,
            expected=("ShopDbPoolSaturated",),
            # Orders wait for a connection while holding their user's lock.
            tolerated=(
                "ShopDbPoolAcquireSlow",
                "ShopDbPoolAcquireTimeouts",
                LATENCY,
                "ShopLockHeldLong",
                "ShopLockContention",
            ),
            users=20,
        ),
        Drill(
            "slow-db",
            "db_latency_ms",
            300,
            expected=("ShopDbStatementsSlow",),
            tolerated=(
                LATENCY,
                "ShopLockHeldLong",
                "ShopDbPoolSaturated",
                "ShopDbPoolAcquireSlow",
                "ShopLockContention",
            ),
        ),
        Drill(
            "no-cart-index",
            "cart_index",
            "off",
            expected=("ShopDbStatementsSlow",),
            # Each order's cart reads and clear scan the table while it holds its user's lock.
            tolerated=(
                LATENCY,
                "ShopDbPoolSaturated",
                "ShopDbPoolAcquireSlow",
                "ShopLockHeldLong",
                "ShopLockContention",
            ),
        ),
        Drill(
            "redis-down",
            "redis",
            "down",
            expected=("ShopLockBackendErrors", AVAILABILITY),
            tolerated=(),
        ),
        Drill(
            "slow-lock",
            "lock_hold_ms",
            1500,
            expected=("ShopLockHeldLong",),
            tolerated=(LATENCY, "ShopLockContention", "ShopLockWaitersPiling"),
        ),
    )
}


def drill(name: str) -> Drill:
    try:
        return DRILLS[name]
    except KeyError:
        raise SystemExit(f"unknown game day {name!r}; one of: {', '.join(DRILLS)}") from None

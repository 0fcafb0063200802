"""The game days: which switch each flips (or process it breaks), and which alerts it must and
may raise.

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

import json
from dataclasses import dataclass

from loadtest.traffic.arrivals import ARRIVALS

DB_DISTANCE_MS = 5


@dataclass(frozen=True, slots=True)
class Fault:
    """A process the drill breaks: one of the shop's replicas, or the drill's private MariaDB or
    Redis (never the machine's shared servers)."""

    process: str  # "replica", "mariadb" or "redis"
    # "killed" (SIGKILL) or "stopped" (SIGTERM): started again as the runbook says; "restarted"
    # (SIGKILL, then started at once without its data): over before anyone could act.
    how: str


@dataclass(frozen=True, slots=True)
class Crowd:
    """Load the drill changes instead of breaking anything: the open model's arrivals on a
    profile of multiples of the baseline rate (gameday/crowd.py)."""

    traffic: str  # the open-model scenario whose users arrive
    arrivals: str  # the profile (loadtest/traffic/arrivals.py)


@dataclass(frozen=True, slots=True)
class Drill:
    scenario: str
    switch: str  # "" when the drill only breaks a process
    value: object
    expected: tuple[str, ...]
    tolerated: tuple[str, ...] = ()
    users: int = 10
    also: tuple[tuple[str, object], ...] = ()  # switches flipped with `switch`
    fault: Fault | None = None  # broken after the flips
    crowd: Crowd | None = None  # arrives instead of a flip

    @classmethod
    def breaking(
        cls, scenario: str, fault: Fault, expected: tuple[str, ...], tolerated: tuple[str, ...] = ()
    ) -> Drill:
        """A drill that flips no switch and breaks `fault`'s process instead."""
        return cls(scenario, "", None, expected, tolerated, fault=fault)

    @property
    def flips(self) -> tuple[tuple[str, object], ...]:
        return ((self.switch, self.value), *self.also) if self.switch else self.also

    def describe(self) -> str:
        """What the drill breaks, as the reports and the index say it."""
        parts = [f"{switch}={json.dumps(value)}" for switch, value in self.flips]
        if self.fault is not None:
            parts.append(f"{self.fault.process} {self.fault.how}")
        if self.crowd is not None:
            peak = ARRIVALS[self.crowd.arrivals].peak()
            parts.append(f"arrivals x{peak:g} for the middle third")
        return ", ".join(parts)


# The database server and the host are shared with other suites: alerts on their server-wide
# counters (row-lock time, deadlocks) or on the host's CPU (event-loop lag, exporters timing
# out, the saturation tickets) say more about the neighbours than about the drill, so every
# drill tolerates them.
SHARED_MACHINE = (
    "ShopInnodbRowLockWaits",
    "ShopInnodbDeadlocks",
    "ShopEventLoopLag",
    "ShopScrapeTargetDown",
    "ShopEventLoopLagRising",
    "ShopCpuSaturated",
)
# Every drill keeps the database DB_DISTANCE_MS away through the db_latency_ms switch: past
# ShopIncidentSwitchOn's hour (6 minutes at lab speed) that alert says so, rightly. With the
# shared machine's, alerts any drill tolerates and recovery does not wait for.
BACKGROUND = (*SHARED_MACHINE, "ShopIncidentSwitchOn")
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


# The pages no single switch reproduces: a process of the drill's own killed or
# stopped, and switches that page only together. Alerts a broken datastore causes downstream are
# tolerated; the page that names the cause is expected.
CHECKOUT = "ShopCheckoutBudgetBurn"
SLO_PAGES = (AVAILABILITY, LATENCY, CHECKOUT)
# Requests waiting on a database that is gone or starved: its pools, statements and the user
# locks held meanwhile.
DATABASE_STARVED = (
    *SLO_PAGES,
    "ShopDbPoolAcquireSlow",
    "ShopDbPoolSaturated",
    "ShopDbStatementsSlow",
    "ShopLockHeldLong",
    "ShopLockContention",
)
REDIS_GONE = (*SLO_PAGES, "ShopLockBackendErrors", "ShopRedisPoolAcquireTimeouts")
DRILLS.update(
    (d.scenario, d)
    for d in (
        # The others carry its traffic; its locust users fail until it is back (no shop metric).
        Drill.breaking("replica-killed", Fault("replica", "killed"), ("ShopReplicaDown",)),
        Drill.breaking(
            "mariadb-stopped",
            Fault("mariadb", "stopped"),
            ("ShopMysqlDown",),
            (*DATABASE_STARVED, "ShopDbPoolAcquireTimeouts"),
        ),
        Drill.breaking("redis-stopped", Fault("redis", "stopped"), ("ShopRedisDown",), REDIS_GONE),
        # Holders linger 4 s, past a renewal (every third of the 10 s lease; a shorter hold ends
        # before any), so that leases are held when Redis restarts empty and the next renewal
        # finds each key gone.
        Drill(
            "lease-lost",
            "lock_hold_ms",
            4000,
            ("ShopLockLeaseLost",),
            tolerated=(*REDIS_GONE, "ShopLockHeldLong"),
            fault=Fault("redis", "restarted"),
        ),
        # One lock for every order, each held half a second longer: 20 users queue ~11 s for it,
        # past the 5 s wait budget (the global-lock drill's queue stays under it).
        Drill(
            "lock-timeouts",
            "order_lock_scope",
            "global",
            ("ShopLockTimeouts",),
            tolerated=(*SLO_PAGES, "ShopLockWaitersPiling", "ShopLockContention"),
            users=20,
            also=(("lock_hold_ms", 500),),
        ),
        # One connection per replica and 200 ms per statement: a second of connection time per
        # order, five users per replica queue past the 5 s acquire timeout.
        Drill(
            "pool-timeouts",
            "db_pool_max",
            1,
            ("ShopDbPoolAcquireTimeouts",),
            tolerated=DATABASE_STARVED,
            also=(("db_latency_ms", 200),),
        ),
        # A crowd at 4x the baseline rate (1.6x the probed capacity) for the middle third: the
        # gate sheds the excess and pages; every refusal is a 503, so the availability page (and
        # the checkout page, refused orders) may follow, and latency budget burns while the
        # admitted requests queue up to the gate's deadline.
        Drill(
            "spike",
            "",
            None,
            ("ShopAdmissionShedding",),
            tolerated=SLO_PAGES,
            crowd=Crowd("spike-open", "gameday-spike"),
        ),
    )
)


def drill(name: str) -> Drill:
    try:
        return DRILLS[name]
    except KeyError:
        raise SystemExit(f"unknown game day {name!r}; one of: {', '.join(DRILLS)}") from None

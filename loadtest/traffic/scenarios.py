"""Scenario names of `make loadtest SCENARIO=<name>`: which users run, on which profile, and
which incident switches (docs/operations.md) are flipped when."""

from __future__ import annotations

import random
from dataclasses import dataclass, replace

from loadtest.traffic.arrivals import ARRIVALS, Arrivals
from loadtest.traffic.profiles import PROFILES, Profile, Stage

MIX = ("CouponUser", "ChargeUser", "OrderUser", "BrowseUser")
NORMAL = None  # a flip back to whatever value the switch had when the run started


@dataclass(frozen=True, slots=True)
class Flip:
    seconds: float  # unscaled time into the run
    switch: str
    value: object  # NORMAL: the value the switch had before the run


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    profile: Profile
    users: tuple[str, ...]
    flips: tuple[Flip, ...] = ()
    # A fresh coupon of this many for the run (None: the seeded test-coupon-1).
    coupon_quantity: int | None = None
    # Open model: requests arrive on this schedule (its profile only keeps a pool of users).
    arrivals: Arrivals | None = None

    def schedule_start(self, scale: float = 1.0) -> float:
        """Seconds into the run the first arrival is due: once the profile's warm-up stages
        are over, the pool held from then on for the schedule's whole length."""
        if self.arrivals is None:
            return 0.0
        return max(0.0, self.profile.duration(scale) - self.arrivals.duration(scale))


def _incident(name: str, switch: str, bad: object) -> Scenario:
    """Order load with the switch on for the middle third of the run."""
    profile = PROFILES["order"]
    third = profile.duration() / 3
    flips = (Flip(third, switch, bad), Flip(2 * third, switch, NORMAL))
    return Scenario(name, profile, ("OrderUser",), flips)


# The original's three fixes, undone one at a time under one steady order load: each incident
# phase sits between two normal ones, so drift of a shared machine hits both sides alike. The
# database is put DB_DISTANCE_MS away per statement for the whole run: the I/O-bound regime
# the original measured in (its order p95 was 131 ms); on a 2-core box with the database beside
# the shop, CPU alone would bind first and neither the lock nor the pool would show.
DB_DISTANCE_MS = 10
PHASE = 30.0
RAMP = 10.0
BEFORE_AFTER_PHASES: tuple[tuple[str, str, object], ...] = (
    ("baseline", "", None),
    ("global order lock", "order_lock_scope", "global"),
    ("per-user order lock", "order_lock_scope", NORMAL),
    ("db_pool_max=10", "db_pool_max", 10),
    ("default pool", "db_pool_max", NORMAL),
    ("cart_index off", "cart_index", "off"),
    ("cart_index on", "cart_index", NORMAL),
)
BEFORE_AFTER = Scenario(
    "before-after",
    Profile(
        "before-after",
        (Stage(RAMP, 100), Stage(PHASE * len(BEFORE_AFTER_PHASES), 100), Stage(5, 0)),
    ),
    ("OrderUser",),
    (
        Flip(0, "db_latency_ms", DB_DISTANCE_MS),
        *(
            Flip(RAMP + i * PHASE, switch, value)
            for i, (_, switch, value) in enumerate(BEFORE_AFTER_PHASES)
            if switch
        ),
        Flip(RAMP + len(BEFORE_AFTER_PHASES) * PHASE, "db_latency_ms", NORMAL),
    ),
)

# Users per open-model run (all processes together): arrivals wait for a free one, so the pool
# bounds the concurrency the generator can offer (4x a capacity of 620/s for 0.4 s each; with
# 400, a charge step at 4x left arrivals waiting ~1 s for a free user, and thousands unsent).
OPEN_POOL = 1000
# Unscaled seconds to spawn the pool, then to let every user open its connection, before the
# first intended arrival (decision 0042): arrivals due while users were still spawning went
# out late and all at once, on connections opened in the same instant, and their tail (the
# kernel's dropped handshakes, retried after 1 s and 3 s) was counted as the shop's.
OPEN_RAMP = 2.0
OPEN_SETTLE = 2.0


def _open(name: str, users: tuple[str, ...], arrivals_name: str = "") -> Scenario:
    """An open-model scenario: a pool of users, spawned and connected, then held for the
    arrival profile's length (the schedule starts once the warm-up stages are over)."""
    arrivals = ARRIVALS[arrivals_name or name]
    held = Profile(
        name,
        (
            Stage(OPEN_RAMP, OPEN_POOL),
            Stage(OPEN_SETTLE, OPEN_POOL),
            Stage(arrivals.duration(), OPEN_POOL),
        ),
    )
    return Scenario(name, held, users, arrivals=arrivals, coupon_quantity=1_000_000)


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario("coupon", PROFILES["coupon"], ("CouponUser",), coupon_quantity=5_000),
        Scenario("charge", PROFILES["charge"], ("HotChargeUser", "ChargeUser")),
        Scenario("order", PROFILES["order"], ("OrderUser",)),
        Scenario("browse", PROFILES["browse"], ("BrowseUser",)),
        Scenario("spike", PROFILES["spike"], MIX),
        Scenario("soak", PROFILES["soak"], MIX),
        _incident("global-lock", "order_lock_scope", "global"),
        _incident("small-pool", "db_pool_max", 10),
        _incident("slow-db", "db_latency_ms", 50),
        _incident("no-cart-index", "cart_index", "off"),
        _incident("redis-down", "redis", "down"),
        _incident("slow-lock", "lock_hold_ms", 200),
        BEFORE_AFTER,
        _open("overload", ("OpenChargeUser",)),
        _open("spike-open", ("OpenChargeUser", "OpenCouponUser", "OpenOrderUser")),
        # One endpoint at a constant rate each (`make bench-overload`'s steps).
        _open("open-charge", ("OpenChargeUser",), "steady"),
        _open("open-coupon", ("OpenCouponUser",), "steady"),
        _open("open-order", ("OpenOrderUser",), "steady"),
    )
}


# What a drawn schedule may flip, and to what: each incident scenario's bad value.
DRAWABLE: tuple[tuple[str, object], ...] = (
    ("order_lock_scope", "global"),
    ("db_pool_max", 10),
    ("db_latency_ms", 50),
    ("cart_index", "off"),
    ("lock_hold_ms", 200),
)


def _value(text: str) -> object:
    if text == "normal":
        return NORMAL
    return int(text) if text.lstrip("-").isdigit() else text


def parse_schedule(text: str) -> tuple[Flip, ...]:
    """`"10:db_latency_ms=50,20:db_latency_ms=normal"` (unscaled seconds) as flips."""
    flips = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        try:
            when, _, assignment = item.partition(":")
            switch, _, value = assignment.partition("=")
            if not switch or not value:
                raise ValueError(item)
            flips.append(Flip(float(when), switch, _value(value)))
        except ValueError:
            raise SystemExit(f"bad flip {item!r}: want <seconds>:<switch>=<value|normal>") from None
    return tuple(sorted(flips, key=lambda f: f.seconds))


def format_schedule(flips: tuple[Flip, ...]) -> str:
    """The inverse of parse_schedule: what a run records and a replay reads."""
    return ",".join(
        f"{f.seconds:g}:{f.switch}={'normal' if f.value is NORMAL else f.value}" for f in flips
    )


def drawn_schedule(seed: int, duration: float, incidents: int = 1) -> tuple[Flip, ...]:
    """`incidents` switches, each on for a stretch of the run and then back, drawn from `seed`:
    the same seed and duration give the same schedule, so a run can be replayed."""
    rng = random.Random(seed)
    flips = []
    for _ in range(incidents):
        switch, bad = rng.choice(DRAWABLE)
        on = round(rng.uniform(0.1, 0.6) * duration, 1)
        off = round(on + rng.uniform(0.1, 0.3) * duration, 1)
        flips += [Flip(on, switch, bad), Flip(off, switch, NORMAL)]
    return tuple(sorted(flips, key=lambda f: f.seconds))


def with_schedule(chosen: Scenario, extra: tuple[Flip, ...]) -> Scenario:
    """The scenario with `extra` flips merged into its own, in time order."""
    if not extra:
        return chosen
    return replace(chosen, flips=tuple(sorted((*chosen.flips, *extra), key=lambda f: f.seconds)))


def scenario(name: str) -> Scenario:
    try:
        return SCENARIOS[name]
    except KeyError:
        raise SystemExit(f"unknown scenario {name!r}; one of: {', '.join(SCENARIOS)}") from None

"""Scenario names of `make loadtest SCENARIO=<name>`: which users run, on which profile, and
which incident switch (docs/operations.md) is flipped for the middle third of the run."""

from __future__ import annotations

from dataclasses import dataclass

from .profiles import PROFILES, Profile

MIX = ("CouponUser", "ChargeUser", "OrderUser", "BrowseUser")


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    profile: Profile
    users: tuple[str, ...]
    # (switch, incident value, normal value): flipped at 1/3 of the run, back at 2/3.
    switch: tuple[str, object, object] | None = None
    # A fresh coupon of this many for the run (None: the seeded test-coupon-1).
    coupon_quantity: int | None = None


def _incident(name: str, switch: str, bad: object, normal: object) -> Scenario:
    return Scenario(name, PROFILES["order"], ("OrderUser",), (switch, bad, normal))


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario("coupon", PROFILES["coupon"], ("CouponUser",), coupon_quantity=5_000),
        Scenario("charge", PROFILES["charge"], ("HotChargeUser", "ChargeUser")),
        Scenario("order", PROFILES["order"], ("OrderUser",)),
        Scenario("browse", PROFILES["browse"], ("BrowseUser",)),
        Scenario("spike", PROFILES["spike"], MIX),
        Scenario("soak", PROFILES["soak"], MIX),
        _incident("global-lock", "order_lock_scope", "global", "user"),
        _incident("small-pool", "db_pool_max", 10, None),
        _incident("slow-db", "db_latency_ms", 50, 0),
        _incident("no-cart-index", "cart_index", "off", "on"),
        _incident("redis-down", "redis", "down", "up"),
        _incident("slow-lock", "lock_hold_ms", 200, 0),
    )
}


def scenario(name: str) -> Scenario:
    try:
        return SCENARIOS[name]
    except KeyError:
        raise SystemExit(f"unknown scenario {name!r}; one of: {', '.join(SCENARIOS)}") from None

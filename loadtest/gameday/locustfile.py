"""Game-day traffic: `locust -f loadtest/gameday/locustfile.py --scenario order --gameday-users N`.

Everything of the load tests' locustfile (its options, the exporter at /metrics, rejections
by class, the Shop tab) is imported, not copied; only the shape differs: ramp to a steady user
count and hold it until the game day stops locust, because a drill lasts as long as its alerts
take, not as long as a profile. Each user is paced to one iteration a second: the load tests'
users send without think time, which drives the shop to saturation, where every latency alert
fires on the baseline; paced users offer a fixed rate, so a fault that cuts capacity below it
makes queues grow, as in the original. The switch is flipped by the game day, never by locust:
the game day passes a scenario without scheduled flips.
"""

from __future__ import annotations

from typing import Any

from locust import LoadTestShape, constant_pacing, events

import loadtest.traffic.locustfile as base
from loadtest.traffic.scenarios import OPEN_POOL, scenario

PACE_SECONDS = 1.0


def _paced(name: str) -> Any:
    return type(f"Paced{name}", (base.CLASSES[name],), {"wait_time": constant_pacing(PACE_SECONDS)})


PacedBrowseUser = _paced("BrowseUser")
PacedChargeUser = _paced("ChargeUser")
PacedCouponUser = _paced("CouponUser")
PacedHotChargeUser = _paced("HotChargeUser")
PacedOrderUser = _paced("OrderUser")
PACED = {
    c.__name__.removeprefix("Paced"): c
    for c in (PacedBrowseUser, PacedChargeUser, PacedCouponUser, PacedHotChargeUser, PacedOrderUser)
}
# The spike drill's crowd: open-model users, unpaced (their arrivals are the schedule).
OPEN = {n: base.CLASSES[n] for n in ("OpenChargeUser", "OpenCouponUser", "OpenOrderUser")}
OpenChargeUser = OPEN["OpenChargeUser"]
OpenCouponUser = OPEN["OpenCouponUser"]
OpenOrderUser = OPEN["OpenOrderUser"]
__all__ = [*(c.__name__ for c in PACED.values()), *OPEN, "SteadyShape"]


@events.init_command_line_parser.add_listener
def _options(parser: Any) -> None:
    parser.add_argument("--gameday-users", type=int, default=40, help="users held steady")
    parser.add_argument("--gameday-traffic", default="global-lock", help="whose users run")


class SteadyShape(LoadTestShape):
    """Ramp at 10 users/s to --gameday-users of the traffic scenario's classes, then hold; an
    open-model scenario's users (the crowd of the spike drill) are a pool its arrivals draw on,
    unpaced, spawned in a few seconds."""

    def tick(self) -> tuple[int, float, list[Any]] | None:
        options = base.shape_options(self)
        chosen = scenario(options.gameday_traffic)
        if chosen.arrivals is not None:
            return OPEN_POOL, 100.0, [OPEN[n] for n in chosen.users]
        return options.gameday_users, 10.0, [PACED[n] for n in chosen.users]

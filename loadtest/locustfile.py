"""The load tests' locustfile, where `make loadtest` and compose's load generator point locust:
`locust -f loadtest/locustfile.py --scenario order`. Users, shape and options live in
loadtest/traffic/locustfile.py; locust finds them here by these names."""

from loadtest.traffic.locustfile import (
    BrowseUser,
    ChargeUser,
    CouponUser,
    HotChargeUser,
    OpenChargeUser,
    OpenCouponUser,
    OpenOrderUser,
    OrderUser,
    ScenarioShape,
)

__all__ = [
    "BrowseUser",
    "ChargeUser",
    "CouponUser",
    "HotChargeUser",
    "OpenChargeUser",
    "OpenCouponUser",
    "OpenOrderUser",
    "OrderUser",
    "ScenarioShape",
]

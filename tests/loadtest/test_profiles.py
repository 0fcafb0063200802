"""Shapes: the original's profiles as stages, one time scale for all of them."""

from __future__ import annotations

import pytest

from loadtest.traffic import scenarios
from loadtest.traffic.profiles import PROFILES, Profile, Stage
from loadtest.traffic.scenarios import SCENARIOS


def test_ramp_is_linear_and_holds() -> None:
    p = Profile("t", (Stage(10, 50), Stage(20, 50), Stage(10, 0)))
    assert p.tick(0).users == 0
    assert p.tick(5).users == 25
    assert p.tick(5).spawn_rate == 5.0
    assert p.tick(15).users == 50
    assert p.tick(15).spawn_rate == 50.0  # a hold catches up at once if a ramp fell behind
    assert p.tick(35).users == 25
    assert p.tick(40) is None
    assert p.duration() == 40


def test_scale_shrinks_time_not_users() -> None:
    p = PROFILES["coupon"]
    assert p.duration(0.1) == pytest.approx(p.duration() / 10)
    for t in (0, 3, 12, 50, 100, 119):
        full = p.tick(t)
        small = p.tick(t * 0.05, 0.05)
        assert full is not None
        assert small is not None
        assert small.users == full.users
        if full.spawn_rate not in (1.0, full.users):  # a ramp: 20 times shorter and faster
            assert small.spawn_rate == pytest.approx(full.spawn_rate * 20)
    assert p.tick(p.duration(0.05), 0.05) is None
    with pytest.raises(ValueError, match="scale"):
        p.tick(1, 0)


def test_the_original_profiles() -> None:
    coupon = PROFILES["coupon"]
    assert coupon.tick(30 + 59).users == 50  # Load holds 50
    assert coupon.peak() == 200  # then Peak
    assert coupon.tick(110 + 29).users == 200
    charge = PROFILES["charge"]
    hot = charge.tick(30)
    assert hot is not None
    assert (hot.users, hot.classes) == (100, ("HotChargeUser",))
    later = [charge.tick(t) for t in (90, 130, 170)]
    assert [(t.users, t.classes) for t in later if t] == [
        (50, ("ChargeUser",)),
        (100, ("ChargeUser",)),
        (150, ("ChargeUser",)),
    ]
    order = PROFILES["order"]
    assert (order.tick(30).users, order.tick(89).users, order.duration()) == (50, 99, 120)


def test_spike_and_soak() -> None:
    spike = PROFILES["spike"]
    assert spike.tick(20).users == 30
    assert spike.tick(60).users == 200
    assert spike.tick(100).users == 30
    assert PROFILES["soak"].duration() >= 1800


def test_every_scenario_names_existing_user_classes() -> None:
    known = {"CouponUser", "ChargeUser", "HotChargeUser", "OrderUser", "BrowseUser"}
    known |= {"OpenChargeUser", "OpenCouponUser", "OpenOrderUser"}
    for s in SCENARIOS.values():
        assert set(s.users) <= known
        for stage in s.profile.stages:
            assert set(stage.classes or ()) <= known
    assert {"global-lock", "small-pool", "slow-db", "no-cart-index", "redis-down", "slow-lock"} <= (
        set(SCENARIOS)
    )


def test_schedules_parse_format_and_draw_reproducibly() -> None:
    text = "20:db_latency_ms=normal,10:db_latency_ms=50,15:order_lock_scope=global"
    flips = scenarios.parse_schedule(text)
    assert [f.seconds for f in flips] == [10, 15, 20]  # in time order
    assert flips[0].value == 50
    assert flips[2].value is scenarios.NORMAL
    assert scenarios.parse_schedule(scenarios.format_schedule(flips)) == flips
    assert scenarios.parse_schedule("") == ()
    with pytest.raises(SystemExit, match="bad flip"):
        scenarios.parse_schedule("soon:db_latency_ms=50")
    with pytest.raises(SystemExit, match="bad flip"):
        scenarios.parse_schedule("10:db_latency_ms")
    drawn = scenarios.drawn_schedule(7, 120)
    assert drawn == scenarios.drawn_schedule(7, 120)
    assert drawn != scenarios.drawn_schedule(8, 120) or drawn != scenarios.drawn_schedule(9, 120)
    on, off = drawn
    assert on.switch == off.switch
    assert (on.switch, on.value) in scenarios.DRAWABLE
    assert off.value is scenarios.NORMAL
    assert 0 < on.seconds < off.seconds < 120
    merged = scenarios.with_schedule(scenarios.scenario("global-lock"), drawn)
    assert len(merged.flips) == 4
    assert [f.seconds for f in merged.flips] == sorted(f.seconds for f in merged.flips)

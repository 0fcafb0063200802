"""Arrival-rate profiles: how many arrivals, when, and each process's share."""

from __future__ import annotations

import itertools

import pytest

from loadtest.traffic.arrivals import ARRIVALS, Arrivals, RateStage, share
from loadtest.traffic.scenarios import OPEN_POOL, OPEN_SETTLE, scenario


def test_a_constant_rate_spaces_arrivals_evenly() -> None:
    steady = Arrivals("steady", (RateStage(10, 1),))
    times = list(steady.schedule(capacity=50))
    assert len(times) == 500
    assert times[1] - times[0] == pytest.approx(0.02)


def test_a_ramp_doubles_the_count_of_its_constant_start() -> None:
    ramp = Arrivals("ramp", (RateStage(10, 3),))  # 1x -> 3x: a mean of 2x
    assert len(list(ramp.schedule(capacity=100))) == pytest.approx(2000, rel=0.01)


def test_overload_steps_to_four_times_the_capacity_and_back() -> None:
    overload = ARRIVALS["overload"]
    assert overload.rate_at(10) == 1
    assert overload.rate_at(30) == 4
    assert overload.rate_at(70) == 1
    assert overload.rate_at(81) is None
    times = list(overload.schedule(capacity=10, scale=0.5))
    during = [t for t in times if 10 <= t < 30]
    assert len(during) == pytest.approx(800, rel=0.01)


def test_processes_share_the_schedule_without_overlap() -> None:
    times = list(ARRIVALS["spike-open"].schedule(capacity=20, scale=0.1))
    parts = [list(share(iter(times), i, 3)) for i in range(3)]
    assert sorted(itertools.chain(*parts)) == times


@pytest.mark.parametrize("name", ["overload", "spike-open", "open-charge"])
@pytest.mark.parametrize("scale", [0.1, 0.5, 1.0])
def test_the_first_arrival_waits_for_the_whole_pool_and_a_settle(name: str, scale: float) -> None:
    """No arrival is due while users are still spawning (they would go out late and all at
    once, on connections opened in the same instant), and the pool is held to the end."""
    chosen = scenario(name)
    assert chosen.arrivals is not None
    start = chosen.schedule_start(scale)
    spawned = next(
        t / 100
        for t in range(0, 10_000)
        if chosen.profile.tick(t / 100, scale).users == OPEN_POOL  # type: ignore[union-attr]
    )
    assert start >= spawned + OPEN_SETTLE * scale
    end = start + chosen.arrivals.duration(scale)
    assert end == pytest.approx(chosen.profile.duration(scale))
    assert chosen.profile.tick(end - 0.01, scale).users == OPEN_POOL  # type: ignore[union-attr]

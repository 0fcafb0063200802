"""Arrival-rate profiles: how many arrivals, when, and each process's share."""

from __future__ import annotations

import itertools

import pytest

from loadtest.traffic.arrivals import ARRIVALS, Arrivals, RateStage, share


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

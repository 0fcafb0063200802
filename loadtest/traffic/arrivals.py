"""Open-model load: arrival-rate profiles and the intended start time of every arrival.

A closed-model user waits for its answer before sending again, so a slow shop slows its own
load and the latency it records leaves out the time requests would have waited (coordinated
omission). Here requests arrive on a schedule whatever the shop does: rates are given in
multiples of a capacity (`--capacity` arrivals/s), stages ramp linearly like k6's
ramping-arrival-rate, and every arrival has an intended start time from which its latency is
measured. Free of locust, so the arithmetic is tested directly.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

# An arrival whose user could not start it within this long of its intended time is not sent
# (k6's dropped iterations): it is counted as not started, the generator's own shortfall.
LATE_AFTER = 1.0


@dataclass(frozen=True, slots=True)
class RateStage:
    seconds: float  # unscaled length of the stage
    rate: float  # arrivals/s at the end, in multiples of the capacity (linear from the last)


@dataclass(frozen=True, slots=True)
class Arrivals:
    name: str
    stages: tuple[RateStage, ...]
    start: float = 1.0  # the rate before the first stage, in multiples of the capacity

    def duration(self, scale: float = 1.0) -> float:
        """Seconds the profile lasts at this time scale."""
        return sum(s.seconds for s in self.stages) * scale

    def peak(self) -> float:
        """The highest rate, in multiples of the capacity."""
        return max(self.start, *(s.rate for s in self.stages))

    def rate_at(self, t: float, scale: float = 1.0) -> float | None:
        """The rate (multiples of the capacity) `t` s into the run; None once it is over."""
        begun, rate = 0.0, self.start
        for stage in self.stages:
            length = stage.seconds * scale
            if t < begun + length:
                return rate + (stage.rate - rate) * (t - begun) / length
            begun, rate = begun + length, stage.rate
        return None

    def schedule(self, capacity: float, scale: float = 1.0) -> Iterator[float]:
        """Intended start times (seconds into the run) of every arrival, evenly spaced."""
        t = 0.0
        while True:
            rate = self.rate_at(t, scale)
            if rate is None:
                return
            per_second = rate * capacity
            if per_second <= 0:
                t += 0.01
                continue
            yield t
            t = round(t + 1.0 / per_second, 9)  # no float drift past a stage end


def share(times: Iterator[float], index: int, count: int) -> Iterator[float]:
    """Every `count`-th arrival from the `index`-th: one load-generator process's part."""
    for i, t in enumerate(times):
        if i % count == index:
            yield t


def step_up(name: str, third: float, multiple: float, tail: float = 0.0) -> Arrivals:
    """The capacity for a third, `multiple` times it for the next (flipped, not ramped), the
    capacity again for the last third and `tail` seconds more."""
    step = 0.01
    return Arrivals(
        name,
        (
            RateStage(third, 1),
            RateStage(step, multiple),
            RateStage(third - step, multiple),
            RateStage(step, 1),
            RateStage(third - step + tail, 1),
        ),
    )


# Capacity multiples: `overload` steps to 4x and back; `spike-open` ramps to 4x in 5 s for the
# middle third, then back to the baseline (the `spike` game day's shape in the open model);
# `steady` holds 1x (`--capacity` is then the offered rate: the overload benchmark's steps);
# `gameday-spike` is the `spike` game day's (loadtest/gameday/crowd.py): 45 s thirds, 4x in the
# middle, and the baseline held on until the game day stops locust (its alerts clear meanwhile).
ARRIVALS: dict[str, Arrivals] = {
    a.name: a
    for a in (
        Arrivals(
            "overload",
            (
                RateStage(20, 1),
                RateStage(0.01, 4),
                RateStage(40, 4),
                RateStage(0.01, 1),
                RateStage(20, 1),
            ),
        ),
        Arrivals(
            "spike-open",
            (
                RateStage(30, 1),
                RateStage(5, 4),
                RateStage(25, 4),
                RateStage(5, 1),
                RateStage(25, 1),
            ),
        ),
        Arrivals("steady", (RateStage(20, 1),)),
        step_up("gameday-spike", 45, 4, tail=600),
    )
}

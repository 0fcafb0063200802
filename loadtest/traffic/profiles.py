"""Load profiles: the original's k6 stages, plus Spike and Soak, as data.

A profile is a list of k6-style stages (ramp linearly to `users` over `seconds`), optionally
naming the user classes that run in that stage. One time-scale factor stretches or shrinks
every stage alike, so a 20-second smoke (`SCALE=0.1`) and the full run use the same definition.
`loadtest/traffic/locustfile.py` turns a profile into locust's `LoadTestShape`; this module stays
free of locust (and gevent) so that tests can check the arithmetic directly.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Stage:
    seconds: float  # unscaled length of the stage
    users: int  # user count at the end of the stage (ramped to linearly from the previous one)
    classes: tuple[str, ...] | None = None  # user classes running in this stage (None = all)


@dataclass(frozen=True, slots=True)
class Tick:
    users: int  # target user count now
    spawn_rate: float  # users per second to reach it
    classes: tuple[str, ...] | None


@dataclass(frozen=True, slots=True)
class Profile:
    name: str
    stages: tuple[Stage, ...]

    def duration(self, scale: float = 1.0) -> float:
        """Seconds the whole profile lasts at this scale."""
        return sum(stage.seconds for stage in self.stages) * scale

    def peak(self) -> int:
        return max(stage.users for stage in self.stages)

    def tick(self, elapsed: float, scale: float = 1.0) -> Tick | None:
        """What should run `elapsed` seconds into the run; None once the profile is over.

        Locust ramps at `spawn_rate` towards `users`, so each call asks for the user count the
        ramp should have reached by now (not the stage's end value): a stage ramps smoothly even
        when the scale makes it shorter than a second.
        """
        if scale <= 0:
            raise ValueError("scale must be positive")
        start_users = 0
        started = 0.0
        for stage in self.stages:
            length = stage.seconds * scale
            if elapsed < started + length:
                done = (elapsed - started) / length if length else 1.0
                now = round(start_users + (stage.users - start_users) * done)
                rate = abs(stage.users - start_users) / length if length else 0.0
                if rate == 0:
                    # A hold: catch up within a second when a short ramp (a small scale, the
                    # one-second tick) left locust behind; never 0, locust needs a rate.
                    rate = float(stage.users)
                return Tick(users=now, spawn_rate=max(rate, 1.0), classes=stage.classes)
            started += length
            start_users = stage.users
        return None


HOT = ("HotChargeUser",)
SPREAD = ("ChargeUser",)

# The original's profiles (shared/design: loadtest-and-incidents.md), seconds as k6 ran them.
PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        # Load: 30 s -> 50 VUs, hold 1 m, ramp down; then Peak: 10 s -> 200 VUs, hold 30 s.
        Profile(
            "coupon",
            (
                Stage(30, 50),
                Stage(60, 50),
                Stage(10, 0),
                Stage(10, 200),
                Stage(30, 200),
                Stage(10, 0),
            ),
        ),
        # 100 VUs on 10 hot users for 1 m; then 50 -> 100 -> 150 VUs on spread users.
        Profile(
            "charge",
            (
                Stage(5, 100, HOT),
                Stage(55, 100, HOT),
                Stage(10, 50, SPREAD),
                Stage(30, 50, SPREAD),
                Stage(10, 100, SPREAD),
                Stage(30, 100, SPREAD),
                Stage(10, 150, SPREAD),
                Stage(30, 150, SPREAD),
                Stage(10, 0, SPREAD),
            ),
        ),
        # 30 s -> 50, 1 m -> 100, 30 s -> 0, no think time.
        Profile("order", (Stage(30, 50), Stage(60, 100), Stage(30, 0))),
        Profile("browse", (Stage(20, 50), Stage(80, 50), Stage(10, 0))),
        # A quiet baseline, a burst to 4x in 5 s, held, then back to the baseline.
        Profile(
            "spike",
            (
                Stage(10, 30),
                Stage(30, 30),
                Stage(5, 200),
                Stage(30, 200),
                Stage(5, 30),
                Stage(40, 30),
                Stage(5, 0),
            ),
        ),
        # Moderate load held for half an hour: leaks, pool creep and lag drift show here.
        Profile("soak", (Stage(60, 60), Stage(1800, 60), Stage(30, 0))),
    )
}

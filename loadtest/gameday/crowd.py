"""The `spike` game day's crowd: the open model's arrival rate at 4x its baseline for the middle
third of the drill, the baseline rate taken from a capacity probe, and recovery measured per
second from the drill's own request log.

Nothing is flipped: the crowd itself is the incident. The schedule (`gameday-spike` in
loadtest/traffic/arrivals.py) starts at a wall-clock time the game day gives locust
(`--arrivals-at`), so the game day knows when the crowd arrives and leaves without a word from
locust.

Recovery is held to the baseline band: for each whole second of intended arrival times, the p99
of the admitted answers (`@intended`, from each arrival's intended start) and the share refused
(`@shed`, 503 OVERLOADED). The band is the baseline's own per-second figures at their
BAND_QUANTILE (a shared machine has slow seconds on any baseline; the band must hold them), the
refusal share never under the shedding alert's 1 %. The shop has recovered at the first second
after the crowd leaves from which HOLD_S seconds in a row are all within the band.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from loadtest.slo import gate, requests
from loadtest.traffic.arrivals import ARRIVALS
from loadtest.traffic.run import headless

INTENDED = gate.INTENDED
SHED = "@shed"  # open_users.SHED: that module imports locust, which patches this process

PROFILE = ARRIVALS["gameday-spike"]
THIRD_S = PROFILE.stages[0].seconds  # each third of the drill: baseline, crowd, after
MULTIPLE = PROFILE.peak()  # the crowd, in multiples of the baseline rate
# The baseline rate as a share of the probed capacity: comfortably under it (a shared machine's
# capacity moves by a third between minutes), while 4x of it is 1.6x the capacity, far enough
# past it that the gate must refuse more than the alert's 1 %.
BASELINE_SHARE = 0.4
LEAD_S = 20.0  # from locust's launch to the first arrival: its start-up on a busy machine
RAMP_S = 10.0  # of the baseline third left out of the baseline (connections, the gate's limit)
HOLD_S = 5  # seconds in a row within the band that make a recovery
RECOVERY_BOUND_S = 10.0  # the drill fails when the shop takes longer than this
BAND_QUANTILE = 95
REFUSAL_FLOOR = 0.01  # ShopAdmissionShedding's threshold
# The probe: the same mix of arrivals far past what two replicas here serve (the spike-open
# scenario at this rate and a tenth of its length, 9 s, two locust workers); the answers per
# second it got are the capacity.
PROBE_RATE = 400.0
PROBE_SCALE = 0.1
PROBE_SCENARIO = "spike-open"


@dataclass(frozen=True, slots=True)
class Timing:
    """Wall-clock times of the drill's schedule."""

    epoch: float  # the first arrival
    third: float = THIRD_S

    @property
    def quiet_from(self) -> float:
        return self.epoch + RAMP_S

    @property
    def arrives(self) -> float:
        return self.epoch + self.third

    @property
    def leaves(self) -> float:
        return self.epoch + 2 * self.third


@dataclass(frozen=True, slots=True)
class Second:
    at: float  # seconds from the crowd leaving (negative: before)
    arrivals: int
    p99_ms: float  # of admitted answers (NaN: none)
    refused: float  # share of the second's arrivals refused 503 OVERLOADED


@dataclass(frozen=True, slots=True)
class Band:
    p99_ms: float
    refused: float

    def holds(self, second: Second) -> bool:
        # A second without admitted answers is not a recovered one.
        return (
            second.arrivals > 0
            and not math.isnan(second.p99_ms)
            and second.p99_ms <= self.p99_ms
            and second.refused <= self.refused
        )


def seconds(rows: list[requests.Request], origin: float) -> list[Second]:
    """The open model's arrivals by whole second of intended start, from `origin`."""
    kinds = []
    for r in rows:
        if r.name.endswith(f" {SHED}"):
            kinds.append(replace(r, name=SHED))
        elif r.name.endswith(f" {INTENDED}") and r.ok:
            kinds.append(replace(r, name=INTENDED))
    if not kinds:
        return []
    kinds.sort(key=lambda r: r.t)
    start = math.floor(min(r.t for r in kinds) - origin) + origin
    figures = requests.per_second(kinds, start)
    total = figures[requests.TOTAL]
    admitted, shed = figures.get(INTENDED), figures.get(SHED)
    out = []
    for i, count in enumerate(total.count):
        refused = float(shed.count[i]) if shed is not None else 0.0
        p99 = float(admitted.p99[i]) if admitted is not None else float("nan")
        out.append(Second(start - origin + i, int(count), p99, refused / count if count else 0.0))
    return out


def band(figures: list[Second], start: float, end: float) -> Band | None:
    """The baseline band of the seconds in [start, end)."""
    base = [s for s in figures if start <= s.at < end and s.arrivals]
    p99s = [s.p99_ms for s in base if not math.isnan(s.p99_ms)]
    if not p99s:
        return None
    refused = float(np.percentile([s.refused for s in base], BAND_QUANTILE))
    return Band(float(np.percentile(p99s, BAND_QUANTILE)), max(refused, REFUSAL_FLOOR))


def time_to_recover(figures: list[Second], within: Band, hold: int = HOLD_S) -> float | None:
    """Seconds from the crowd leaving (at 0) to the first second from which `hold` seconds in
    a row are within the band; None if that never happened."""
    after = [s for s in figures if s.at >= 0]  # every second, empty ones included
    for i in range(len(after) - hold + 1):
        if all(within.holds(s) for s in after[i : i + hold]):
            return after[i].at
    return None


def recovery(log_dir: Path, timing: Timing) -> dict[str, Any]:
    """The drill's recovery figures from its request log (`<log_dir>/requests/`)."""
    figures = seconds(requests.read(log_dir), timing.leaves)
    base_from, base_to = timing.quiet_from - timing.leaves, timing.arrives - timing.leaves
    within = band(figures, base_from, base_to)
    ttr = time_to_recover(figures, within) if within is not None else None
    return {
        "band": None if within is None else {"p99_ms": within.p99_ms, "refused": within.refused},
        "ttr": ttr,
        "bound_s": RECOVERY_BOUND_S,
        "hold_s": HOLD_S,
        "seconds": [
            {
                "at": s.at,
                "arrivals": s.arrivals,
                "p99_ms": None if math.isnan(s.p99_ms) else round(s.p99_ms, 1),
                "refused": round(s.refused, 4),
            }
            for s in figures
            if base_from <= s.at < timing.third
        ],
    }


def probe(shops: list[str], db_url: str, seed_users: int, run_dir: Path) -> dict[str, float]:
    """The answers per second of the replicas under a crowd far past them (`make loadtest`'s
    driver, its own Prometheus off): what the baseline rate is a share of."""
    out = run_dir / "probe"
    done = headless(
        PROBE_SCENARIO,
        shop_urls=shops,
        db_url=db_url,
        seed_users=seed_users,
        run_dir=out,
        scale=PROBE_SCALE,
        extra=["--capacity", str(PROBE_RATE), "--workers", "2"],
    )
    (run_dir / "probe.log").write_text(done.stdout + done.stderr)
    stats = gate.read_stats(out / "locust_stats.csv")
    answered = sum(
        float(row.get("Request Count", 0) or 0) - float(row.get("Failure Count", 0) or 0)
        for name, row in stats.items()
        if name.endswith(f" {INTENDED}")
    )
    shed = sum(
        float(row.get("Request Count", 0) or 0)
        for name, row in stats.items()
        if name.endswith(f" {SHED}")
    )
    seconds_run = ARRIVALS[PROBE_SCENARIO].duration(PROBE_SCALE)
    capacity = answered / seconds_run
    return {
        "capacity": capacity,
        "shed_per_s": shed / seconds_run,
        "probe_rate": PROBE_RATE,
        "seconds": seconds_run,
        "rate": round(BASELINE_SHARE * capacity, 1),
    }


def describe(record: dict[str, Any]) -> str:
    """One line of what the crowd was, for the report."""
    crowd = record.get("crowd") or {}
    return (
        f"{crowd.get('rate', 0):g} arrivals/s ({BASELINE_SHARE:.0%} of the probed capacity,"
        f" {crowd.get('capacity', 0):.0f} answers/s), {MULTIPLE:g}x for the middle third"
        f" ({THIRD_S:g} s of {3 * THIRD_S:g} s)"
    )

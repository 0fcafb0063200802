"""The spike game day's crowd: its schedule (4x for the middle third, flipped, the baseline held
after) and its recovery measure (per second of intended arrivals, against the baseline band)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from loadtest.gameday import crowd
from loadtest.slo.requests import Request
from loadtest.traffic.arrivals import ARRIVALS, step_up

EPOCH = 1_800_000_000.0


def test_the_crowd_is_four_times_the_baseline_for_the_middle_third() -> None:
    spike = ARRIVALS["gameday-spike"]
    third = crowd.THIRD_S
    assert spike.rate_at(third - 0.5) == 1
    assert spike.rate_at(third + 0.5) == 4
    assert spike.rate_at(2 * third - 0.5) == 4
    assert spike.rate_at(2 * third + 0.5) == 1
    times = list(spike.schedule(capacity=10))
    count = [sum(1 for t in times if k * third <= t < (k + 1) * third) for k in range(3)]
    assert count[1] == pytest.approx(4 * count[0], rel=0.01)
    assert count[2] == pytest.approx(count[0], rel=0.01)


def test_the_rate_flips_rather_than_ramps() -> None:
    step = step_up("step", 10, 4)
    assert step.rate_at(10.02) == 4
    assert step.rate_at(20.02) == 1


def test_the_baseline_holds_after_the_thirds_until_the_drill_stops() -> None:
    spike = ARRIVALS["gameday-spike"]
    assert spike.rate_at(3 * crowd.THIRD_S + 300) == 1


def test_the_timing_counts_thirds_from_the_first_arrival() -> None:
    timing = crowd.Timing(EPOCH, third=45)
    assert (timing.arrives, timing.leaves) == (EPOCH + 45, EPOCH + 90)
    assert timing.quiet_from == EPOCH + crowd.RAMP_S


def _arrivals(second: float, count: int, ms: float, shed: int = 0) -> list[Request]:
    """`count` answered arrivals of `ms` each and `shed` refused ones within one second."""
    rows = [
        Request(second + i / (count + shed), "POST /api/orders @intended", ms, True, "", False)
        for i in range(count)
    ]
    rows += [
        Request(second + (count + i) / (count + shed), "POST /api/orders @shed", 5, True, "", False)
        for i in range(shed)
    ]
    return rows


def _drill(slow_after: int) -> list[Request]:
    """A baseline at 50 ms, a crowd half refused at 900 ms, and `slow_after` seconds past its
    leaving still at 900 ms before the baseline is back."""
    rows: list[Request] = []
    for s in range(-30, 25):
        t = EPOCH + s
        if s < -10:
            rows += _arrivals(t, 20, 50)
        elif s < slow_after:
            rows += _arrivals(t, 40, 900, shed=40 if s < 0 else 0)
        else:
            rows += _arrivals(t, 20, 50)
    return rows


def test_seconds_split_admitted_answers_from_refusals() -> None:
    rows = _arrivals(EPOCH, 30, 100, shed=10)
    rows.append(Request(EPOCH + 0.5, "POST /api/orders @intended", 5000, False, "", False))
    rows.append(Request(EPOCH + 0.5, "POST /api/orders", 7000, True, "", False))
    (second,) = crowd.seconds(rows, EPOCH)
    assert second.at == 0
    assert second.arrivals == 40  # failures and locust's own rows are not arrivals here
    assert second.refused == pytest.approx(0.25)
    assert second.p99_ms == pytest.approx(100)


def test_the_band_is_the_baselines_own_with_the_alerts_refusal_floor() -> None:
    figures = crowd.seconds(_drill(0), EPOCH)
    band = crowd.band(figures, -30, -10)
    assert band == crowd.Band(p99_ms=50, refused=crowd.REFUSAL_FLOOR)


@pytest.mark.parametrize("slow_after", [0, 3, 8])
def test_recovery_is_the_first_second_of_a_run_within_the_band(slow_after: int) -> None:
    figures = crowd.seconds(_drill(slow_after), EPOCH)
    band = crowd.band(figures, -30, -10)
    assert band is not None
    assert crowd.time_to_recover(figures, band) == slow_after


def test_a_shop_back_for_less_than_the_hold_has_not_recovered() -> None:
    rows = _drill(0)
    slow_again = EPOCH + 3  # three good seconds, then one slow
    rows = [r for r in rows if not slow_again <= r.t < slow_again + 1]
    rows += _arrivals(slow_again, 20, 900)
    figures = crowd.seconds(rows, EPOCH)
    band = crowd.band(figures, -30, -10)
    assert band is not None
    assert crowd.time_to_recover(figures, band, hold=5) == 4
    assert crowd.time_to_recover(figures, band, hold=3) == 0
    assert crowd.HOLD_S > 3  # the drill's hold: more than three good seconds


def test_a_second_without_admitted_answers_is_not_recovered() -> None:
    rows = [r for r in _drill(0) if not EPOCH <= r.t < EPOCH + 1]
    figures = crowd.seconds(rows, EPOCH)
    band = crowd.band(figures, -30, -10)
    assert band is not None
    assert crowd.time_to_recover(figures, band) == 1


def test_a_shop_that_never_comes_back_has_no_time_to_recover() -> None:
    figures = crowd.seconds(_drill(60), EPOCH)
    band = crowd.band(figures, -30, -10)
    assert band is not None
    assert crowd.time_to_recover(figures, band) is None


def test_recovery_reads_the_request_log(tmp_path: Path) -> None:
    (tmp_path / "requests").mkdir()
    with (tmp_path / "requests" / "1.csv").open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(("t", "name", "ms", "ok", "trace_id", "sampled"))
        for r in _drill(4):
            out.writerow((f"{r.t:.3f}", r.name, r.ms, 1 if r.ok else 0, "", 0))
    # Thirds of 20 s: the baseline band from -30 s (after the ramp) to -20 s, the crowd leaving
    # at EPOCH.
    found = crowd.recovery(tmp_path, crowd.Timing(EPOCH - 40, third=20))
    assert found["ttr"] == 4
    assert found["band"] == {"p99_ms": 50, "refused": crowd.REFUSAL_FLOOR}

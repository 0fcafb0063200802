"""The game-day history: a line per run, the TTD bound `make gameday-ci` fails on, the trend."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from loadtest.gameday import history
from loadtest.gameday.history import Bound

KNOWN = {"default": Bound(2.0, 10.0), "slow-db": Bound(1.5, 5.0)}


def run(scenario: str, ttd: float | None, verdict: str = "passed", scale: str = "1/10") -> Any:
    return {"scenario": scenario, "scale": scale, "ttd": ttd, "verdict": verdict}


def record(**overrides: Any) -> dict[str, Any]:
    return {
        "scenario": "global-lock",
        "expected": ["ShopLockWaitersPiling", "ShopLockTimeouts"],
        "load_average_start": (5.5, 6.0, 7.0),
        "load_average_end": (2.0, 3.0, 4.0),
        "cores": 2,
        "started": 1_780_000_000.0,
        "scale": "1/10",
        "rules": "lab (windows x1/10)",
        "users": 30,
        "ttd": {"ShopLockTimeouts": 14.0, "ShopLockWaitersPiling": 10.0, "ShopLatency": 4.0},
        "ttn": {"ShopLockWaitersPiling": 19.7},
        "ttr": 40.7,
        "failures": [],
        **overrides,
    }


def test_a_line_holds_the_first_expected_detection_the_commit_and_the_machine() -> None:
    line = history.entry(record(), "abc123")
    assert line["ttd"] == 10.0  # the first expected alert; an unexpected earlier one is not it
    assert line["ttn"] == 19.7
    assert line["ttr"] == 40.7
    assert line["commit"] == "abc123"
    assert line["date"] == "2026-05-28T20:26:40Z"
    assert line["machine"]["cores"] == 2
    assert line["machine"]["load_average"] == [5.5, 2.0]
    assert line["machine"]["shared"] is True
    assert line["verdict"] == "passed"
    assert history.entry(record(failures=["x"], ttd={}), "abc")["ttd"] is None
    assert history.entry(record(failures=["x"]), "abc")["verdict"] == "failed"


def test_lines_are_appended_and_read_back(tmp_path: Path) -> None:
    path = tmp_path / "history.jsonl"
    history.append(history.entry(record(), "one"), path)
    history.append(history.entry(record(), "two"), path)
    assert [h["commit"] for h in history.read(path)] == ["one", "two"]
    assert history.read(tmp_path / "none.jsonl") == []


def test_no_earlier_run_no_bound() -> None:
    assert history.regression([], run("global-lock", 500.0), KNOWN) is None


def test_within_the_bound_passes_and_past_it_fails() -> None:
    earlier = [run("global-lock", t) for t in (10.0, 12.0, 30.0)]  # median 12: bound 34 s
    assert history.limit(earlier, run("global-lock", 0), KNOWN) == 34.0
    assert history.regression(earlier, run("global-lock", 34.0), KNOWN) is None
    found = history.regression(earlier, run("global-lock", 34.5), KNOWN)
    assert found is not None
    assert "34.5 s > 34.0 s" in found
    assert "median 12.0 s of 3" in found


def test_only_passing_runs_of_the_scenario_at_its_scale_count() -> None:
    earlier = [
        run("global-lock", 10.0),
        run("global-lock", 100.0, verdict="failed"),
        run("global-lock", 90.0, scale="1"),
        run("slow-db", 200.0),
        run("global-lock", None),
    ]
    assert history.limit(earlier, run("global-lock", 0), KNOWN) == 30.0


def test_a_scenario_bound_overrides_the_default() -> None:
    assert history.limit([run("slow-db", 30.0)], run("slow-db", 0), KNOWN) == 50.0


def test_the_median_follows_the_recent_runs() -> None:
    earlier = [run("global-lock", 100.0)] * 20 + [run("global-lock", 10.0)] * history.RECENT
    assert history.limit(earlier, run("global-lock", 0), KNOWN) == 30.0


def test_trend_oldest_first_with_failures_marked() -> None:
    runs = [run("global-lock", 10.2), run("global-lock", None, "failed"), run("slow-db", 3.0)]
    assert history.trend(runs, "global-lock", "1/10") == "10 → –✗ s"
    assert history.trend(runs, "redis-down", "1/10") == "–"


def test_the_committed_bounds_parse_with_a_default() -> None:
    known = history.bounds()
    assert known["default"].ratio >= 1.5
    assert known["default"].slack_s > 0


@pytest.mark.parametrize("scenario", sorted({h["scenario"] for h in history.read()}))
def test_the_committed_bound_tolerates_this_machines_noise(scenario: str) -> None:
    """Every committed passing run is within the bound the scenario's other runs give."""
    runs = [h for h in history.read() if h["scenario"] == scenario]
    known = history.bounds()
    for n, line in enumerate(runs):
        if line["verdict"] == "passed" and line["ttd"] is not None:
            others = runs[:n] + runs[n + 1 :]
            assert history.regression(others, line, known) is None, line

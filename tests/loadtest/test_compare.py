"""`make loadtest-compare` on recorded runs (tests/loadtest/data/compare/: three order runs at
scale 0.25 against one shop on this 2-core machine, the third with every statement made 40 ms
slower by the `db_latency_ms` switch): it says "slower" of the planted slowdown, "no
difference" of two runs of one build, and its exit code follows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from loadtest.__main__ import main as loadtest
from loadtest.slo import compare
from loadtest.slo.requests import TOTAL

RUNS = Path(__file__).parent / "data" / "compare"
SAME_1, SAME_2, SLOW = RUNS / "same-1", RUNS / "same-2", RUNS / "slow"
ORDERS = "/api/orders"


def _verdicts(a: Path, b: Path) -> dict[tuple[str, str], str]:
    return {(o.figure.name, o.figure.figure): o.verdict for o in compare.compare(a, b)}


def test_a_planted_slowdown_is_slower() -> None:
    verdicts = _verdicts(SAME_1, SLOW)
    for figure in ("p50", "p95", "p99", "requests/s"):
        assert verdicts[(ORDERS, figure)] == "slower", figure
    assert verdicts[(TOTAL, "requests/s")] == "slower"


@pytest.mark.parametrize(("a", "b"), [(SAME_1, SAME_2), (SAME_2, SAME_1)])
def test_two_runs_of_one_build_show_no_difference(a: Path, b: Path) -> None:
    verdicts = _verdicts(a, b)
    assert set(verdicts.values()) == {"no difference"}, verdicts


def test_the_slowdown_undone_is_faster() -> None:
    verdicts = _verdicts(SLOW, SAME_2)
    assert verdicts[(ORDERS, "p95")] == "faster"


def test_exit_code_and_report(tmp_path: Path) -> None:
    same, slow = tmp_path / "same", tmp_path / "slow"
    assert loadtest(["compare", str(SAME_1), str(SAME_2), "--out", str(same)]) == 0
    assert loadtest(["compare", str(SAME_1), str(SLOW), "--out", str(slow)]) == 1
    text = (slow / "README.md").read_text()
    assert "**slower**" in text
    assert "Regression" in text
    assert "commit `281b72fa24ee`" in text  # each run's provenance
    assert (slow / "compare.png").read_bytes().startswith(b"\x89PNG")
    page = (slow / "README.html").read_text()
    assert "data:image/png;base64," in page  # self-contained
    assert "<table>" in page
    # A regression smaller than the threshold is reported, not failed.
    assert (
        loadtest(["compare", str(SAME_1), str(SLOW), "--out", str(slow), "--threshold", "99"]) == 0
    )


def test_figures_need_samples() -> None:
    few = compare.Figure("x", "p95", "ms", True, np.array([1.0, 2.0]), np.array([9.0, 9.5]))
    assert compare.judge(few, 0.99, 0.1).verdict == "too few samples"


def test_significance_alone_is_not_a_difference() -> None:
    """A consistent 2 % shift over many samples is significant but below the effect floor."""
    a = np.linspace(100, 110, 400)
    both = compare.Figure("x", "p95", "ms", True, a, a * 1.02)
    outcome = compare.judge(both, 0.99, 0.10)
    assert outcome.verdict == "no difference"
    assert compare.judge(both, 0.99, 0.01).verdict == "slower"


def test_runs_without_request_logs_are_refused(tmp_path: Path) -> None:
    assert loadtest(["compare", str(tmp_path), str(SAME_1)]) == 2


def test_a_rate_regresses_by_its_ratio() -> None:
    """Half the throughput is "twice as slow": beyond a threshold of 0.9, not of 1.1."""
    a = np.linspace(100, 110, 50)
    rates = compare.judge(compare.Figure("x", "requests/s", "/s", False, a, a / 2), 0.99, 0.1)
    assert rates.verdict == "slower"
    assert rates.beyond(0.9)
    assert not rates.beyond(1.1)
    times = compare.judge(compare.Figure("x", "p95", "ms", True, a, a * 2), 0.99, 0.1)
    assert times.beyond(0.9)
    assert not times.beyond(1.1)

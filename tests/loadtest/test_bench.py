"""Every benchmark `make bench` and `make bench-soak` run is importable and takes its options
through the one entry point (running them is `make bench`'s job, not the suite's)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from loadtest import ROOT
from loadtest.bench import MODULES


@pytest.mark.parametrize("name", sorted(MODULES))
def test_benchmark_answers_help(name: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "loadtest", "bench", name, "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "usage:" in done.stdout


def test_the_floor_server_imports() -> None:
    """The bare HTTP floor is started as `python -m loadtest.bench.floor` by the ceiling bench."""
    done = subprocess.run(
        [sys.executable, "-c", "import loadtest.bench.floor"], cwd=ROOT, capture_output=True
    )
    assert done.returncode == 0, done.stderr


def test_the_overload_report_judges_each_target(tmp_path: Path) -> None:
    """The report of `make bench-overload` from a results file: table, chart and verdicts."""
    from loadtest.bench import overload

    def step(multiple: float, mode: str, goodput: float, p99: float, shed_p99: float | None):
        return {
            "multiple": multiple, "admission": mode, "offered": 100 * multiple,
            "goodput": goodput, "p99_ms": p99, "shed": 0.0, "shed_p99_ms": shed_p99,
            "errors": 0.0, "not_started": 0, "generator_core": 0.2, "machine": 0.5,
        }  # fmt: skip

    steps = [
        {
            **step(0.8, "on", 80, 10, 3),
            "shop_core": 0.9,
            "loop_lag_p99_ms": 12.0,
            "refusals": {"late": 3.0, "queue_full": 1.0},
        },
        step(0.8, "off", 80, 10, None),
        step(4.0, "on", 95, 15, 5),
        step(4.0, "off", 60, 900, None),
    ]
    results = {"machine": "test", "endpoints": {"charge": {"capacity": 100, "steps": steps}}}
    out = tmp_path / "overload.md"
    overload.write(results, out)
    text = out.read_text()
    assert "| 4x (400/s) | off | 60 | 900 |" in text
    assert "| 20% | 50% | 90% | 12 | 75% |" in text  # the shop's own view beside locust's
    assert text.count("| – | – | – |") == 3  # steps recorded without it
    assert "4x: goodput 95% of capacity met; 2xx p99 15 ms vs 2x 10 ms at 0.8x met" in text
    assert "**not met**" not in text
    assert out.with_suffix(".png").stat().st_size > 0

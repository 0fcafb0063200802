"""Every benchmark `make bench` and `make bench-soak` run is importable and takes its options
through the one entry point (running them is `make bench`'s job, not the suite's)."""

from __future__ import annotations

import subprocess
import sys

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

"""`make loadtest-regress`: a baseline blessed from a real run, an unchanged build passes
against it, a planted slowdown (every statement 40 ms later) fails. At a small scale (about 10
s a run) so that the suite stays fast; `make loadtest-regress` runs the smokes (about 30 s)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from loadtest.__main__ import main as loadtest
from loadtest.slo import regress

from .databases import derived_url

DB = derived_url("lt_regress")
SCALE = "0.08"


def _regress(tmp_path: Path, name: str, *extra: str) -> int:
    return loadtest(
        ["regress", "--scenario", "order", "--scale", SCALE, "--db-url", DB,
         "--baselines", str(tmp_path / "baselines"), "--run-dir", str(tmp_path / name), *extra]
    )  # fmt: skip


@pytest.mark.timeout(400)  # three runs of about 10 s each, slower on a busy machine
def test_baseline_then_unchanged_then_planted_slowdown(tmp_path: Path) -> None:
    assert _regress(tmp_path, "blessed", "--bless") == 0
    baseline = tmp_path / "baselines" / "order"
    assert json.loads((baseline / "run.json").read_text())["scale"] == float(SCALE)
    assert (baseline / "requests" / "recorded.csv.gz").stat().st_size > 1_000
    # One run each (--confirm 0): the majority rule is test_reruns_until_a_majority's.
    assert _regress(tmp_path, "unchanged", "--confirm", "0") == 0
    assert _regress(tmp_path, "slower", "--confirm", "0", "--flips", "0:db_latency_ms=40") == 1
    assert "**slower**" in (tmp_path / "slower" / "compare" / "README.md").read_text()
    schedule = json.loads((tmp_path / "slower" / "run.json").read_text())["schedule"]
    assert schedule == "0:db_latency_ms=40"


@pytest.mark.parametrize(
    ("verdicts", "done"),
    [
        ([0], True),
        ([1], False),
        ([1, 1], True),
        ([1, 0], False),
        ([1, 0, 0], True),
        ([1, 0, 1], True),
    ],
)
def test_reruns_until_a_majority(verdicts: list[int], done: bool) -> None:
    assert regress.decided(verdicts, 3) is done


def test_no_baseline_or_another_scale_is_refused(tmp_path: Path) -> None:
    assert _regress(tmp_path, "none") == 2
    order = tmp_path / "baselines" / "order"
    order.mkdir(parents=True)
    (order / "run.json").write_text(json.dumps({"scale": 0.5}))
    assert _regress(tmp_path, "other") == 2


def test_committed_baselines_match_their_smoke_scales() -> None:
    for scenario, directory in ((p.name, p) for p in regress.BASELINES.iterdir()):
        meta = json.loads((directory / "run.json").read_text())
        assert meta["scale"] == regress.SMOKE_SCALES[scenario]
        assert meta["scenario"] == scenario

"""The original's k6 path (`make k6`): each script at a tiny scale against a real shop, its
checks on the contract's fields and its thresholds from the locust gate's files holding, its
metrics remote-written into the run's Prometheus."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from loadtest.__main__ import main as loadtest
from loadtest.k6 import run as k6
from loadtest.traffic import contract

from .databases import derived_url
from .test_scenarios import USERS, shop_url

DB = derived_url("lt_runs")
__all__ = ["shop_url"]  # the module's fixture: one seeded shop


def test_thresholds_come_from_the_gate_files() -> None:
    options = k6.options("coupon", 1.0)
    assert options["thresholds"] == {
        "http_reqs": ["rate>=20"],
        f"http_req_duration{{name:{contract.ISSUE}}}": ["p(95)<=800", "p(99)<=2000"],
        f"checks{{name:{contract.ISSUE}}}": ["rate>=0.999"],
    }
    smoke = k6.options("coupon", 0.05)["thresholds"]
    assert smoke[f"http_req_duration{{name:{contract.ISSUE}}}"] == ["p(95)<=10000", "p(99)<=20000"]
    assert options["stages"][0] == {"duration": "30s", "target": 50}
    assert k6.options("order", 0.5)["stages"][0] == {"duration": "15s", "target": 50}
    assert k6.hot_seconds(k6.scenario("charge").profile, 0.5) == 30


@pytest.mark.parametrize("scenario", k6.SCENARIOS)
def test_each_script_runs_and_holds_its_thresholds(
    scenario: str, shop_url: str, tmp_path: Path
) -> None:
    code = loadtest(
        ["k6", "--scenario", scenario, "--scale", "0.03", "--shop-url", shop_url,
         "--db-url", DB, "--seed-users", str(USERS), "--run-dir", str(tmp_path)]
    )  # fmt: skip
    log = (tmp_path / "k6.log").read_text()
    assert code == 0, log
    summary = json.loads((tmp_path / "k6_summary.json").read_text())
    for name in k6.REQUESTS[scenario]:
        if scenario == "order" and name == contract.ISSUE:
            continue  # one order in ten asks for a coupon: a tiny run may send none
        checks = summary["metrics"][f"checks{{name:{name}}}"]
        assert checks["passes"] > 0, name
        assert checks["fails"] == 0, (name, log)
    series = json.loads((tmp_path / "prometheus_series.json").read_text())["series"]
    assert series["k6_rps"], "k6's remote write reached no Prometheus"

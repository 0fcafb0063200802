"""The SLO gate against locust's stats CSV and the checked-in thresholds."""

from __future__ import annotations

import tomllib
from pathlib import Path

from loadtest.slo.gate import THRESHOLDS, evaluate, read_stats, thresholds_for
from loadtest.traffic.scenarios import SCENARIOS

HEADER = "Type,Name,Request Count,Failure Count,Requests/s,95%,99%"


def _stats(tmp_path: Path, *rows: str) -> dict[str, dict[str, str]]:
    path = tmp_path / "x_stats.csv"
    path.write_text("\n".join([HEADER, *rows]) + "\n")
    return read_stats(path)


LIMITS = {
    "min_rps": 10,
    "/api/orders": {"p95_ms": 500, "p99_ms": 1000, "max_failure_ratio": 0.01},
    "*": {"p95_ms": 100},
}


def test_pass(tmp_path: Path) -> None:
    stats = _stats(
        tmp_path,
        "POST,/api/orders,1000,5,20,400,900",
        "GET,/api/products,10,0,1,90,95",
        ",Aggregated,1010,5,21,400,900",
    )
    verdict = evaluate(stats, LIMITS, audit_ok=True)
    assert verdict.ok, verdict.table()
    assert verdict.table().endswith("SLO gate: PASS")
    assert len(verdict.rows) == 1 + 3 + 1 + 1


def test_each_threshold_fails_on_its_own(tmp_path: Path) -> None:
    cases = {
        "throughput": ("POST,/api/orders,1000,0,20,400,900", ",Aggregated,1000,0,9,400,900"),
        "p95": ("POST,/api/orders,1000,0,20,501,900", ",Aggregated,1000,0,20,501,900"),
        "p99": ("POST,/api/orders,1000,0,20,400,1001", ",Aggregated,1000,0,20,400,1001"),
        "failure ratio": ("POST,/api/orders,1000,11,20,400,900", ",Aggregated,1000,11,20,4,9"),
    }
    for check, rows in cases.items():
        verdict = evaluate(_stats(tmp_path, *rows), LIMITS)
        assert [r.check for r in verdict.rows if not r.ok] == [check], verdict.table()


def test_wildcard_rule_and_missing_requests(tmp_path: Path) -> None:
    stats = _stats(tmp_path, "GET,/api/products,10,0,1,150,150", ",Aggregated,10,0,11,150,150")
    verdict = evaluate(stats, LIMITS)
    failed = {(r.check, r.name) for r in verdict.rows if not r.ok}
    assert failed == {("p95", "/api/products"), ("requests sent", "/api/orders")}


def test_failed_audit_fails_the_gate(tmp_path: Path) -> None:
    stats = _stats(tmp_path, "POST,/api/orders,1,0,20,1,1", ",Aggregated,1,0,20,1,1")
    verdict = evaluate(stats, LIMITS, audit_ok=False, audit_detail="2 discrepancies")
    assert not verdict.ok
    assert "consistency audit" in verdict.table()


def test_every_scenario_has_thresholds() -> None:
    for name in SCENARIOS:
        limits = thresholds_for(name)
        assert limits["min_rps"] > 0
        assert any(isinstance(v, dict) for v in limits.values())
    for path in THRESHOLDS.glob("*.toml"):
        with path.open("rb") as f:
            tomllib.load(f)


def test_smoke_runs_loosen_latency_not_failures() -> None:
    full = thresholds_for("coupon")
    smoke = thresholds_for("coupon", smoke=True)
    name = "/api/coupons/{couponId}/issue"
    assert "smoke" not in full
    assert smoke[name]["p95_ms"] > full[name]["p95_ms"]
    assert smoke[name]["max_failure_ratio"] == full[name]["max_failure_ratio"]
    assert smoke["min_rps"] <= full["min_rps"]


def test_shed_answers_are_their_own_class_not_failures(tmp_path: Path) -> None:
    stats = _stats(
        tmp_path,
        "POST,/api/orders,1000,300,20,40,90",
        "OPEN,/api/orders @intended,700,0,14,45,95",
        "OPEN,/api/orders @shed,300,0,6,2,5",
        ",Aggregated,2000,300,40,45,95",
    )
    limits = {"min_rps": 1, "*": {"max_failure_ratio": 0.01, "max_shed_ratio": 0.5}}
    shed = [{"method": "POST", "name": "/api/orders", "code": "OVERLOADED", "count": 300}]
    verdict = evaluate(stats, limits, tallies=shed)
    shed_rows = [r for r in verdict.rows if r.check == "shed ratio"]
    assert [(r.name, r.measured, r.ok) for r in shed_rows] == [
        ("/api/orders", "30.00% (300/1000)", True)
    ]
    assert verdict.rows[0].measured == "20.0 req/s"  # each arrival once, not twice
    failures = [r for r in verdict.rows if r.check == "failure ratio" and r.name == "/api/orders"]
    assert failures[0].ok
    assert failures[0].measured.startswith("0.00%")
    assert not evaluate(stats, {"min_rps": 1, "*": {"max_failure_ratio": 0.01}}).ok
    assert not evaluate(stats, {"min_rps": 1, "*": {"max_failure_ratio": 0.5}}, tallies=shed).ok


def test_open_model_arrivals_not_started_are_counted(tmp_path: Path) -> None:
    stats = _stats(
        tmp_path,
        "POST,/api/orders,990,0,20,40,90",
        "OPEN,/api/orders @intended,990,0,20,45,95",
        ",Aggregated,1980,0,40,45,95",
    )
    late = [{"method": "OPEN", "name": "OpenOrderUser", "code": "NOT_STARTED", "count": 10}]
    verdict = evaluate(stats, {"min_rps": 1, "max_not_started_ratio": 0.05}, tallies=late)
    assert verdict.ok
    assert verdict.rows[0].measured == "20.0 req/s"  # each arrival once, not twice
    assert verdict.rows[-1].measured == "1.00% (10/1000)"
    assert not evaluate(stats, {"min_rps": 1}, tallies=late).ok

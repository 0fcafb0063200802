"""One SLO source: every file generated from observability/slo/slos.yml is what the spec gives,
the alerts, records, gate thresholds and OpenSLO export say the same objectives, and every
latency threshold is a bucket bound of its histogram (a quantile between buckets would be a
guess, and `le` would match nothing)."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal

import pytest
import yaml
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from loadtest.slo.gate import thresholds_for
from shop.telemetry.metrics import Metrics

from .slo_spec import build, spec
from .stack_files import ROOT, alert_rules

SPEC = spec.load()


def test_committed_files_are_what_the_spec_generates() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "observability" / "slo" / "build.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("slo", SPEC.slos, ids=lambda s: s.name)
def test_every_slo_has_an_alert_per_window_at_its_budget(slo: spec.Slo) -> None:
    rules = [r for r in alert_rules() if r["alert"] == slo.alert]
    assert [r["labels"]["window"] for r in rules] == [w.long for w in SPEC.windows]
    for rule, window in zip(rules, SPEC.windows, strict=True):
        assert rule["labels"] == {
            "severity": window.severity,
            "slo": slo.name,
            "window": window.long,
        }
        assert f"({spec.number(window.burn)} * {spec.number(slo.budget)})" in rule["expr"]
        assert ">= " + str(SPEC.min_events) in rule["expr"], "the traffic guard"
        assert rule["for"] == window.for_


def test_latency_thresholds_are_exact_buckets_of_their_histogram() -> None:
    metrics = Metrics()
    metrics.http_duration.labels("GET", "/api/products", "200").observe(0.1)
    text = generate_latest(metrics.registry).decode()
    bounds: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name.endswith("_bucket"):
                bounds.setdefault(family.name, set()).add(sample.labels["le"])
    latency = [s for s in SPEC.slos if s.threshold_seconds is not None]
    assert latency
    for slo in latency:
        assert slo.histogram in bounds, slo.histogram
        le = spec.bucket_label(slo.threshold_seconds)
        assert le in bounds[slo.histogram], (slo.name, le, sorted(bounds[slo.histogram]))
        assert f'le="{le}"' in (slo.good or "")


def test_a_threshold_between_buckets_is_refused() -> None:
    """0.3 s is no bucket of the HTTP histogram: the check above would fail on it."""
    assert spec.bucket_label(Decimal("0.3")) == "0.3"
    assert spec.bucket_label(Decimal("0.5")) == "0.5"
    assert spec.bucket_label(Decimal("1")) == "1.0"


def test_the_gate_allows_the_availability_budget() -> None:
    budget = SPEC.slo("availability").budget
    for gate in SPEC.gates:
        limits = thresholds_for(gate.scenario, build.THRESHOLDS)
        assert limits["min_rps"] == gate.min_rps
        for name, (p95, p99, budgets) in gate.requests.items():
            assert limits[name]["max_failure_ratio"] == float(budgets * budget)
            assert (limits[name]["p95_ms"], limits[name]["p99_ms"]) == (p95, p99)
    assert thresholds_for("soak", build.THRESHOLDS)["*"]["max_failure_ratio"] == 0.001


def test_openslo_export_states_each_objective() -> None:
    docs = list(yaml.safe_load_all(build.OPENSLO.read_text()))
    slos = {d["metadata"]["name"]: d for d in docs if d["kind"] == "SLO"}
    assert {d["kind"] for d in docs} == {"Service", "SLO"}
    for slo in SPEC.slos:
        doc = slos[f"{SPEC.service}-{slo.name}"]
        assert doc["apiVersion"] == "openslo/v1"
        assert doc["spec"]["objectives"][0]["target"] == float(slo.objective)
        assert doc["spec"]["timeWindow"] == [{"duration": SPEC.period, "isRolling": True}]
        ratio = doc["spec"]["indicator"]["spec"]["ratioMetric"]
        assert ("good" in ratio) != ("bad" in ratio)


def test_checkout_counts_lock_timeouts_and_5xx_as_bad() -> None:
    checkout = SPEC.slo("checkout")
    bad = " ".join(checkout.bad)
    assert 'outcome="LOCK001"' in bad
    assert 'http_response_status_code=~"5.."' in bad
    assert 'http_route="/api/orders"' in checkout.total

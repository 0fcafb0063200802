"""Every scenario, headless, at a tiny time scale (seconds each) through `make loadtest`'s
driver: the gate's verdict passes and the audit of MariaDB is clean."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from loadtest.harness.database import fresh_dataset
from loadtest.harness.ports import free_port
from loadtest.harness.shop import serving
from loadtest.slo import compare, requests
from loadtest.slo.gate import read_stats
from loadtest.traffic import scenarios
from loadtest.traffic.run import headless

from .databases import derived_url

DB = derived_url("lt_runs")
USERS = 2_000
# Scales that make each profile last about five seconds.
SCALES = {
    "coupon": 0.035,
    "charge": 0.03,
    "order": 0.045,
    "browse": 0.045,
    "spike": 0.04,
    "soak": 0.003,
}


@pytest.fixture(scope="module")
def shop_url() -> Iterator[str]:
    """One seeded shop that wants a user token on every user route, as production does: a load
    tool that sends none fails its checks here."""
    fresh_dataset(DB, users=USERS, stock=1_000_000, coupon_quantity=100_000)
    with serving({"SHOP_DB_URL": DB, "SHOP_LOG_LEVEL": "WARNING", "SHOP_AUTH": "required"}) as shop:
        yield shop.url


def _run(
    run_dir: Path,
    scenario: str,
    url: str,
    *extra: str,
    scale: float | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    return headless(
        scenario,
        shop_urls=[url],
        db_url=DB,
        seed_users=USERS,
        run_dir=run_dir,
        scale=scale or SCALES[scenario],
        extra=extra,
        env={"SHOP_LOG_LEVEL": "WARNING", **(env or {})},
        timeout=180,
    )


def _check(
    done: subprocess.CompletedProcess[str], run_dir: Path, model: str = "closed"
) -> dict[str, object]:
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SLO gate: PASS" in (run_dir / "verdict.txt").read_text()
    assert "clean" in (run_dir / "audit.txt").read_text()
    assert (run_dir / "locust_stats_history.csv").exists()
    # Every request in the run's log, each with its own trace id; an open-model arrival's own
    # row (timed from its intended start) names the trace of the request it sent.
    logged = requests.read(run_dir)
    assert logged
    assert all(re.fullmatch(r"[0-9a-f]{32}", r.trace_id) for r in logged)
    sent = [r for r in logged if not r.name.endswith((" @intended", " @shed"))]
    assert len({r.trace_id for r in sent}) == len(sent)
    assert {r.trace_id for r in logged} == {r.trace_id for r in sent}
    meta: dict[str, object] = json.loads((run_dir / "run.json").read_text())
    assert meta["commit"]
    assert meta["machine"]
    assert meta["model"] == model
    return meta


@pytest.mark.parametrize("scenario", ["coupon", "charge", "order", "browse", "spike", "soak"])
def test_scenario_passes_gate_and_audit(scenario: str, shop_url: str, tmp_path: Path) -> None:
    meta = _check(_run(tmp_path, scenario, shop_url), tmp_path)
    assert meta["scenario"] == scenario
    assert 0 < float(str(meta["generator_cpu_share"])) <= 1


def test_business_rejections_are_reported_apart(shop_url: str, tmp_path: Path) -> None:
    """The coupon run's duplicates land in the rejection tally, not in locust's failures."""
    _check(_run(tmp_path, "coupon", shop_url), tmp_path)
    summary = json.loads((tmp_path / "locust_summary.json").read_text())
    codes = {row["code"] for row in summary["rejections"]}
    assert codes <= {"C001", "C006"}


def test_distributed_run_with_workers(shop_url: str, tmp_path: Path) -> None:
    # Longer than the others: workers report every 3 s, and on a busy machine later than that.
    # One worker keeps the suite light on a shared 2-core machine; the master/worker path (stats
    # and rejections reported to the master) is the same for any N.
    meta = _check(_run(tmp_path, "order", shop_url, "--workers", "1", scale=0.15), tmp_path)
    assert meta["workers"] == 1
    summary = json.loads((tmp_path / "locust_summary.json").read_text())
    assert summary["workers"] == 1
    # The worker logs its own requests (the master sends none).
    logs = [p for p in (tmp_path / "requests").glob("*.csv") if len(p.read_text().splitlines()) > 1]
    assert len(logs) == 1


def test_starts_a_seeded_shop_when_none_answers(shop_url: str, tmp_path: Path) -> None:
    nobody = f"http://127.0.0.1:{free_port()}"
    done = _run(tmp_path, "browse", nobody)
    _check(done, tmp_path)
    assert f"started the shop on {nobody}" in done.stdout


def test_users_carry_tokens_for_a_shop_that_requires_them(tmp_path: Path) -> None:
    """With SHOP_AUTH=required every user request needs its own bearer token: a run with the
    shop's secret gets no 401 or 403 (those would be failures)."""
    secret = "load-test-secret-0123456789abcdef"
    settings = {"SHOP_DB_URL": DB, "SHOP_AUTH": "required", "SHOP_AUTH_SECRET": secret}
    with serving(settings) as shop:
        done = _run(tmp_path, "order", shop.url, env={"SHOP_AUTH_SECRET": secret})
    _check(done, tmp_path)


def test_a_drawn_schedule_is_recorded_and_replayed(shop_url: str, tmp_path: Path) -> None:
    """Flips drawn from a seed land in run.json; `--replay` runs the same flips again, and the
    two runs can be compared."""
    first, again = tmp_path / "first", tmp_path / "again"
    _run(first, "order", shop_url, "--flip-seed", "7")
    meta = json.loads((first / "run.json").read_text())
    drawn = scenarios.drawn_schedule(7, scenarios.scenario("order").profile.duration())
    assert meta["schedule"] == scenarios.format_schedule(drawn)
    assert meta["flip_seed"] == 7
    _run(again, "order", shop_url, "--replay", str(first), scale=1.0)  # scale from the run
    replayed = json.loads((again / "run.json").read_text())
    assert (replayed["schedule"], replayed["scale"]) == (meta["schedule"], meta["scale"])
    assert replayed["replay_of"] == str(first)
    for run in (first, again):
        flipped = json.loads((run / "locust_summary.json").read_text())["switch_events"]
        assert [(e["switch"], "error" in e) for e in flipped] == [(f.switch, False) for f in drawn]
    assert compare.main([str(first), str(again), "--out", str(tmp_path / "compare")]) in (0, 1)


def test_open_model_overload_is_timed_from_intended_starts_and_shed_apart(
    tmp_path: Path,
) -> None:
    """`overload` on a shop whose gate admits one request and queues for a millisecond: the
    refusals are their own class (not failures), every arrival has a row timed from its
    intended start beside locust's own, and the gate passes."""
    gate = {
        "SHOP_ADMISSION": "on",
        **dict.fromkeys(
            (
                "SHOP_ADMISSION_MIN_LIMIT",
                "SHOP_ADMISSION_INITIAL_LIMIT",
                "SHOP_ADMISSION_MAX_LIMIT",
            ),
            "1",
        ),
        "SHOP_ADMISSION_QUEUE_INTERVAL": "0.001",
        "SHOP_ADMISSION_QUEUE_TARGET": "0.001",
    }
    fresh_dataset(DB, users=USERS, stock=1_000_000, coupon_quantity=100_000)
    with serving({"SHOP_DB_URL": DB, "SHOP_LOG_LEVEL": "WARNING", **gate}) as shop:
        done = _run(tmp_path, "overload", shop.url, "--capacity", "40", scale=0.1)
    _check(done, tmp_path, model="open")
    summary = json.loads((tmp_path / "locust_summary.json").read_text())
    assert {row["code"] for row in summary["rejections"]} >= {"OVERLOADED"}
    charge = "/api/users/{userId}/balance/charge"
    stats = read_stats(tmp_path / "locust_stats.csv")
    own, intended, shed = (stats[f"{charge}{row}"] for row in ("", " @intended", " @shed"))
    assert int(own["Request Count"]) == int(intended["Request Count"]) + int(shed["Request Count"])
    assert float(intended["Median Response Time"]) >= float(own["Median Response Time"])
    assert "shed ratio" in (tmp_path / "verdict.txt").read_text()

"""The Prometheus configuration and rules: promtool checks, the rule tests, and that every alert
carries what an on-call engineer needs and is tested both ways."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from .stack_files import (
    COMPOSE_TARGETS,
    PROMETHEUS,
    RULE_TESTS,
    RULES,
    alert_names,
    alert_rules,
    dashboards,
    load_yaml,
)


def promtool(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["promtool", *map(str, args)], capture_output=True, text=True, cwd=cwd, check=False
    )


def test_rules_pass_promtool_check() -> None:
    result = promtool("check", "rules", *RULES)
    assert result.returncode == 0, result.stdout + result.stderr


def test_config_passes_promtool_check_with_the_compose_targets(tmp_path: Path) -> None:
    shutil.copy(PROMETHEUS / "prometheus.yml", tmp_path)
    shutil.copytree(PROMETHEUS / "rules", tmp_path / "rules")
    shutil.copytree(COMPOSE_TARGETS, tmp_path / "targets")
    result = promtool("check", "config", tmp_path / "prometheus.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "WARNING" not in result.stdout + result.stderr


@pytest.mark.parametrize("test_file", RULE_TESTS, ids=lambda p: p.name)
def test_promtool_rule_tests(test_file: Path) -> None:
    result = promtool("test", "rules", test_file.name, cwd=test_file.parent)
    assert result.returncode == 0, result.stdout + result.stderr


def _cases() -> dict[str, tuple[int, int]]:
    """alert name → (cases where it fires, cases where it is expected quiet)."""
    counts: dict[str, list[int]] = {}
    for path in RULE_TESTS:
        for group in load_yaml(path)["tests"]:
            for case in group.get("alert_rule_test", []):
                fired, quiet = counts.setdefault(case["alertname"], [0, 0])
                counts[case["alertname"]] = [
                    fired + bool(case["exp_alerts"]),
                    quiet + (not case["exp_alerts"]),
                ]
    return {name: (fired, quiet) for name, (fired, quiet) in counts.items()}


def _heartbeats() -> set[str]:
    return {r["alert"] for r in alert_rules() if r["labels"]["severity"] == "heartbeat"}


def test_every_alert_is_tested_firing_and_quiet() -> None:
    cases = _cases()
    missing = [
        name for name in set(alert_names()) - _heartbeats() if min(cases.get(name, (0, 0))) == 0
    ]
    assert not missing, f"alerts without a firing and a quiet rule test: {missing}"


def test_the_watchdog_is_the_one_heartbeat_and_fires_in_its_tests() -> None:
    """The heartbeat has no quiet case: it fires whatever the data, and Alertmanager routes it
    to the heartbeat receiver, whose silence is the alarm."""
    assert _heartbeats() == {"ShopWatchdog"}
    assert _cases()["ShopWatchdog"] == (2, 0)


def test_every_window_pair_of_the_slo_alerts_fires_in_a_test() -> None:
    fired = {
        (case["alertname"], alert["exp_labels"]["window"])
        for path in RULE_TESTS
        for group in load_yaml(path)["tests"]
        for case in group.get("alert_rule_test", [])
        for alert in case["exp_alerts"]
        if "window" in alert.get("exp_labels", {})
    }
    windows = {
        (rule["alert"], rule["labels"]["window"])
        for rule in alert_rules()
        if "window" in rule["labels"]
    }
    assert len(windows) == 9  # three SLOs (observability/slo/slos.yml) × three window pairs
    assert windows <= fired


@pytest.mark.parametrize("rule", alert_rules(), ids=lambda r: r["alert"])
def test_alert_carries_severity_summary_description_runbook_and_dashboard(rule: dict) -> None:
    assert rule["labels"]["severity"] in {"page", "ticket", "heartbeat"}
    annotations = rule["annotations"]
    assert {"summary", "description", "runbook_url", "dashboard"} <= annotations.keys()
    assert annotations["runbook_url"] == f"runbooks/{rule['alert']}.md"
    assert "for" in rule, "every alert states its `for:` (0m included), so windows can be scaled"


@pytest.mark.parametrize("rule", alert_rules(), ids=lambda r: r["alert"])
def test_alert_dashboard_link_opens_an_existing_panel(rule: dict) -> None:
    link = urlparse(rule["annotations"]["dashboard"])
    match = re.fullmatch(r"/d/([\w-]+)", link.path)
    assert match, link
    board = dashboards()[match.group(1)]
    panel_id = int(parse_qs(link.query)["viewPanel"][0])
    assert panel_id in {panel["id"] for panel in board["panels"]}

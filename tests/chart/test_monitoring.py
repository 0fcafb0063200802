"""The monitoring objects come from the repository's own sources: the PrometheusRule is
observability/prometheus/rules/ (and passes its promtool tests as rendered), the dashboard
ConfigMaps are grafana/dashboards/, and the scrape jobs carry the names the rules select."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from ..observability.stack_files import PROMETHEUS, RULE_TESTS, RULES, dashboards, load_yaml
from ..observability.test_rules import promtool
from .render import manifests, of_kind, one
from .workloads import pod_labels, selected, selects

# Jobs of the exporters and servers a user's monitoring stack brings (not in this chart).
EXTERNAL_JOBS = {"mysqld", "redis", "prometheus", "alertmanager"}


def _groups(path: Path) -> list[dict[str, Any]]:
    groups: list[dict[str, Any]] = load_yaml(path)["groups"]
    return groups


def _rendered_groups() -> list[dict[str, Any]]:
    groups: list[dict[str, Any]] = one(manifests("production"), "PrometheusRule")["spec"]["groups"]
    return groups


def test_the_prometheus_rule_is_the_repositorys_rules_unchanged() -> None:
    assert _rendered_groups() == [group for path in RULES for group in _groups(path)]


@pytest.fixture(scope="module")
def rendered_rules(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of observability/prometheus/ whose rule files hold the rendered groups instead."""
    root = tmp_path_factory.mktemp("rendered")
    shutil.copytree(PROMETHEUS / "tests", root / "tests")
    (root / "rules").mkdir()
    rendered = {group["name"]: group for group in _rendered_groups()}
    for path in RULES:
        groups = [rendered[group["name"]] for group in _groups(path)]
        (root / "rules" / path.name).write_text(yaml.safe_dump({"groups": groups}))
    return root


@pytest.mark.parametrize("test_file", RULE_TESTS, ids=lambda p: p.name)
def test_promtool_rule_tests_pass_on_the_rendered_rule(
    rendered_rules: Path, test_file: Path
) -> None:
    result = promtool("test", "rules", test_file.name, cwd=rendered_rules / "tests")
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_dashboard_is_a_configmap_for_grafanas_sidecar() -> None:
    maps = of_kind(manifests("production"), "ConfigMap")
    assert all(m["metadata"]["labels"]["grafana_dashboard"] == "1" for m in maps)
    rendered = {key: json.loads(text) for m in maps for key, text in m["data"].items()}
    assert rendered == {f"{uid}.json": board for uid, board in dashboards().items()}


def test_monitoring_objects_are_off_by_default() -> None:
    kinds = {doc["kind"] for doc in manifests("minimal")}
    assert not kinds & {"ServiceMonitor", "PodMonitor", "PrometheusRule", "ConfigMap"}


@pytest.mark.parametrize("name", ["production", "all-on"])
def test_scrape_jobs_carry_the_names_the_rules_select(name: str) -> None:
    """prometheus-operator names a target's job after the label jobLabel names: the rules'
    job="shop" and job="locust" selectors must find the chart's targets."""
    docs = manifests(name)
    jobs = set()
    for monitor in [*of_kind(docs, "ServiceMonitor"), *of_kind(docs, "PodMonitor")]:
        key = monitor["spec"]["jobLabel"]
        if monitor["kind"] == "ServiceMonitor":
            services = [
                s for s in of_kind(docs, "Service")
                if selects(monitor["spec"]["selector"], s["metadata"]["labels"])
            ]  # fmt: skip
            jobs |= {s["metadata"]["labels"][key] for s in services}
        else:
            pods = selected(docs, monitor["spec"]["selector"])
            jobs |= {pod_labels(p)[key] for p in pods}
    selected_jobs = {
        job
        for path in RULES
        for group in _groups(path)
        for rule in group["rules"]
        for job in re.findall(r'job="(\w+)"', rule["expr"])
    }
    assert "shop" in jobs
    expected = selected_jobs - EXTERNAL_JOBS - ({"locust"} if name == "production" else set())
    assert expected <= jobs

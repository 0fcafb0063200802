"""The chart's cross-references: selectors pick the pods they mean, named ports exist, the
autoscaler's metric is one the shop serves, every setting is one the shop reads."""

from __future__ import annotations

import dataclasses
import shlex
from typing import Any

import pytest
import yaml
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from shop.settings import Settings, env_var
from shop.telemetry.metrics import Metrics

from ..observability.promql_names import metric_names
from .render import CHART, VALUES, Manifest, manifests, of_kind, one, values
from .workloads import container, env, pod_labels, pod_spec, selected, selects, workloads

MATRIX = pytest.mark.parametrize("name", list(VALUES))
ADAPTER_VALUES = CHART.parent / "prometheus-adapter-values.yaml"


def _served_metrics() -> set[str]:
    """The metric families the shop's /metrics answer declares (its registry's exposition)."""
    text = generate_latest(Metrics().registry).decode()
    return {family.name for family in text_string_to_metric_families(text)}


def _container_ports(doc: Manifest) -> dict[str, int]:
    return {
        port["name"]: port["containerPort"]
        for c in pod_spec(doc)["containers"]
        for port in c.get("ports", [])
    }


@MATRIX
def test_every_service_selects_one_workload_whose_pods_name_its_target_ports(name: str) -> None:
    docs = manifests(name)
    for service in of_kind(docs, "Service"):
        (workload,) = selected(docs, service["spec"]["selector"])
        named = _container_ports(workload)
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in named, (service["metadata"]["name"], port)


@MATRIX
def test_every_workload_selector_matches_its_own_pods_and_no_others(name: str) -> None:
    docs = manifests(name)
    for workload in workloads(docs):
        if workload["kind"] == "Job":
            continue
        assert selected(docs, workload["spec"]["selector"]) == [workload]


@MATRIX
def test_autoscalers_and_the_disruption_budget_target_the_shop_deployment(name: str) -> None:
    docs = manifests(name)
    deployment = one(docs, "Deployment", "shop")
    for scaler in [*of_kind(docs, "HorizontalPodAutoscaler"), *of_kind(docs, "ScaledObject")]:
        ref = scaler["spec"]["scaleTargetRef"]
        assert (ref.get("kind", "Deployment"), ref["name"]) == ("Deployment", "shop")
        assert "replicas" not in deployment["spec"], "a fixed count would fight the autoscaler"
    for pdb in of_kind(docs, "PodDisruptionBudget"):
        assert selected(docs, pdb["spec"]["selector"]) == [deployment]


def _adapter_rules() -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = yaml.safe_load(ADAPTER_VALUES.read_text())["rules"]["custom"]
    return rules


def test_the_hpa_metric_is_served_through_the_adapter_from_the_shops_metrics() -> None:
    hpa = one(manifests("production"), "HorizontalPodAutoscaler")
    asked = {m["pods"]["metric"]["name"] for m in hpa["spec"]["metrics"] if m["type"] == "Pods"}
    assert asked
    adapter = {rule["name"]["as"]: rule["seriesQuery"] for rule in _adapter_rules()}
    for metric in asked:
        assert metric in adapter, f"prometheus-adapter serves no {metric}"
        assert metric_names(adapter[metric]) <= _served_metrics()


def test_the_keda_trigger_queries_a_metric_the_shop_serves_for_its_own_pods() -> None:
    scaled = one(manifests("all-on"), "ScaledObject")
    (trigger,) = scaled["spec"]["triggers"]
    query = trigger["metadata"]["query"]
    assert metric_names(query) <= _served_metrics()
    assert 'namespace="shop"' in query
    assert 'pod=~"shop-[a-z0-9]+-[a-z0-9]+"' in query
    assert trigger["metricType"] == "AverageValue"


@MATRIX
def test_every_shop_setting_the_chart_sets_is_one_the_shop_reads(name: str) -> None:
    known = {env_var(f) for f in dataclasses.fields(Settings)}
    docs = manifests(name)
    for workload in [one(docs, "Deployment", "shop"), one(docs, "Job", "shop-migrations")]:
        for variable in env(pod_spec(workload)["containers"][0]):
            if variable.startswith(("SHOP_", "OTEL_EXPORTER_")):
                assert variable in known, variable


@MATRIX
def test_the_migrations_job_runs_the_shops_image_against_the_same_database(name: str) -> None:
    docs = manifests(name)
    shop = container(one(docs, "Deployment", "shop"), "shop")
    (migrate,) = pod_spec(one(docs, "Job", "shop-migrations"))["containers"]
    assert migrate["image"] == shop["image"]
    assert env(migrate)["SHOP_DB_URL"] == env(shop)["SHOP_DB_URL"]
    command = shlex.join([*migrate["command"], *migrate.get("args", [])])
    assert "python -m shop migrate" in command


def test_migrations_precede_the_release_unless_the_database_is_part_of_it() -> None:
    def hook(name: str) -> str:
        job = one(manifests(name), "Job", "shop-migrations")
        return str(job["metadata"]["annotations"]["helm.sh/hook"])

    assert hook("minimal") == hook("production") == "pre-install,pre-upgrade"
    assert hook("all-on") == "post-install,pre-upgrade"  # the trial MariaDB is in the release


@pytest.mark.parametrize("name", ["production", "all-on"])
def test_monitors_scrape_ports_that_exist_on_what_they_select(name: str) -> None:
    docs = manifests(name)
    for monitor in of_kind(docs, "ServiceMonitor"):
        (service,) = [
            s for s in of_kind(docs, "Service")
            if selects(monitor["spec"]["selector"], s["metadata"]["labels"])
        ]  # fmt: skip
        names = {port["name"] for port in service["spec"]["ports"]}
        assert {e["port"] for e in monitor["spec"]["endpoints"]} <= names
    for monitor in of_kind(docs, "PodMonitor"):
        (workload,) = selected(docs, monitor["spec"]["selector"])
        ports = {e["port"] for e in monitor["spec"]["podMetricsEndpoints"]}
        assert ports == {p for p in _container_ports(workload) if p.startswith("metrics-")}
        assert len(ports) == int(env(container(workload, "shop"))["SHOP_WORKERS"])


def test_a_pod_with_several_workers_is_scraped_per_worker_one_with_one_on_its_service() -> None:
    assert of_kind(manifests("production"), "PodMonitor")  # two workers a pod
    assert not of_kind(manifests("production"), "ServiceMonitor")
    assert [m["metadata"]["name"] for m in of_kind(manifests("all-on"), "ServiceMonitor")] == [
        "shop",
        "shop-locust",
    ]


@MATRIX
def test_network_policies_select_the_shops_pods_and_open_only_its_datastores(name: str) -> None:
    docs = manifests(name)
    v = values(name)
    egress = one(docs, "NetworkPolicy", "shop-egress")
    picked = {w["metadata"]["name"] for w in selected(docs, egress["spec"]["podSelector"])}
    assert picked == {"shop", "shop-migrations"}
    ports = [
        [(p["protocol"], p["port"]) for p in rule["ports"]] for rule in egress["spec"]["egress"]
    ]
    expected = [
        [("UDP", 53), ("TCP", 53)],
        [("TCP", v["database"]["port"])],
        [("TCP", v["redis"]["port"])],
    ]
    if v["collector"]["endpoint"]:
        expected.append([("TCP", v["collector"]["port"])])
    assert ports == expected
    ingress = one(docs, "NetworkPolicy", "shop-ingress")
    assert selected(docs, ingress["spec"]["podSelector"]) == [one(docs, "Deployment", "shop")]


def test_trial_datastores_admit_only_the_shops_pods() -> None:
    docs = manifests("all-on")
    for store in ("mariadb", "redis"):
        policy = one(docs, "NetworkPolicy", f"shop-{store}")
        assert selected(docs, policy["spec"]["podSelector"]) == [
            one(docs, "StatefulSet", f"shop-{store}")
        ]
        (rule,) = policy["spec"]["ingress"]
        (peer,) = rule["from"]
        clients = {
            w["metadata"]["name"]
            for w in workloads(docs)
            if selects(peer["podSelector"], pod_labels(w))
        }
        assert clients == {"shop", "shop-migrations"}


def test_locust_aims_at_the_shops_service_and_its_workers_at_the_master() -> None:
    docs = manifests("all-on")
    service = one(docs, "Service", "shop")
    master = container(one(docs, "Deployment", "shop-locust-master"), "locust")
    worker = container(one(docs, "Deployment", "shop-locust-worker"), "locust")
    assert f"--host=http://shop:{service['spec']['ports'][0]['port']}" in master["args"]
    assert "--master-host=shop-locust" in worker["args"]
    # Users mint tokens the shop accepts: the same secret, from the same Secret entry.
    secret = _secret_refs(container(one(docs, "Deployment", "shop"), "shop"))["SHOP_AUTH_SECRET"]
    assert (
        _secret_refs(master)["SHOP_AUTH_SECRET"]
        == _secret_refs(worker)["SHOP_AUTH_SECRET"]
        == secret
    )
    locust = one(docs, "Service", "shop-locust")
    assert selected(docs, locust["spec"]["selector"]) == [
        one(docs, "Deployment", "shop-locust-master")
    ]
    # The Shop tab is served from where the load-test image builds it (the image copies the
    # repository's loadtest/ to /app/loadtest).
    [build] = [a.split("=", 1)[1] for a in master["args"] if a.startswith("--build-path=")]
    assert build.startswith("/app/loadtest/")
    webui = CHART.parents[2] / build.removeprefix("/app/").removesuffix("/dist")
    assert (webui / "package.json").is_file(), build


def _secret_refs(c: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e["valueFrom"]["secretKeyRef"] for e in c["env"] if "valueFrom" in e}

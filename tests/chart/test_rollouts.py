"""Rollouts without errors: probes with the shop's semantics, a preStop pause then the shop's own
drain inside the grace period, a disruption budget, requests and limits from the soak, a locked
down pod, and the DB connection budget of every replica the chart may run at once."""

from __future__ import annotations

import re
from typing import Any

import pytest

from shop.api.routes import ROUTES

from .render import ROOT, VALUES, Manifest, manifests, of_kind, one, template, values
from .workloads import container, env, pod_labels, pod_spec, selects, workloads

MATRIX = pytest.mark.parametrize("name", list(VALUES))
MIB = {"Mi": 1, "Gi": 1024}


def _shop(name: str) -> tuple[Manifest, dict[str, Any]]:
    deployment = one(manifests(name), "Deployment", "shop")
    return deployment, container(deployment, "shop")


def _soak_peak_mib() -> int:
    """The footprint the resources are sized from: one process's peak RSS in the soak."""
    text = (ROOT / "docs" / "benchmarks" / "soak.md").read_text()
    match = re.search(r"\*\*Peak RSS (\d+) MiB\*\*", text)
    assert match, "docs/benchmarks/soak.md states no peak RSS"
    return int(match.group(1))


def _mib(quantity: str) -> int:
    match = re.fullmatch(r"(\d+)(Mi|Gi)", quantity)
    assert match, f"memory {quantity!r} is not in Mi or Gi"
    return int(match.group(1)) * MIB[match.group(2)]


@MATRIX
def test_probes_follow_the_shop_semantics_on_its_real_routes_and_port(name: str) -> None:
    _, shop = _shop(name)
    gets = {route.path for route in ROUTES if route.method == "GET"}
    ports = {p["name"]: p["containerPort"] for p in shop["ports"]}
    probes = {
        kind: shop[f"{kind}Probe"]["httpGet"] for kind in ("startup", "liveness", "readiness")
    }
    for probe in probes.values():
        assert probe["path"] in gets
        assert ports[probe["port"]] == int(env(shop)["SHOP_PORT"])
    # Liveness on /healthz only: a restart cures a wedged process, never MySQL being away.
    assert probes["liveness"]["path"] == "/healthz"
    assert probes["readiness"]["path"] == "/readyz"
    assert probes["startup"]["path"] in ("/healthz", "/readyz")


@MATRIX
def test_prestop_pause_then_the_shops_drain_fit_the_grace_period(name: str) -> None:
    deployment, shop = _shop(name)
    pause = shop["lifecycle"]["preStop"]["sleep"]["seconds"]
    drain = float(env(shop)["SHOP_SHUTDOWN_TIMEOUT"])
    # A multi-worker parent waits for its workers 5 s past the drain (shop/__main__.py).
    parent = 5 if int(env(shop)["SHOP_WORKERS"]) > 1 else 0
    assert pause >= 5, "endpoints and proxies need seconds to drop a terminating pod"
    assert pod_spec(deployment)["terminationGracePeriodSeconds"] > pause + drain + parent


@MATRIX
def test_rollout_adds_before_it_removes_and_the_budget_keeps_replicas(name: str) -> None:
    docs = manifests(name)
    deployment, _ = _shop(name)
    rolling = deployment["spec"]["strategy"]["rollingUpdate"]
    assert rolling["maxUnavailable"] == 0
    assert rolling["maxSurge"] >= 1
    pdb = one(docs, "PodDisruptionBudget")
    assert selects(pdb["spec"]["selector"], pod_labels(deployment))
    least = deployment["spec"].get("replicas") or _autoscaler(docs)["min"]
    assert pdb["spec"]["maxUnavailable"] < least


@MATRIX
def test_every_container_runs_locked_down(name: str) -> None:
    for workload in workloads(manifests(name)):
        pod = pod_spec(workload)
        assert pod["securityContext"]["runAsNonRoot"] is True, workload["metadata"]["name"]
        assert pod["automountServiceAccountToken"] is False
        for c in pod["containers"]:
            context = c["securityContext"]
            assert context["readOnlyRootFilesystem"] is True, c["name"]
            assert context["allowPrivilegeEscalation"] is False, c["name"]
            assert context["capabilities"] == {"drop": ["ALL"]}, c["name"]


def test_the_shop_runs_as_the_images_user() -> None:
    uid = re.search(r"(?:--uid|-u|USER)\s+(\d+)", (ROOT / "Dockerfile").read_text())
    assert uid, "the Dockerfile creates no user with a fixed uid"
    deployment, _ = _shop("minimal")
    assert pod_spec(deployment)["securityContext"]["runAsUser"] == int(uid.group(1))


@MATRIX
def test_every_container_has_requests_and_limits(name: str) -> None:
    for workload in workloads(manifests(name)):
        for c in pod_spec(workload)["containers"]:
            for bound in ("requests", "limits"):
                assert {"cpu", "memory"} <= c["resources"][bound].keys(), (c["name"], bound)


@MATRIX
def test_shop_memory_is_sized_from_the_soak_peak(name: str) -> None:
    """Request: the peak of every worker; limit: twice that at least (bursts, a slow client)."""
    _, shop = _shop(name)
    peak = _soak_peak_mib() * int(env(shop)["SHOP_WORKERS"])
    assert _mib(shop["resources"]["requests"]["memory"]) >= peak
    assert _mib(shop["resources"]["limits"]["memory"]) >= 2 * peak


def _autoscaler(docs: list[Manifest]) -> dict[str, int]:
    """min and max replicas of the HPA or the ScaledObject (none: the Deployment's count)."""
    for hpa in of_kind(docs, "HorizontalPodAutoscaler"):
        return {"min": hpa["spec"]["minReplicas"], "max": hpa["spec"]["maxReplicas"]}
    for scaled in of_kind(docs, "ScaledObject"):
        return {"min": scaled["spec"]["minReplicaCount"], "max": scaled["spec"]["maxReplicaCount"]}
    replicas = one(docs, "Deployment", "shop")["spec"]["replicas"]
    return {"min": replicas, "max": replicas}


@MATRIX
def test_db_connections_fit_max_connections(name: str) -> None:
    """Every pod the autoscaler may reach plus the rollout's surge pod, each worker a full pool
    and the readiness probe's own connection (it never borrows from the pool), beside the
    reserved connections, within MariaDB's max_connections."""
    docs = manifests(name)
    deployment, shop = _shop(name)
    pods = _autoscaler(docs)["max"] + deployment["spec"]["strategy"]["rollingUpdate"]["maxSurge"]
    per_pod = int(env(shop)["SHOP_WORKERS"]) * int(env(shop)["SHOP_DB_POOL_MAX"]) + 1
    database = values(name)["database"]
    assert pods * per_pod + database["reservedConnections"] <= database["maxConnections"]
    for trial in [
        d for d in of_kind(docs, "StatefulSet") if d["metadata"]["name"].endswith("mariadb")
    ]:
        args = container(trial, "mariadb")["args"]
        assert f"--max-connections={database['maxConnections']}" in args


def test_a_render_over_the_connection_budget_fails() -> None:
    result = template("--values", VALUES["production"], "--set", "autoscaling.maxReplicas=20")
    assert result.returncode != 0
    assert (
        "connection budget: 21 pods x (2 workers x 32 pool + 1 readiness probe) + 20 reserved"
        " = 1385 > database.maxConnections 1000"
    ) in result.stderr


@pytest.mark.parametrize("name", ["production", "all-on"])
def test_scale_out_is_fast_and_scale_in_slow(name: str) -> None:
    docs = manifests(name)
    hpas = of_kind(docs, "HorizontalPodAutoscaler")
    behavior = (
        hpas[0]["spec"]["behavior"]
        if hpas
        else one(docs, "ScaledObject")["spec"]["advanced"]["horizontalPodAutoscalerConfig"][
            "behavior"
        ]
    )
    up, down = behavior["scaleUp"], behavior["scaleDown"]
    assert up["stabilizationWindowSeconds"] == 0
    assert any(
        p["type"] == "Percent" and p["value"] >= 100 and p["periodSeconds"] <= 30
        for p in up["policies"]
    )
    assert down["stabilizationWindowSeconds"] >= 300
    assert all(
        p["type"] == "Pods" and p["value"] == 1 and p["periodSeconds"] >= 60
        for p in down["policies"]
    )

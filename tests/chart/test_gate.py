"""The chart's offline gate: lint, the values matrix rendered and checked against the Kubernetes
and CRD schemas, and every render equal to its committed golden file."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import kubernetes_validate
import pytest

from .render import (
    CHART,
    GOLDEN,
    KUBE_VERSION,
    VALUES,
    Manifest,
    helm,
    manifests,
    rendered_text,
    template,
)
from .tools import CRD_VALIDATOR
from .workloads import pod_spec, workloads

MATRIX = pytest.mark.parametrize("name", list(VALUES))
# Custom resources, checked by their CRDs' schemas instead of the core ones.
CRD_GROUPS = ("monitoring.coreos.com/", "keda.sh/")


def _is_custom(doc: Manifest) -> bool:
    return doc["apiVersion"].startswith(CRD_GROUPS)


def test_the_matrix_is_minimal_production_and_every_toggle_on() -> None:
    assert set(VALUES) == {"minimal", "production", "all-on"}


@MATRIX
def test_helm_lint_strict(name: str) -> None:
    result = helm("lint", "--strict", CHART, "--values", VALUES[name])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "[WARNING]" not in result.stdout, result.stdout


@MATRIX
def test_every_core_object_passes_kubernetes_validate_strict(name: str) -> None:
    core = [doc for doc in manifests(name) if not _is_custom(doc)]
    assert core
    errors = []
    for doc in core:
        try:
            kubernetes_validate.validate(doc, KUBE_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            errors.append(f"{doc['kind']}/{doc['metadata']['name']}: {exc.message} at {exc.path}")
    assert not errors, "\n".join(errors)


def validate_custom(docs: list[Manifest]) -> dict[str, str | None]:
    """Each custom resource's schema error (None when valid), by `<kind>/<name>`."""
    result = subprocess.run(
        ["node", CRD_VALIDATOR], input=json.dumps(docs), capture_output=True, text=True,
        check=True, cwd=CRD_VALIDATOR.parent,
    )  # fmt: skip
    answer: dict[str, str | None] = json.loads(result.stdout)
    return answer


@MATRIX
def test_every_custom_resource_matches_its_crd_schema(name: str) -> None:
    custom = [doc for doc in manifests(name) if _is_custom(doc)]
    errors = {key: error for key, error in validate_custom(custom).items() if error}
    assert not errors, errors


def test_the_crd_check_rejects_a_wrong_custom_resource() -> None:
    broken = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": {"name": "broken"},
        "spec": {"selector": {}, "endpoints": [{"port": 8081, "interval": "often"}]},
    }
    assert validate_custom([broken])["ServiceMonitor/broken"]


@MATRIX
def test_render_equals_the_golden_file(name: str) -> None:
    golden = GOLDEN / f"{name}.yaml"
    assert golden.read_text() == rendered_text(name), (
        f"{golden} is stale: make chart, review, commit"
    )


def test_every_golden_file_belongs_to_the_matrix() -> None:
    assert {p.stem for p in GOLDEN.glob("*.yaml")} == set(VALUES)


@pytest.mark.parametrize(
    ("missing", "message"),
    [
        ("secret.name", "secret.name is required"),
        ("database.host", "database.host is required"),
        ("redis.host", "redis.host is required"),
    ],
)
def test_a_missing_required_value_fails_the_render(missing: str, message: str) -> None:
    result = template("--values", VALUES["minimal"], "--set", f"{missing}=")
    assert result.returncode != 0
    assert message in result.stderr


def test_no_secret_is_taken_from_values() -> None:
    """Secrets come from an existing Secret: the chart renders no Secret and no secret in clear."""
    for name in VALUES:
        docs = manifests(name)
        assert not [d for d in docs if d["kind"] == "Secret"]
        for workload in workloads(docs):
            for container in pod_spec(workload)["containers"]:
                for env in container.get("env", []):
                    if env["name"] in ("SHOP_ADMIN_TOKEN", "SHOP_AUTH_SECRET", "DB_PASSWORD"):
                        assert "secretKeyRef" in env.get("valueFrom", {}), (name, env)


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("shop.wokers=2", "additional properties 'wokers' not allowed"),
        ("autoscaling.engine=cpu", "value must be one of 'hpa', 'keda'"),
        ("rollout.maxUnavailable=1", "/rollout/maxUnavailable"),
    ],
)
def test_a_misspelt_or_unsafe_value_is_refused_by_the_schema(setting: str, message: str) -> None:
    result = template("--values", VALUES["minimal"], "--set", setting)
    assert result.returncode != 0
    assert message in result.stderr


def test_the_packaged_chart_renders_the_same(tmp_path: Path) -> None:
    """`helm package` stores what files/rules and files/dashboards link to: a chart shipped to a
    registry renders the repository's rules and dashboards as they were when it was packaged."""
    packaged = helm("package", CHART, "--destination", tmp_path)
    assert packaged.returncode == 0, packaged.stderr
    (archive,) = tmp_path.glob("shop-*.tgz")
    result = template("--values", VALUES["production"], chart=archive)
    assert result.returncode == 0, result.stderr
    assert result.stdout == rendered_text("production")

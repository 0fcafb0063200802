"""The chart, its values matrix and its renders (helm template, the pinned helm of tools.py)."""

from __future__ import annotations

import functools
import subprocess
from pathlib import Path
from typing import Any

import yaml

from .tools import HELM, ROOT

CHART = ROOT / "deploy" / "helm" / "shop"
# The matrix: minimal, production, every toggle on (also what chart-testing would install).
VALUES = {
    p.name.removesuffix("-values.yaml"): p for p in sorted((CHART / "ci").glob("*-values.yaml"))
}
GOLDEN = Path(__file__).resolve().parent / "golden"
RELEASE = "shop"
NAMESPACE = "shop"
KUBE_VERSION = "1.37.0"

Manifest = dict[str, Any]


def helm(*args: str | Path) -> subprocess.CompletedProcess[str]:
    assert HELM.exists(), f"{HELM} is missing: make chart-tools"
    return subprocess.run(
        [HELM, *map(str, args)], capture_output=True, text=True, check=False, cwd=ROOT
    )


def template(*args: str | Path, chart: Path = CHART) -> subprocess.CompletedProcess[str]:
    """`helm template` of the chart (or a packaged one) as release `shop` in namespace `shop`."""
    return helm(
        "template", RELEASE, chart, "--namespace", NAMESPACE, "--kube-version", KUBE_VERSION,
        *args,
    )  # fmt: skip


@functools.cache
def rendered_text(name: str) -> str:
    """The render of one values file of the matrix (the text the golden file holds)."""
    result = template("--values", VALUES[name])
    assert result.returncode == 0, result.stderr
    return result.stdout


def manifests(name: str) -> list[Manifest]:
    return [doc for doc in yaml.safe_load_all(rendered_text(name)) if doc]


def of_kind(docs: list[Manifest], kind: str) -> list[Manifest]:
    return [doc for doc in docs if doc["kind"] == kind]


def one(docs: list[Manifest], kind: str, name: str | None = None) -> Manifest:
    """The object of `kind` (named `name` when several are)."""
    found = [d for d in of_kind(docs, kind) if name is None or d["metadata"]["name"] == name]
    assert len(found) == 1, (kind, name, [d["metadata"]["name"] for d in found])
    return found[0]


def values(name: str) -> dict[str, Any]:
    """The chart's defaults with one matrix entry's values merged over them (as helm does)."""

    def merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
        merged = dict(base)
        for key, value in over.items():
            both_maps = isinstance(value, dict) and isinstance(base.get(key), dict)
            merged[key] = merge(base[key], value) if both_maps else value
        return merged

    defaults = yaml.safe_load((CHART / "values.yaml").read_text())
    return merge(defaults, yaml.safe_load(VALUES[name].read_text()))

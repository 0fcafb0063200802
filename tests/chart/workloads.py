"""Reading rendered workloads: pod templates, containers, their env, labels and selectors."""

from __future__ import annotations

from typing import Any

from .render import Manifest

WORKLOADS = ("Deployment", "StatefulSet", "Job")


def pod_spec(doc: Manifest) -> dict[str, Any]:
    spec: dict[str, Any] = doc["spec"]["template"]["spec"]
    return spec


def pod_labels(doc: Manifest) -> dict[str, str]:
    labels: dict[str, str] = doc["spec"]["template"]["metadata"]["labels"]
    return labels


def workloads(docs: list[Manifest]) -> list[Manifest]:
    return [doc for doc in docs if doc["kind"] in WORKLOADS]


def container(doc: Manifest, name: str) -> dict[str, Any]:
    (found,) = [c for c in pod_spec(doc)["containers"] if c["name"] == name]
    return found


def env(container: dict[str, Any]) -> dict[str, str]:
    """The container's plain env values (entries from a Secret map to "<secret>")."""
    return {e["name"]: e.get("value", "<secret>") for e in container.get("env", [])}


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """A label selector (matchLabels and In/NotIn/Exists expressions) against a label set."""
    if not selector:
        return False  # an empty selector is never what the chart means
    if not selector.get("matchLabels", {}).items() <= labels.items():
        return False
    for expr in selector.get("matchExpressions", []):
        key, op, vals = expr["key"], expr["operator"], expr.get("values", [])
        ok = {
            "In": labels.get(key) in vals,
            "NotIn": labels.get(key) not in vals,
            "Exists": key in labels,
            "DoesNotExist": key not in labels,
        }[op]
        if not ok:
            return False
    return True


def selected(docs: list[Manifest], selector: dict[str, Any]) -> list[Manifest]:
    """The workloads whose pods a selector (or a Service's plain label map) picks."""
    if selector and "matchLabels" not in selector and "matchExpressions" not in selector:
        selector = {"matchLabels": selector}
    return [doc for doc in workloads(docs) if selects(selector, pod_labels(doc))]

"""Where the monitoring configuration lives, and what it declares (alerts, panels, tests)."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS = ROOT / "observability" / "prometheus"
RULES = sorted((PROMETHEUS / "rules").glob("*.yml"))
RULE_TESTS = sorted((PROMETHEUS / "tests").glob("*_test.yml"))
ALERTMANAGER_CONFIG = ROOT / "observability" / "alertmanager" / "alertmanager.yml"
COMPOSE_TARGETS = ROOT / "observability" / "compose" / "targets"
DASHBOARDS = ROOT / "grafana" / "dashboards"
RUNBOOKS = ROOT / "runbooks"


def load_yaml(path: Path) -> Any:
    with path.open() as f:
        return yaml.safe_load(f)


@functools.cache
def rules_of(kind: str) -> list[dict[str, Any]]:
    """Every rule of every rule file that is of `kind` ("alert" or "record")."""
    return [
        rule
        for path in RULES
        for group in load_yaml(path)["groups"]
        for rule in group["rules"]
        if kind in rule
    ]


def alert_rules() -> list[dict[str, Any]]:
    """Every alerting rule (an alert name may have several, one per window)."""
    return rules_of("alert")


def alert_names() -> list[str]:
    return sorted({rule["alert"] for rule in alert_rules()})


@functools.cache
def dashboards() -> dict[str, dict[str, Any]]:
    """uid → the committed dashboard JSON."""
    boards = (json.loads(p.read_text()) for p in sorted(DASHBOARDS.glob("*.json")))
    return {board["uid"]: board for board in boards}


def panels(board: dict[str, Any]) -> list[dict[str, Any]]:
    """The board's panels that draw something (rows only head them)."""
    return [p for p in board["panels"] if p["type"] != "row"]


def panel_queries() -> list[tuple[str, int, str, str]]:
    """(dashboard uid, panel id, panel title, PromQL) for every panel target."""
    return [
        (uid, panel["id"], panel["title"], target["expr"])
        for uid, board in dashboards().items()
        for panel in panels(board)
        for target in panel.get("targets", [])
    ]

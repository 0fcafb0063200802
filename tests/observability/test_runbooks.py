"""Every alert has its runbook, and every runbook's commands name real things: incident switches
with values they accept, SHOP_* settings the shop reads, metrics that exist, the alert's panel."""

from __future__ import annotations

import dataclasses
import functools
import json
import re

import pytest

from loadtest.gameday.runbooks import mitigations
from shop.incidents.switches import NORMAL
from shop.settings import Settings, env_var

from .promql_names import metric_names
from .stack_files import (
    ROOT,
    RUNBOOKS,
    alert_names,
    alert_rules,
    panel_queries,
    rules_of,
)

SECTIONS = ("## What it means", "## Confirm", "## Mitigate", "## Verify recovery", "## Escalate")


def _switches() -> dict[str, str]:
    """switch → its documented values, from docs/operations.md (the names everyone shares)."""
    text = (ROOT / "docs" / "operations.md").read_text()
    section = text.split("## Incident switches", 1)[1].split("\n## ", 1)[0]
    first_paragraph = section.strip().split("\n\n", 1)[0]
    return dict(re.findall(r"`(\w+)` \(([^)]*)\)", first_paragraph))


def _accepts(values: str, value: object) -> bool:
    """`values` is `a`|`b` (a choice) or lo–hi (a whole-number range); every switch also
    accepts "normal", its way back whatever its normal value is."""
    if value == NORMAL:
        return True
    choices = re.findall(r"`([^`]+)`", values)
    if choices:
        return value in choices
    low, high = (int(n.replace(",", "")) for n in re.split(r"[–-]", values))
    return isinstance(value, int) and low <= value <= high


def _settings() -> set[str]:
    """Every variable the shop's settings read (one per field)."""
    return {env_var(f) for f in dataclasses.fields(Settings)}


@functools.cache
def _known_metrics() -> set[str]:
    """Names the shop defines, the rules record, and the exporters' names the rules and
    dashboards already read (the dashboard-data test proves those exist)."""
    text = (ROOT / "service" / "shop" / "telemetry" / "metrics.py").read_text()
    names = set(re.findall(r'"((?:http|db|shop)_[a-z_]+)"', text))
    suffixed = {n + s for n in names for s in ("", "_bucket", "_count", "_sum", "_total")}
    rules = {r["record"] for r in rules_of("record")}
    used = {n for *_, expr in panel_queries() for n in metric_names(expr)}
    used |= {n for rule in alert_rules() for n in metric_names(rule["expr"])}
    return suffixed | rules | used | {"up", "ALERTS"}


def _runbook(name: str) -> str:
    return (RUNBOOKS / f"{name}.md").read_text()


def test_every_alert_has_a_runbook_and_every_runbook_an_alert() -> None:
    pages = {p.stem for p in RUNBOOKS.glob("*.md")} - {"README"}
    assert pages == set(alert_names())


@pytest.mark.parametrize("name", alert_names())
def test_runbook_has_every_section_and_opens_the_alerts_panel(name: str) -> None:
    text = _runbook(name)
    assert text.startswith(f"# {name}\n")
    positions = [text.index(section) for section in SECTIONS]
    assert positions == sorted(positions)
    links = {r["annotations"]["dashboard"] for r in alert_rules() if r["alert"] == name}
    assert all(f"]({link})" in text for link in links)


@pytest.mark.parametrize("name", alert_names())
def test_runbook_flips_only_real_switches_to_values_they_accept(name: str) -> None:
    switches = _switches()
    assert set(switches) == {
        "order_lock_scope", "db_pool_max", "db_latency_ms", "cart_index", "redis", "lock_hold_ms",
    }  # fmt: skip
    for switch, body in re.findall(
        r"/api/admin/incidents/(\w+)[^\n]*?-d '([^']*)'", _runbook(name)
    ):
        assert switch in switches, switch
        assert _accepts(switches[switch], json.loads(body)["value"]), (switch, body)


@pytest.mark.parametrize("name", alert_names())
def test_runbook_names_only_settings_the_shop_reads(name: str) -> None:
    named = set(re.findall(r"\bSHOP_[A-Z_]+\b", _runbook(name)))
    assert named <= _settings(), named - _settings()


@pytest.mark.parametrize("name", alert_names())
def test_runbook_promql_reads_known_metrics(name: str) -> None:
    blocks = re.findall(r"```promql\n(.*?)```", _runbook(name), re.S)
    assert blocks, "every runbook confirms with PromQL"
    known = _known_metrics()
    for line in "".join(blocks).splitlines():
        assert metric_names(line) <= known, (line, metric_names(line) - known)


def test_mitigations_cover_every_switch() -> None:
    """Each incident switch is the mitigation of some alert's runbook (game days rely on it)."""
    text = "".join(_runbook(name) for name in alert_names())
    flipped = set(re.findall(r"/api/admin/incidents/(\w+)", text))
    assert flipped == set(_switches())


@pytest.mark.parametrize("name", alert_names())
def test_runbook_commands_send_json(name: str) -> None:
    """The shop refuses a body of any other type (415): a bare `curl -d` would fail."""
    for line in _runbook(name).splitlines():
        if "-XPUT" in line:
            assert '-H "Content-Type: application/json"' in line, line


def test_every_switch_has_a_mitigation_a_game_day_can_run() -> None:
    """Each switch is flipped back by a ```sh line under some runbook's `## Mitigate`."""
    runnable = {m.switch for name in alert_names() for m in mitigations(name)}
    assert runnable == set(_switches())


def test_every_switch_back_to_normal_says_normal() -> None:
    """A runbook that restores a switch sends "normal", never a copy of today's normal value
    (a pool of 64 on one fleet is 128 on the next)."""
    back = [m for name in alert_names() for m in mitigations(name)]
    assert back
    assert {m.value for m in back} == {NORMAL}


def _indexes_by_table() -> dict[str, set[str]]:
    """table → index names, from the schema migrations."""
    sql = "".join(
        p.read_text()
        for p in sorted((ROOT / "service/shop/adapters/mysql/migrations").glob("*.sql"))
    )
    tables: dict[str, set[str]] = {}
    for table, body in re.findall(
        r"CREATE TABLE (?:IF NOT EXISTS )?`?(\w+)`?\s*\((.*?)\)\s*ENGINE", sql, re.S
    ):
        tables[table] = set(re.findall(r"\bKEY `?(\w+)`?", body))
    for index, table in re.findall(r"CREATE (?:UNIQUE )?INDEX `?(\w+)`? ON `?(\w+)`?", sql):
        tables.setdefault(table, set()).add(index)
    return tables


@pytest.mark.parametrize("name", alert_names())
def test_runbook_index_checks_name_the_table_that_holds_the_index(name: str) -> None:
    tables = _indexes_by_table()
    for table, index in re.findall(
        r"SHOW INDEX FROM (\w+) WHERE Key_name = '(\w+)'", _runbook(name)
    ):
        assert index in tables.get(table, set()), (table, index)
    for line in _runbook(name).splitlines():
        if "SHOW INDEX FROM" in line:
            assert "Key_name" in line, "name the index the switch drops: " + line

"""The dashboards are code: the committed JSON is what grafana/generate.py builds, with the uids,
datasource and panel ids that alerts and docs rely on; and they tell the truth at 3 a.m.: states
read as words in fixed colours, stats change colour, units fit their queries, alert lines sit at
the burn rates that page, every alert's panel links its runbook, every board marks alerts,
switches, deploys and load tests, and moves to the others with its filters."""

from __future__ import annotations

import re
import subprocess
import sys
from typing import Any

import pytest

from .promql_names import metric_names
from .slo_spec import spec
from .stack_files import (
    ALERTMANAGER_CONFIG,
    DASHBOARDS,
    ROOT,
    alert_rules,
    dashboards,
    load_yaml,
    panel_queries,
    panels,
)

# The dashboard code's folder, as generate.py runs it.
sys.path.insert(0, str(ROOT / "grafana"))
import panels as panel_code

UIDS = {
    "shop-overview",
    "shop-pools",
    "shop-locks",
    "shop-incident-timeline",
    "shop-runtime",
    "shop-loadtest",
}


def test_committed_json_is_what_the_code_generates() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "grafana" / "generate.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_six_dashboards_have_their_documented_uids() -> None:
    assert set(dashboards()) == UIDS
    assert {p.stem for p in DASHBOARDS.glob("*.json")} == UIDS


def test_every_panel_queries_the_provisioned_prometheus_with_a_unique_id() -> None:
    provisioned = load_yaml(ROOT / "grafana/provisioning/datasources/datasources.yml")
    uids = {source["uid"] for source in provisioned["datasources"]}
    assert uids == {"prometheus", "jaeger"}
    for uid, board in dashboards().items():
        ids = [panel["id"] for panel in board["panels"]]
        assert len(ids) == len(set(ids)), uid
        for panel in panels(board):
            assert panel["datasource"]["uid"] == "prometheus"
            assert panel["targets"], (uid, panel["title"])


def test_exemplars_link_to_the_trace_backend() -> None:
    provisioned = load_yaml(ROOT / "grafana/provisioning/datasources/datasources.yml")
    prometheus = next(s for s in provisioned["datasources"] if s["uid"] == "prometheus")
    [destination] = prometheus["jsonData"]["exemplarTraceIdDestinations"]
    assert destination == {"name": "trace_id", "datasourceUid": "jaeger"}


def test_incident_timeline_stacks_its_panels_on_one_axis_with_annotations() -> None:
    board = dashboards()["shop-incident-timeline"]
    panels = board["panels"]
    assert all(panel["gridPos"]["w"] == 24 for panel in panels)
    assert [panel["gridPos"]["y"] for panel in panels] == sorted(
        panel["gridPos"]["y"] for panel in panels
    )
    exprs = {a["expr"] for a in board["annotations"]["list"]}
    assert any("ALERTS" in e for e in exprs)
    assert any("shop_incident_switch" in e for e in exprs)


def test_every_panel_query_is_valid_promql() -> None:
    for uid, pid, _, expr in panel_queries():
        assert metric_names(expr), (uid, pid, expr)


def _by_type(kind: str) -> list[tuple[str, dict[str, Any]]]:
    return [
        (uid, p) for uid, board in dashboards().items() for p in panels(board) if p["type"] == kind
    ]


def test_every_state_timeline_maps_its_values_to_words_and_fixed_colours() -> None:
    """Without mappings Grafana's continuous scheme paints "down" green once a 0 is in range."""
    timelines = _by_type("state-timeline")
    assert timelines
    for uid, panel in timelines:
        [mapping] = panel["fieldConfig"]["defaults"]["mappings"]
        options = mapping["options"]
        assert {"0", "1"} <= options.keys(), (uid, panel["title"])
        assert all(o["text"] and o["color"] for o in options.values())
        assert options["0"]["color"] != options["1"]["color"]


def test_every_stat_changes_colour_at_its_thresholds() -> None:
    stats = _by_type("stat")
    assert stats
    for uid, panel in stats:
        steps = panel["fieldConfig"]["defaults"]["thresholds"]["steps"]
        assert len(steps) >= 2, (uid, panel["title"])
        assert steps[0]["value"] is None
        assert steps[0]["color"] == "red", "the worst is red"
        assert panel["options"]["colorMode"] == "background"


def _expected_units(expr: str) -> set[str]:
    """The units a query's values can honestly carry."""
    if "histogram_quantile" in expr:
        return {"s"}
    if ":ratio_rate" in expr or ":budget_left" in expr:
        return {"x", "percentunit"}
    if "seconds_total" in expr:
        return {"percentunit"}  # CPU seconds per second: a share of one core
    if "_bytes" in expr:
        return {"bytes"}
    if " / " in expr:
        return {"percentunit", "short"}  # a share, or an average of a count
    if "rate(" in expr:
        return {"ops", "reqps"}
    if "_seconds" in expr:
        return {"s"}
    return {"short"}


def _units(panel: dict[str, Any]) -> dict[str, str]:
    """ref id → the unit its series are drawn in (the panel's, or its override's)."""
    default = panel["fieldConfig"]["defaults"].get("unit", "")
    units = {t["refId"]: default for t in panel["targets"]}
    for override in panel["fieldConfig"].get("overrides", []):
        if override["matcher"]["id"] == "byFrameRefID":
            for prop in override["properties"]:
                if prop["id"] == "unit":
                    units[override["matcher"]["options"]] = prop["value"]
    return units


def test_every_graph_and_stat_unit_fits_its_query() -> None:
    wrong = []
    for kind in ("timeseries", "stat"):
        for uid, panel in _by_type(kind):
            units = _units(panel)
            for target in panel["targets"]:
                if units[target["refId"]] not in _expected_units(target["expr"]):
                    wrong.append((uid, panel["id"], target["refId"], units[target["refId"]]))
    assert not wrong, wrong


def test_a_second_unit_gets_its_own_axis() -> None:
    for uid, panel in _by_type("timeseries"):
        units = _units(panel)
        default = panel["fieldConfig"]["defaults"].get("unit", "")
        for override in panel["fieldConfig"].get("overrides", []):
            props = {p["id"]: p["value"] for p in override["properties"]}
            if props.get("unit", default) != default:
                assert props.get("custom.axisPlacement") == "right", (uid, panel["title"])
        assert len(set(units.values())) <= 2, (uid, panel["title"])


def test_the_unit_check_catches_seconds_drawn_as_counts() -> None:
    expr = (
        "histogram_quantile(0.99, sum by (le) (rate(shop_lock_wait_duration_seconds_bucket[1m])))"
    )
    assert "short" not in _expected_units(expr)


def test_burn_rate_panels_draw_the_burn_rates_that_page_and_ticket() -> None:
    slos = spec.load()
    board = dashboards()["shop-overview"]
    burns = {float(w.burn) for w in slos.windows}
    for slo in slos.slos:
        [panel] = [p for p in panels(board) if p["id"] == slo.panel]
        steps = panel["fieldConfig"]["defaults"]["thresholds"]["steps"]
        assert {s["value"] for s in steps[1:]} == burns, slo.name
        assert panel["fieldConfig"]["defaults"]["custom"]["thresholdsStyle"]["mode"] == "dashed"


def test_each_slo_has_a_30_day_budget_stat_and_a_burn_down() -> None:
    slos = spec.load()
    exprs = [t["expr"] for _, p in _by_type("stat") for t in p["targets"]]
    for slo in slos.slos:
        assert slo.budget_left(slos.period) in exprs, slo.name
    burn_down = [p for _, p in _by_type("timeseries") if "burn-down" in p["title"]]
    assert {t["expr"] for p in burn_down for t in p["targets"]} == {
        s.budget_left(slos.period) for s in slos.slos
    }


@pytest.mark.parametrize("rule", alert_rules(), ids=lambda r: r["alert"])
def test_every_alerts_panel_links_its_runbook(rule: dict[str, Any]) -> None:
    match = re.fullmatch(r"/d/([\w-]+)\?viewPanel=(\d+)", rule["annotations"]["dashboard"])
    assert match
    [panel] = [p for p in panels(dashboards()[match.group(1)]) if p["id"] == int(match.group(2))]
    urls = {link["url"] for link in panel.get("links", [])}
    assert f"{panel_code.BASE_URL}/{rule['annotations']['runbook_url']}" in urls


def test_links_share_the_notification_templates_base_url() -> None:
    template = (ALERTMANAGER_CONFIG.parent / "templates" / "shop.tmpl").read_text()
    [base] = re.findall(r'define "shop.base_url" }}(.*?){{ end', template)
    assert base == panel_code.BASE_URL


@pytest.mark.parametrize("uid", sorted(UIDS))
def test_every_board_marks_alerts_switches_deploys_and_load_tests(uid: str) -> None:
    marks = {a["name"]: a for a in dashboards()[uid]["annotations"]["list"]}
    assert "ALERTS" in marks["Alerts firing"]["expr"]
    assert "{{alertname}}" in marks["Alerts firing"]["titleFormat"]
    assert "value" in marks["Incident switches"]["expr"]
    assert "{{value}}" in marks["Incident switches"]["titleFormat"]
    assert "shop_build_info" in marks["Deploys"]["expr"]
    assert "locust_scenario_info" in marks["Load tests"]["expr"]


@pytest.mark.parametrize("uid", sorted(UIDS))
def test_every_board_has_rows_links_and_the_variables_its_queries_use(uid: str) -> None:
    board = dashboards()[uid]
    assert any(p["type"] == "row" for p in board["panels"])
    assert board["panels"][0]["type"] == "row", "the first row names what the board opens on"
    [others] = [link for link in board["links"] if link["type"] == "dashboards"]
    assert others["tags"] == ["shop"]
    assert others["includeVars"]
    assert others["keepTime"]
    defined = {v["name"] for v in board["templating"]["list"]}
    used = {
        name
        for p in panels(board)
        for t in p["targets"]
        for name in re.findall(r"\$(\w+)", t["expr"])
        if not name.startswith("__")
    }
    assert used <= defined, used - defined
    for variable in board["templating"]["list"]:
        assert variable["includeAll"]
        assert variable["allValue"] == ".*"


def test_filters_the_boards_offer() -> None:
    names = {v["name"] for b in dashboards().values() for v in b["templating"]["list"]}
    assert names == {"instance", "route", "pool", "lock"}
    runtime = dashboards()["shop-runtime"]
    assert any(p.get("repeat") == "instance" for p in runtime["panels"]), "a row per replica"

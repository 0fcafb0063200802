"""The dashboards are code: the committed JSON is what grafana/generate.py builds, with the uids,
datasource and panel ids that alerts and docs rely on."""

from __future__ import annotations

import subprocess
import sys

from .promql_names import metric_names
from .stack_files import DASHBOARDS, ROOT, dashboards, load_yaml, panel_queries

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
        for panel in board["panels"]:
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

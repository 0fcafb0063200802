"""The few panel shapes the shop's dashboards use, built with Grafana's Foundation SDK.

Every query names the Prometheus datasource by its fixed uid, so the provisioned dashboards work
in any Grafana that provisions `provisioning/datasources/`. Panel ids are explicit: alerts link
to `/d/<uid>?viewPanel=<id>` and must keep pointing at the same panel.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.builders import prometheus, stat, statetimeline, timeseries
from grafana_foundation_sdk.builders.common import VizLegendOptions
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.models.common import BigValueGraphMode, LegendDisplayMode
from grafana_foundation_sdk.models.dashboard import DashboardCursorSync, DataSourceRef

PROMETHEUS = DataSourceRef(type_val="prometheus", uid="prometheus")
# Grafana picks a window of at least four scrapes for each rate.
RATE = "$__rate_interval"

# (expr, legend); the legend may use {{label}} templates.
Query = tuple[str, str]


def _targets(
    queries: list[Query], exemplars: bool
) -> list[cogbuilder.Builder[cogvariants.Dataquery]]:
    refs = "ABCDEFGHIJ"
    return [
        prometheus.Dataquery()
        .expr(expr)
        .legend_format(legend)
        .ref_id(refs[i])
        .exemplar(exemplars)
        .range()
        for i, (expr, legend) in enumerate(queries)
    ]


def graph(
    pid: int,
    title: str,
    unit: str,
    queries: list[Query],
    *,
    description: str,
    width: int = 12,
    height: int = 8,
    exemplars: bool = False,
) -> timeseries.Panel:
    """A time series panel; `exemplars` shows the traces behind histogram points."""
    return (
        timeseries.Panel()
        .id(pid)
        .title(title)
        .description(description)
        .datasource(PROMETHEUS)
        .targets(_targets(queries, exemplars))
        .unit(unit)
        .span(width)
        .height(height)
        .legend(VizLegendOptions().display_mode(LegendDisplayMode.LIST).show_legend(True))
    )


def number(
    pid: int, title: str, unit: str, queries: list[Query], *, description: str, width: int = 6
) -> stat.Panel:
    """A single figure with its recent trend."""
    return (
        stat.Panel()
        .id(pid)
        .title(title)
        .description(description)
        .datasource(PROMETHEUS)
        .targets(_targets(queries, False))
        .unit(unit)
        .span(width)
        .height(5)
        .graph_mode(BigValueGraphMode.AREA)
    )


def states(
    pid: int, title: str, queries: list[Query], *, description: str, width: int = 24
) -> statetimeline.Panel:
    """On/off bands over time (incident switches, targets up)."""
    return (
        statetimeline.Panel()
        .id(pid)
        .title(title)
        .description(description)
        .datasource(PROMETHEUS)
        .targets(_targets(queries, False))
        .span(width)
        .height(5)
    )


def board(uid: str, title: str, description: str) -> db.Dashboard:
    """A dashboard with the shop's defaults: last 30 minutes, 10 s refresh, shared crosshair."""
    return (
        db.Dashboard(title)
        .uid(uid)
        .description(description)
        .tags(["shop"])
        .time("now-30m", "now")
        .refresh("10s")
        .tooltip(DashboardCursorSync.CROSSHAIR)
        .timezone("utc")
        .editable()
    )


def annotation(name: str, expr: str, color: str) -> db.AnnotationQuery:
    """Marks on every panel of a dashboard where `expr` has a value (alerts, switches)."""
    return (
        db.AnnotationQuery()
        .name(name)
        .datasource(PROMETHEUS)
        .expr(expr)
        .enable(True)
        .icon_color(color)
    )

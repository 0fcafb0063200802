"""The few panel shapes the shop's dashboards use, built with Grafana's Foundation SDK.

Every query names the Prometheus datasource by its fixed uid, so the provisioned dashboards work
in any Grafana that provisions `provisioning/datasources/`. Panel ids are explicit: alerts link
to `/d/<uid>?viewPanel=<id>` and must keep pointing at the same panel.

Panels tell the truth at a glance: a state timeline always maps its values to words and
colours (Grafana's default scheme paints 0 green once a 0 is in range), a stat always has
threshold colours, a graph may draw the lines its alerts fire at, and a second unit gets its
own axis on the right (`Graph.right`), never shares one with the first.

A board is its panels' table: `layout` adds rows and panels in order, and a `Graph` states its
id, title and unit, then one chained call per fact (queries, description, lines), with only
what differs from the board's size.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.builders import prometheus, stat, statetimeline, timeseries
from grafana_foundation_sdk.builders.common import GraphThresholdsStyleConfig, VizLegendOptions
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.models import dashboard as model
from grafana_foundation_sdk.models.common import (
    BigValueColorMode,
    BigValueGraphMode,
    GraphTresholdsStyleMode,
    LegendDisplayMode,
)
from grafana_foundation_sdk.models.dashboard import (
    DashboardCursorSync,
    DashboardLinkType,
    DataSourceRef,
    DynamicConfigValue,
    Threshold,
    ThresholdsMode,
    ValueMap,
    ValueMappingResult,
    VariableRefresh,
)

PROMETHEUS = DataSourceRef(type_val="prometheus", uid="prometheus")
# Grafana picks a window of at least four scrapes for each rate.
RATE = "$__rate_interval"


# Where the runbooks and Grafana are served: the one base of every absolute link, the same as
# observability/alertmanager/templates/shop.tmpl's `shop.base_url` (a test compares them).
BASE_URL = "https://ops.shop.example"

# (expr, legend); the legend may use {{label}} templates.
Query = tuple[str, str]
# Threshold steps above the base colour: (from this value, colour).
Steps = list[tuple[float, str]]
# Value → (text, colour) of a state timeline.
States = dict[str, tuple[str, str]]

UP_DOWN: States = {"1": ("up", "green"), "0": ("down", "red")}
SWITCH: States = {"0": ("normal", "green"), "1": ("on", "orange")}


def quantile(q: float, histogram: str, by: str, selector: str = "") -> str:
    """The `q` quantile of `histogram` per `by` (labels), over its buckets matching `selector`."""
    buckets = f"{histogram}_bucket{{{selector}}}" if selector else f"{histogram}_bucket"
    return f"histogram_quantile({q}, sum by ({by}, le) (rate({buckets}[{RATE}])))"


def median_and_p99(histogram: str, by: str, selector: str) -> list[Query]:
    """The p99 and p50 of `histogram` per `by` (one label), legends `{{<by>}} p99` / `p50`."""
    return [
        (quantile(q, histogram, by, selector), f"{{{{{by}}}}} p{q * 100:g}") for q in (0.99, 0.5)
    ]


def p99(histogram: str, by: str, selector: str = "", *, legend: str = "") -> Query:
    """The p99 of `histogram` per `by` (labels); the legend names each `by` label unless given."""
    return quantile(0.99, histogram, by, selector), legend or _names(by)


def per(by: str, counter: str, selector: str = "", *, fn: str = "rate", legend: str = "") -> Query:
    """`counter`'s `fn` (rate or increase) summed per `by` (labels), over the series matching
    `selector`; the legend names each `by` label unless given."""
    return f"sum by ({by}) ({fn}({_series(counter, selector)}[{RATE}]))", legend or _names(by)


def summed(by: str, gauge: str, selector: str = "", *, legend: str = "") -> Query:
    """`gauge` summed per `by` (labels), over the series matching `selector`; the legend names
    each `by` label unless given."""
    return f"sum by ({by}) ({_series(gauge, selector)})", legend or _names(by)


def _series(metric: str, selector: str) -> str:
    return f"{metric}{{{selector}}}" if selector else metric


def _names(by: str) -> str:
    """A legend naming each label of `by` ("a, b" → "{{a}} {{b}}")."""
    return " ".join(f"{{{{{label.strip()}}}}}" for label in by.split(","))


# A panel's queries are A, B, ... in order.
REFS = "ABCDEFGHIJ"


def _targets(
    queries: list[Query], exemplars: bool
) -> list[cogbuilder.Builder[cogvariants.Dataquery]]:
    return [
        prometheus.Dataquery()
        .expr(expr)
        .legend_format(legend)
        .ref_id(REFS[i])
        .exemplar(exemplars)
        .range()
        for i, (expr, legend) in enumerate(queries)
    ]


def thresholds(base: str, steps: Steps) -> db.ThresholdsConfig:
    """Colour `base` below the first step, then each step's colour from its value up."""
    return (
        db.ThresholdsConfig()
        .mode(ThresholdsMode.ABSOLUTE)
        .steps([Threshold(None, base), *(Threshold(v, c) for v, c in steps)])
    )


@dataclass(frozen=True)
class Graph:
    """A time series panel as data (`layout` builds it); each call returns a new Graph."""

    pid: int
    title: str
    unit: str
    plotted: tuple[Query, ...] = ()
    text: str = ""
    shows_exemplars: bool = False
    axes: tuple[tuple[str, str], ...] = ()
    steps: tuple[tuple[float, str], ...] = ()
    width: int | None = None
    height: int | None = None

    def plot(self, *queries: Query) -> Graph:
        """Draw `queries` on the left axis, in the panel's unit."""
        return replace(self, plotted=self.plotted + queries)

    def description(self, text: str) -> Graph:
        """What the panel shows, and what its lines are (Grafana's panel info)."""
        return replace(self, text=text)

    def exemplars(self) -> Graph:
        """Show the traces behind histogram points."""
        return replace(self, shows_exemplars=True)

    def right(self, unit: str, *queries: Query) -> Graph:
        """Draw `queries` in another `unit`, on their own axis on the right."""
        refs = REFS[len(self.plotted) : len(self.plotted) + len(queries)]
        return replace(self.plot(*queries), axes=(*self.axes, *((ref, unit) for ref in refs)))

    def line(self, at: float, colour: str) -> Graph:
        """Draw a dashed threshold line (where an alert fires)."""
        return self.lines([(at, colour)])

    def lines(self, steps: Steps) -> Graph:
        """Draw a dashed threshold line at each (value, colour)."""
        return replace(self, steps=(*self.steps, *steps))

    def size(self, width: int, height: int | None = None) -> Graph:
        """Take `width` of the grid's 24 columns (and `height` rows) instead of the board's."""
        return replace(self, width=width, height=height)

    def build(self, width: int, height: int) -> timeseries.Panel:
        """The panel, sized by the board's `width` and `height` unless it has its own."""
        if not self.text:
            raise ValueError(f"panel {self.pid} ({self.title}) has no description")
        panel = (
            timeseries.Panel()
            .id(self.pid)
            .title(self.title)
            .description(self.text)
            .datasource(PROMETHEUS)
            .targets(_targets(list(self.plotted), self.shows_exemplars))
            .unit(self.unit)
            .span(self.width or width)
            .height(self.height or height)
            .legend(VizLegendOptions().display_mode(LegendDisplayMode.LIST).show_legend(True))
        )
        for ref, other in self.axes:
            panel = panel.override_by_query(
                ref,
                [
                    DynamicConfigValue("unit", other),
                    DynamicConfigValue("custom.axisPlacement", "right"),
                ],
            )
        if self.steps:
            panel = panel.thresholds(thresholds("transparent", list(self.steps))).thresholds_style(
                GraphThresholdsStyleConfig().mode(GraphTresholdsStyleMode.DASHED)
            )
        return panel


def latency(pid: int, title: str) -> Graph:
    """A graph of request durations in seconds whose points link to the traces behind them."""
    return Graph(pid, title, "s").exemplars()


def layout(
    built: db.Dashboard,
    *items: db.Row | Graph | cogbuilder.Builder[model.Panel],
    width: int = 12,
    height: int = 8,
) -> db.Dashboard:
    """Add `items` to the board in order: rows head the panels after them, and each Graph takes
    the board's `width` and `height` unless it sets its own."""
    for item in items:
        if isinstance(item, db.Row):
            built = built.with_row(item)
        elif isinstance(item, Graph):
            built = built.with_panel(item.build(width, height))
        else:
            built = built.with_panel(item)
    return built


def number(
    pid: int,
    title: str,
    unit: str,
    queries: list[Query],
    *,
    description: str,
    colours: tuple[str, Steps],
    width: int = 6,
    height: int = 5,
) -> stat.Panel:
    """A single figure with its recent trend, coloured by `colours` (base, steps)."""
    base, steps = colours
    return (
        stat.Panel()
        .id(pid)
        .title(title)
        .description(description)
        .datasource(PROMETHEUS)
        .targets(_targets(queries, False))
        .unit(unit)
        .span(width)
        .height(height)
        .graph_mode(BigValueGraphMode.AREA)
        .color_mode(BigValueColorMode.BACKGROUND)
        .thresholds(thresholds(base, steps))
    )


def states(
    pid: int,
    title: str,
    queries: list[Query],
    *,
    description: str,
    mapping: States,
    width: int = 24,
    height: int = 5,
) -> statetimeline.Panel:
    """Bands over time whose values read as words in fixed colours (up/down, normal/on)."""
    options = {value: ValueMappingResult(text=text, color=colour) for value, (text, colour) in
               mapping.items()}  # fmt: skip
    return (
        statetimeline.Panel()
        .id(pid)
        .title(title)
        .description(description)
        .datasource(PROMETHEUS)
        .targets(_targets(queries, False))
        .span(width)
        .height(height)
        .mappings([ValueMap(options)])
        .thresholds(thresholds("text", []))
    )


def row(pid: int, title: str, *, repeat: str | None = None) -> db.Row:
    """A row heading the panels added after it; `repeat` draws it once per variable value."""
    built = db.Row(title).id(pid)
    return built.repeat(repeat) if repeat else built


def variable(name: str, label: str, query: str) -> db.QueryVariable:
    """A multi-value filter over one label's values ("All" matches every value, even none)."""
    return (
        db.QueryVariable(name)
        .label(label)
        .datasource(PROMETHEUS)
        .query({"query": query, "refId": "PrometheusVariableQueryEditor-VariableQuery"})
        .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED)
        .multi(True)
        .include_all(True)
        .all_value(".*")
        .current(model.VariableOption(text="All", value="$__all"))
    )


INSTANCE = variable("instance", "Replica", 'label_values(up{job="shop"}, instance)')
ROUTE = variable(
    "route",
    "Route",
    'label_values(http_server_request_duration_seconds_count{job="shop"}, http_route)',
)
POOL = variable("pool", "Pool", 'label_values(db_client_connection_max{job="shop"}, pool)')
LOCK = variable("lock", "Lock", 'label_values(shop_lock_waiters{job="shop"}, lock_name)')


class Marks(cogbuilder.Builder[model.AnnotationQuery]):
    """Annotations from a Prometheus query, titled and tagged by the series' labels, so a mark
    says which alert or which switch value (the SDK has no fields for Prometheus' formats)."""

    def __init__(self, name: str, expr: str, color: str, title: str, tags: str) -> None:
        self.query = _Marks(name, expr, color, title, tags)

    def build(self) -> model.AnnotationQuery:
        return self.query


class _Marks(model.AnnotationQuery):
    def __init__(self, name: str, expr: str, color: str, title: str, tags: str) -> None:
        super().__init__(name=name, datasource=PROMETHEUS, enable=True, icon_color=color)
        self.expr = expr
        self.formats = {"titleFormat": title, "tagKeys": tags, "step": "30s"}

    def to_json(self) -> dict[str, Any]:
        return {**super().to_json(), **self.formats}


# On every board: what fired, what was switched, what was deployed, what load ran.
MARKS = (
    Marks(
        "Alerts firing",
        'ALERTS{alertstate="firing", severity!="heartbeat"}',
        "red",
        "{{alertname}} ({{severity}})",
        "alertname,severity,instance,pool,lock_name,slo,window",
    ),
    Marks(
        "Incident switches",
        "max by (switch, value) (shop_incident_switch) > 0",
        "orange",
        "{{switch}} = {{value}}",
        "switch,value",
    ),
    # A version's first minutes: its replicas appeared, and were absent two minutes before.
    Marks(
        "Deploys",
        "count by (version) (shop_build_info) unless count by (version) "
        "(shop_build_info offset 2m)",
        "blue",
        "deploy {{version}}",
        "version",
    ),
    Marks(
        "Load tests",
        "max by (scenario, shape) (locust_scenario_info) > 0",
        "purple",
        "load test {{scenario}} ({{shape}})",
        "scenario,shape",
    ),
)


def board(
    uid: str, title: str, description: str, variables: tuple[db.QueryVariable, ...] = ()
) -> db.Dashboard:
    """A dashboard with the shop's defaults: last 30 minutes, 10 s refresh, shared crosshair,
    links to the other boards (keeping time and filters), and the common marks."""
    built = (
        db.Dashboard(title)
        .uid(uid)
        .description(description)
        .tags(["shop"])
        .time("now-30m", "now")
        .refresh("10s")
        .tooltip(DashboardCursorSync.CROSSHAIR)
        .timezone("utc")
        .editable()
        .link(
            db.DashboardLink("Shop dashboards")
            .type(DashboardLinkType.DASHBOARDS)
            .tags(["shop"])
            .as_dropdown(True)
            .include_vars(True)
            .keep_time(True)
        )
        .link(
            db.DashboardLink("Runbooks")
            .type(DashboardLinkType.LINK)
            .url(f"{BASE_URL}/runbooks/")
            .target_blank(True)
        )
        .variables(list(variables))
    )
    for marks in MARKS:
        built = built.annotation(marks)
    return built


def runbook_link(alert: str, runbook_path: str) -> model.DashboardLink:
    """A panel link to the runbook of an alert that opens the panel."""
    return model.DashboardLink(
        title=f"Runbook: {alert}",
        type_val=DashboardLinkType.LINK,
        url=f"{BASE_URL}/{runbook_path}",
        target_blank=True,
        icon="doc",
        tooltip=f"What to do when {alert} fires",
        tags=[],
    )

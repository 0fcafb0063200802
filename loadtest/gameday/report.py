"""A game day's report: `docs/incidents/gameday-<scenario>.md`, its timeline chart, and the
index table of docs/incidents/README.md.

The chart draws the panels of the committed incident-timeline dashboard
(`grafana/dashboards/shop-incident-timeline.json`), each with its own queries, range-queried
from the drill's Prometheus before it stopped (`timeline_series.json` in the run directory),
with the flip, alerts and mitigation marked on one time axis.
"""

from __future__ import annotations

import json
import re
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt

from loadtest import ROOT
from loadtest.gameday import crowd, history
from loadtest.gameday.drills import BACKGROUND

TIMELINE = ROOT / "grafana" / "dashboards" / "shop-incident-timeline.json"
INDEX_START = "<!-- gameday-table -->"
INDEX_END = "<!-- /gameday-table -->"


def panels() -> list[dict[str, Any]]:
    """(id, title, [(expr, legend)]) of every panel of the incident timeline."""
    board = json.loads(TIMELINE.read_text())
    return [
        {
            "id": panel["id"],
            "title": panel["title"],
            "targets": [(t["expr"], t.get("legendFormat", "")) for t in panel.get("targets", [])],
        }
        for panel in board["panels"]
    ]


def export_timeline(url: str, record: dict[str, Any], run_dir: Path, clock: Any) -> None:
    """Range-query every timeline panel over the drill into the run directory."""
    start = record.get("started") or record["events"][0]["t"]
    end = time.time()
    window = f"{max(4 * float(clock.interval), 4):g}s"  # what $__rate_interval would be
    out = []
    for panel in panels():
        series = []
        for expr, legend in panel["targets"]:
            query = expr.replace("$__rate_interval", window)
            params = urllib.parse.urlencode(
                {"query": query, "start": start, "end": end, "step": float(clock.interval)}
            )
            with urllib.request.urlopen(f"{url}/api/v1/query_range?{params}", timeout=30) as r:
                result = json.loads(r.read())["data"]["result"]
            series.append({"expr": query, "legend": legend, "result": result})
        out.append({**panel, "series": series})
    (run_dir / "timeline_series.json").write_text(json.dumps(out))


def _label(legend: str, metric: dict[str, str]) -> str:
    return re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: metric.get(m.group(1), ""), legend) or "value"


def chart(record: dict[str, Any], run_dir: Path, out: Path) -> bool:
    source = run_dir / "timeline_series.json"
    if not source.exists():
        return False
    data = json.loads(source.read_text())
    flip = record.get("flip") or record["started"]
    fig, axes = plt.subplots(len(data), 1, figsize=(10, 2.1 * len(data)), sharex=True)
    for ax, panel in zip(axes, data, strict=True):
        for series in panel["series"]:
            for result in series["result"]:
                points = [(float(t) - flip, float(v)) for t, v in result["values"]]
                if points:
                    xs, ys = zip(*points, strict=True)
                    ax.plot(xs, ys, linewidth=1, label=_label(series["legend"], result["metric"]))
        ax.set_title(f"{panel['id']}. {panel['title']}", fontsize=9, loc="left")
        ax.tick_params(labelsize=7)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=6, loc="upper right")
        for _, t, style in _marks(record):
            ax.axvline(t - flip, color=style, linewidth=0.8, linestyle="--")
    axes[-1].set_xlabel("seconds from the flip (red: flip, orange: alerts firing, "
                        "green: mitigation, blue: recovered)", fontsize=8)  # fmt: skip
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=80)
    plt.close(fig)
    return True


def _marks(record: dict[str, Any]) -> list[tuple[str, float, str]]:
    marks = []
    if record.get("flip"):
        marks.append(("flip", record["flip"], "red"))
    marks += [(a, t, "orange") for a, t in (record.get("fired") or {}).items()]
    if record.get("mitigated"):
        marks.append(("mitigation", record["mitigated"], "green"))
    if record.get("recovered"):
        marks.append(("recovered", record["recovered"], "blue"))
    return marks


def _fault(summary: dict[str, Any]) -> str:
    """What the drill broke (summaries written before faults name only their switch)."""
    return summary.get("fault") or f"{summary['switch']}={json.dumps(summary['value'])}"


def _s(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f} s"


def _clock(t: float) -> str:
    return time.strftime("%H:%M:%S", time.gmtime(t))


def _machine(record: dict[str, Any]) -> str:
    cores = record["cores"]
    start, end = record["load_average_start"][0], record["load_average_end"][0]
    loads = f"{cores} cores, load average {start:.1f} at the start and {end:.1f} at the end"
    # The drill itself (two replicas, locust, MariaDB, Redis, Prometheus) keeps about one
    # core busy: beyond that, something else shared the machine.
    if max(start, end) <= cores + 1:
        return (
            f"The machine ran nothing but the drill: {loads}. Absolute throughput and latency"
            " are this small machine's; the times below are what the drill is about."
        )
    return (
        f"The machine was shared and loaded: {loads} of the drill (other work ran beside"
        " it), so absolute throughput and latency are this machine's, not the shop's; the"
        " times below are what the drill is about. The drill's replicas, locust and"
        " Prometheus ran at nice -15 so that the baseline was not starved."
    )


def _setting(record: dict[str, Any]) -> str:
    place = (
        f" against {record['replicas']} replicas on the Redis lock backend, with the database"
        f" {record['db_distance_ms']} ms away per statement for the whole drill."
    )
    if record.get("crowd"):
        return (
            f"A crowd arrived: the `{record['traffic']}` open-model traffic (balance charges,"
            f" coupon issues, orders; decision 0042) at {crowd.describe(record)}" + place
        )
    return (
        f"The drill broke `{_fault(record)}` under {record['users']} locust users of the"
        f" `{record.get('traffic', record['scenario'])}` traffic (orders)" + place
    )


def _recovery_rows(record: dict[str, Any]) -> list[str]:
    """A crowd drill's recovery: per second of intended arrivals, into the baseline band."""
    found = record.get("recovery") or {}
    band = found.get("band") or {}
    return [
        "| time to mitigate | – (the crowd leaves by itself) |",
        f"| baseline band (per second, {crowd.BAND_QUANTILE}th percentile of the baseline's"
        f" seconds) | admitted p99 ≤ {band.get('p99_ms', 0):.0f} ms, refused ≤"
        f" {band.get('refused', 0):.1%} |",
        f"| time to recover (from the crowd leaving to the first of {crowd.HOLD_S} seconds in a"
        f" row in the band; bound {crowd.RECOVERY_BOUND_S:g} s) | {_s(record.get('ttr'))} |",
    ]


def _recovery_table(found: dict[str, Any]) -> list[str]:
    rows = [
        "",
        "## Around the crowd leaving",
        "",
        "Per second of intended arrival time, from the request log: arrivals, the p99 of the"
        " admitted answers timed from each arrival's intended start, the share refused"
        " (`503 OVERLOADED`).",
        "",
        "| second (0: the crowd leaves) | answers (admitted + refused) | admitted p99 | refused |",
        "|---|---|---|---|",
    ]
    for s in found.get("seconds", []):
        if -5 <= s["at"] <= 20:
            p99 = "–" if s["p99_ms"] is None else f"{s['p99_ms']:.0f} ms"
            rows.append(f"| {s['at']:+.0f} | {s['arrivals']} | {p99} | {s['refused']:.1%} |")
    return rows


def render(record: dict[str, Any], chart_name: str | None) -> str:
    scenario = record["scenario"]
    flip = record.get("flip")
    verdict = "passed" if not record["failures"] else "FAILED: " + "; ".join(record["failures"])
    base = record.get("baseline") or {}
    lines = [
        f"# Game day: {scenario}",
        "",
        f"`make gameday SCENARIO={scenario}` (scale {record['scale']}: {record['rules']} rules,"
        f" scrape and evaluation every {record['interval_s']:g} s), run on"
        f" {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(record['started']))}."
        f" **Verdict: {verdict}.**",
        "",
        _setting(record),
        "",
        _machine(record),
        "",
        "## Measured",
        "",
        "| | |",
        "|---|---|",
        f"| baseline throughput (2xx/s) | {base.get('throughput') or 0:.1f} |",
        f"| baseline p99 | {(base.get('p99') or 0) * 1000:.0f} ms |",
        f"| expected alerts | {', '.join(record['expected'])} |",
        f"| tolerated alerts | {', '.join(record['tolerated']) or '–'}; on any drill, the"
        f" shared machine's and the database distance switch's {', '.join(BACKGROUND)} |",
        f"| ambient alerts (firing on the baseline, not counted) |"
        f" {', '.join(record.get('ambient') or []) or '–'} |",
    ]
    for alert, t in sorted((record.get("ttd") or {}).items(), key=lambda kv: kv[1]):
        ttn = (record.get("ttn") or {}).get(alert)
        lines.append(f"| time to detect: {alert} | {_s(t)} (notified after {_s(ttn)}) |")
    if record.get("crowd"):
        lines += _recovery_rows(record)
    else:
        lines += [
            f"| time to mitigate (runbook command run) | {_s(record.get('ttm'))} |",
            f"| time to recover (throughput ≥ 90 %, p99 ≤ 110 % of the baseline) |"
            f" {_s(record.get('ttr'))} |",
        ]
    lines += [
        "",
        "## Timeline",
        "",
        "| time (UTC) | since the flip | event |",
        "|---|---|---|",
    ]
    for e in record["events"]:
        since = "" if flip is None else f"{e['t'] - flip:+.1f} s"
        detail = {k: v for k, v in e.items() if k not in ("t", "event")}
        text = e["event"]
        if "alert" in detail:
            text += f" `{detail['alert']}` ([runbook](../../runbooks/{detail['alert']}.md))"
        elif "command" in detail:
            text += f" from [{detail['runbook']}](../../{detail['runbook']}): `{detail['command']}`"
            if detail.get("status"):
                text += f" → HTTP {detail['status']}"
        elif "process" in detail:
            text += f": {detail['process']} {detail['how']}"
        elif "switch" in detail:
            text += f" `{detail['switch']}` → `{json.dumps(detail['value'])}`"
        elif "arrivals_per_s" in detail:
            text += f": {detail['arrivals_per_s']:.0f} arrivals/s"
        elif "capacity" in detail:
            text += (
                f": {detail['capacity']:.0f} answers/s under {detail['probe_rate']:.0f}+"
                f" arrivals/s for {detail['seconds']:g} s; baseline rate {detail['rate']:g}/s"
            )
        elif "throughput" in detail and detail["throughput"] is not None:
            text += (
                f": {detail['throughput']:.1f} 2xx/s, p99 {(detail.get('p99') or 0) * 1000:.0f} ms"
            )
        lines.append(f"| {_clock(e['t'])} | {since} | {text} |")
    if record.get("recovery"):
        lines += _recovery_table(record["recovery"])
    lines += ["", "## Incident-timeline panels", ""]
    if chart_name:
        lines += [
            "The panels of the [incident timeline]"
            "(../../grafana/dashboards/shop-incident-timeline.json)"
            " (`/d/shop-incident-timeline`), each with its own queries over the drill's recorded"
            " Prometheus data:",
            "",
            f"![incident timeline]({chart_name})",
        ]
    else:
        lines.append("No chart: the Prometheus data could not be exported.")
    lines += ["", "## Consistency audit", "", "```", record.get("audit", "not run"), "```", ""]
    for warning in record.get("warnings", []):
        lines.append(f"Note: {warning}.")
    if record.get("budget_tickets"):
        lines.append(
            f"Note: the SLO tickets {', '.join(record['budget_tickets'])} were still open at the"
            " end: the incident spent error budget, and their long windows remember it (at lab"
            " speed for hours, in production for days). They are not counted against recovery."
        )
    return "\n".join(lines).rstrip() + "\n"


def write(record: dict[str, Any], run_dir: Path, out: Path, runs: Path = history.HISTORY) -> Path:
    # A run on the production rules is kept beside the lab one, not over it.
    name = f"gameday-{record['scenario']}" + ("-production-rules" if record["scale"] == "1" else "")
    image = out / name / "timeline.png"
    has_chart = chart(record, run_dir, image)
    page = out / f"{name}.md"
    page.write_text(render(record, f"{name}/timeline.png" if has_chart else None))
    summary = {
        k: record.get(k)
        for k in ("scenario", "switch", "value", "fault", "expected", "tolerated", "scale", "rules",
                  "ttd", "ttn", "ttm", "ttr", "failures", "started", "users")
    }  # fmt: skip
    (out / f"{name}.json").write_text(
        json.dumps({**summary, "page": f"{name}.md"}, indent=2, default=str)
    )
    write_index(out, history.read(runs))
    return page


def write_index(out: Path, runs: list[dict[str, Any]]) -> None:
    """The table between the markers of docs/incidents/README.md, from every summary, with
    each scenario's TTD trend from the history."""
    rows = [
        "| scenario | fault | expected alerts (TTD each) | TTD (first) | TTN | TTR | rules"
        " | verdict | TTD trend (oldest → newest) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for path in sorted(out.glob("gameday-*.json")):
        s = json.loads(path.read_text())
        ttd = s.get("ttd") or {}
        first = min((ttd[a] for a in s["expected"] if a in ttd), default=None)
        ttn = min(((s.get("ttn") or {})[a] for a in s["expected"] if a in (s.get("ttn") or {})),
                  default=None)  # fmt: skip
        detected = ", ".join(f"{a} {_s(ttd.get(a))}" for a in s["expected"])
        flip = f"`{_fault(s)}`"
        rows.append(
            f"| [{s['scenario']}]({s.get('page', 'gameday-' + s['scenario'] + '.md')}) | {flip}"
            f" | {detected} | {_s(first)} | {_s(ttn)} | {_s(s.get('ttr'))} | {s['rules']}"
            f" | {'passed' if not s['failures'] else 'failed: ' + '; '.join(s['failures'])}"
            f" | {history.trend(runs, s['scenario'], s['scale'])} |"
        )
    index = out / "README.md"
    text = index.read_text() if index.exists() else f"# Incidents\n\n{INDEX_START}\n{INDEX_END}\n"
    if INDEX_START not in text:
        text += f"\n{INDEX_START}\n{INDEX_END}\n"
    head, rest = text.split(INDEX_START, 1)
    tail = rest.split(INDEX_END, 1)[1]
    index.write_text(f"{head}{INDEX_START}\n" + "\n".join(rows) + f"\n{INDEX_END}{tail}")

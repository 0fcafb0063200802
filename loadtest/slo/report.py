"""`make loadtest-report RUN=<run dir>`: a run turned into `docs/loadtest/<run>/README.md` and
its self-contained twin `README.html`.

Charts (PNG, matplotlib), switch flips and firing alerts marked on each: throughput and users;
p50/p95/p99, of all requests and of each request name (from the run's request log);
failures and business rejections
by class over time; what the shop felt (lock wait p99, pool pending and used) from the recorded
Prometheus series (`prometheus_series.json`), or from the Shop tab's own readings
(`shop_series.json`) when the run was not recorded. Then the run's metadata, the original's
results table (TPS, p95, error rate, consistency) with the original's published figures beside
ours, the slowest requests with their trace ids (Jaeger links with `--jaeger-url`), the gate's
verdict and the audit.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt
from matplotlib.axes import Axes

from loadtest import ROOT
from loadtest.slo import gate, html, requests
from loadtest.traffic import contract

# The original's published figures (8-core laptop, Spring Boot, MySQL 8, Redis 7; k6).
ORIGINAL: dict[str, dict[str, str]] = {
    "coupon": {"tps": "372", "p95": "96.7 ms", "errors": "–", "consistency": "0 duplicates"},
    "charge": {"tps": "551", "p95": "287.7 ms", "errors": "0 %", "consistency": "0 lost"},
    "order": {"tps": "81.7", "p95": "131 ms", "errors": "–", "consistency": "never oversold"},
}
# The request whose rate is "the TPS" of a scenario, as the original counted it.
PRIMARY = {
    "coupon": contract.ISSUE,
    "charge": contract.CHARGE,
    "order": contract.ORDER,
    "browse": contract.PRODUCTS,
}


def read_csv(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def num(value: str | None) -> float | None:
    try:
        return float(value) if value not in (None, "", "N/A") else None
    except ValueError:
        return None


def column(rows: list[dict[str, str]], name: str) -> list[float]:
    """One column of locust's CSV as a line to plot: a missing value is a gap (NaN)."""
    return [float("nan") if (v := num(r[name])) is None else v for r in rows]


def read_json(path: Path) -> Any:
    return json.loads(path.read_text()) if path.exists() else None


def _seconds(times: Sequence[float], start: float) -> list[float]:
    return [t - start for t in times]


def _mark_switches(ax: Axes, events: list[dict[str, Any]], start: float) -> None:
    """Switch flips (grey) and alerts starting to fire (red) as marked events."""
    for event in events:
        if "value" in event:
            label, color = f"{event['switch']}={event['value']}", "grey"
        elif "alert" in event:
            label, color = f"{event['alert']} firing", "red"
        else:
            continue
        ax.axvline(event["t"] - start, color=color, linestyle="--", linewidth=0.8)
        ax.annotate(
            label,
            (event["t"] - start, 1),
            xycoords=("data", "axes fraction"),
            fontsize=7,
            rotation=90,
            va="top",
            color=color,
        )


def alert_events(series: dict[str, Any] | None) -> list[dict[str, Any]]:
    """When each alert recorded by the run's Prometheus started firing (first sample)."""
    result = (series or {}).get("series", {}).get("alerts")
    if not isinstance(result, list):
        return []
    return [
        {"t": float(item["values"][0][0]), "alert": item["metric"].get("alertname", "?")}
        for item in result
        if item.get("values")
    ]


def request_percentiles(run: Path, out: Path, start: float, events: list[dict[str, Any]]) -> str:
    """p50/p95/p99 per second of each request name, from the run's request log ("" if none)."""
    by_name = requests.per_second(requests.read(run), start)
    names = sorted(n for n in by_name if n != requests.TOTAL)
    if not names:
        return ""
    fig, axes = plt.subplots(len(names), 1, figsize=(9, 2.4 * len(names)), squeeze=False)
    for ax, name in zip(axes[:, 0], names, strict=True):
        seconds = by_name[name]
        for label in ("p50", "p95", "p99"):
            ax.plot(seconds.second, getattr(seconds, label), label=label)
        ax.set_title(name, fontsize=9)
        ax.set_ylabel("ms")
        ax.legend(fontsize=7, loc="upper left")
        _mark_switches(ax, events, start)
    axes[-1, 0].set_xlabel("seconds")
    return save(fig, out / "latency_by_request.png")


def save(fig: Any, path: Path) -> str:
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path.name


def _prometheus_lines(
    series: dict[str, Any] | None, name: str, label: str | None, start: float
) -> list[tuple[str, list[float], list[float]]]:
    """[(legend, seconds, values)] of one recorded range query."""
    if not series:
        return []
    result = series["series"].get(name)
    if not isinstance(result, list):
        return []
    out = []
    for item in result:
        legend = item["metric"].get(label, name) if label else name
        xs = [float(t) - start for t, _ in item["values"]]
        ys = [float(v) if v not in ("NaN", "+Inf") else float("nan") for _, v in item["values"]]
        out.append((legend, xs, ys))
    return out


def _shop_lines(
    points: list[dict[str, Any]] | None, key: str, start: float, scale: float = 1.0
) -> list[tuple[str, list[float], list[float]]]:
    """The same shape from the Shop tab's readings ({series name: value} per point)."""
    if not points:
        return []
    names = sorted({n for p in points for n in (p.get(key) or {})})
    out = []
    for name in names:
        xs, ys = [], []
        for p in points:
            value = (p.get(key) or {}).get(name)
            xs.append(p["t"] - start)
            ys.append(float("nan") if value is None else value * scale)
        out.append((name, xs, ys))
    return out


def charts(run: Path, out: Path, meta: dict[str, Any]) -> dict[str, str]:
    history = [r for r in read_csv(run / "locust_stats_history.csv") if r["Name"] == "Aggregated"]
    summary = read_json(run / "locust_summary.json") or {}
    prom = read_json(run / "prometheus_series.json")
    events = summary.get("switch_events", []) + alert_events(prom)
    start = float(meta.get("started") or (num(history[0]["Timestamp"]) if history else 0) or 0)
    shop = read_json(run / "shop_series.json")
    t = _seconds([num(r["Timestamp"]) or 0 for r in history], start)
    made: dict[str, str] = {}

    fig, ax = plt.subplots(figsize=(9, 3.5))
    ax.plot(t, column(history, "Requests/s"), label="requests/s")
    ax.plot(t, column(history, "Failures/s"), label="failures/s", color="red")
    ax.set_xlabel("seconds")
    ax.set_ylabel("per second")
    users = ax.twinx()
    users.plot(t, column(history, "User Count"), color="grey", alpha=0.5)
    users.set_ylabel("users")
    ax.legend(loc="upper left")
    ax.set_title("Throughput (locust)")
    _mark_switches(ax, events, start)
    made["throughput"] = save(fig, out / "throughput.png")

    fig, ax = plt.subplots(figsize=(9, 3.5))
    for name in ("50%", "95%", "99%"):
        ax.plot(t, column(history, name), label=f"p{name[:-1]}")
    ax.set_xlabel("seconds")
    ax.set_ylabel("ms")
    ax.set_title("Response time percentiles (locust, all requests)")
    ax.legend()
    _mark_switches(ax, events, start)
    made["latency"] = save(fig, out / "latency.png")
    if by_request := request_percentiles(run, out, start, events):
        made["by_request"] = by_request

    fig, ax = plt.subplots(figsize=(9, 3.5))
    ax.plot(t, column(history, "Failures/s"), label="failures", color="red")
    rejected = _prometheus_lines(prom, "locust_rejections_rps", "code", start) or _shop_lines(
        shop, "locust_rejections", start
    )
    for legend, xs, ys in rejected:
        ax.plot(xs, ys, label=f"rejected {legend}")
    ax.set_xlabel("seconds")
    ax.set_ylabel("per second")
    ax.set_title("Failures and business rejections by class")
    ax.legend(fontsize=8)
    _mark_switches(ax, events, start)
    made["outcomes"] = save(fig, out / "outcomes.png")

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.5))
    waits = _prometheus_lines(prom, "lock_wait_p99", "lock_name", start)
    waits = [(n, xs, [y * 1000 for y in ys]) for n, xs, ys in waits] or _shop_lines(
        shop, "lock_wait_p99", start, 1000
    )
    for legend, xs, ys in waits:
        left.plot(xs, ys, label=legend)
    left.set_title("Lock wait p99 by lock (ms)")
    left.set_xlabel("seconds")
    for key, style in (("pool_pending", "-"), ("pool_used", ":")):
        lines = _prometheus_lines(prom, key, "pool", start) or _shop_lines(shop, key, start)
        for legend, xs, ys in lines:
            right.plot(xs, ys, style, label=f"{key.split('_')[1]} {legend}")
    right.set_title("Pools: pending (solid) and used (dotted)")
    right.set_xlabel("seconds")
    for ax in (left, right):
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
        _mark_switches(ax, events, start)
    made["shop"] = save(fig, out / "shop.png")
    return made


def results_table(run: Path, meta: dict[str, Any]) -> str:
    stats = {r["Name"]: r for r in read_csv(run / "locust_stats.csv")}
    scenario = meta.get("scenario", "")
    profile = meta.get("profile", scenario)
    name = PRIMARY.get(profile, "Aggregated")
    row = stats.get(name) or stats.get("Aggregated") or {}
    total = stats.get("Aggregated", {})
    count = num(total.get("Request Count")) or 0
    failed = num(total.get("Failure Count")) or 0
    found = meta.get("audit_discrepancies")
    audit = "not audited" if found is None else "clean" if found == 0 else f"{found} discrepancies"
    original = ORIGINAL.get(profile, {})
    ours = {
        "tps": f"{num(row.get('Requests/s')) or 0:.1f}",
        "p95": f"{num(row.get('95%')) or 0:.0f} ms",
        "errors": f"{failed / count:.2%}" if count else "–",
        "consistency": audit,
    }
    lines = [
        f"| {scenario} (`{name}`) | TPS | p95 | error rate | consistency |",
        "|---|---|---|---|---|",
        "| this run | "
        + " | ".join(ours[k] for k in ("tps", "p95", "errors", "consistency"))
        + " |",
    ]
    if original:
        lines.append(
            "| the original (published) | "
            + " | ".join(original[k] for k in ("tps", "p95", "errors", "consistency"))
            + " |"
        )
    return "\n".join(lines)


_CLASSES = {
    gate.SHED: "shed (503 at the admission gate)",
    gate.NOT_STARTED: "open-model arrival not started on time",
}


def rejections_table(run: Path) -> str:
    summary = read_json(run / "locust_summary.json") or {}
    rows = summary.get("rejections") or []
    if not rows:
        return "No business rejections."
    lines = ["| request | code | class | count |", "|---|---|---|---|"]
    lines += [
        f"| `{r['name']}` | {r['code']} | {_CLASSES.get(r['code'], 'business rejection')} |"
        f" {r['count']} |"
        for r in rows
    ]
    return "\n".join(lines)


def metadata(meta: dict[str, Any]) -> str:
    """Where and how the run ran: what a reader needs before comparing it with another."""
    machine = meta.get("machine") or {}
    rows = {
        "commit": f"`{meta.get('commit', 'unknown')}`",
        "machine": f"{machine.get('host', '?')}, {machine.get('system', '?')},"
        f" {machine.get('cores', meta.get('cores', '?'))} cores, load {machine.get('load', '?')}"
        f" at the start, speed probe {meta.get('probe_ms', '?')} ms",
        "scenario": f"`{meta.get('scenario')}` (profile `{meta.get('profile')}`)",
        "shape": " → ".join(f"{u} users in {s:g} s" for s, u in meta.get("shape", [])) or "?",
        "scale": str(meta.get("scale")),
        "model": str(meta.get("model", "closed")),
        "switch flips": f"`{meta.get('flips')}`" if meta.get("flips") else "none",
    }
    return "\n".join(["| | |", "|---|---|", *(f"| {k} | {v} |" for k, v in rows.items())])


def slowest_table(run: Path, jaeger_url: str | None, n: int = 10) -> str:
    """The slowest requests sent as sampled traces (the ones the shop traced, when it traces)."""
    logged = requests.read(run)
    if not logged:
        return "No request log in this run."
    sampled = [r for r in logged if r.sampled]
    worst = requests.slowest(logged, 1)[0]
    lines = [
        f"{len(sampled)} of {len(logged)} requests were sent as sampled traces; the slowest of"
        f" all took {worst.ms:.0f} ms (`{worst.name}`).",
        "",
        "| request | ms | outcome | trace |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| `{r.name}` | {r.ms:.0f} | {'ok' if r.ok else 'failed'} |"
        f" {requests.trace_link(r, jaeger_url)} |"
        for r in requests.slowest(sampled, n)
    ]
    return "\n".join(lines)


def write(run: Path, out: Path | None = None, jaeger_url: str | None = None) -> Path:
    meta = read_json(run / "run.json") or {}
    out = out or ROOT / "docs" / "loadtest" / run.name
    out.mkdir(parents=True, exist_ok=True)
    made = charts(run, out, meta)
    when = datetime.fromtimestamp(float(meta.get("started", 0)), UTC).strftime("%Y-%m-%d %H:%M")
    recorded = "Prometheus" if (run / "prometheus_series.json").exists() else "the Shop tab"
    verdict = (run / "verdict.txt").read_text() if (run / "verdict.txt").exists() else ""
    audit = (run / "audit.txt").read_text() if (run / "audit.txt").exists() else ""
    cpu = meta.get("generator_cpu_share")
    cpu_line = (
        f"Load generator CPU: {cpu:.0%} of the machine's {meta.get('cores')} cores"
        f" ({meta.get('generator_core_share_per_process', 0):.0%} of a core per locust process,"
        f" {meta.get('workers', 0)} workers); the whole machine was"
        f" {meta.get('machine_cpu_share', 0):.0%} busy."
        if cpu is not None
        else ""
    )
    by_request = (
        f"\n### By request\n![by request]({made['by_request']})\n" if "by_request" in made else ""
    )
    text = f"""# Load test: {meta.get("scenario", run.name)} ({when} UTC)

Scenario `{meta.get("scenario")}` (profile `{meta.get("profile")}`) at time scale
{meta.get("scale")}, against {", ".join(meta.get("shop_urls", []))}, {meta.get("seeded_users")}
seeded users, {meta.get("wall_seconds", 0):.0f} s. {cpu_line}
Shop-side charts from {recorded}.

{metadata(meta)}

## Results beside the original's

{results_table(run, meta)}

## Throughput
![throughput]({made["throughput"]})

## Response times
![latency]({made["latency"]})
{by_request}
## Slowest requests

{slowest_table(run, jaeger_url)}

## Failures and business rejections
![outcomes]({made["outcomes"]})

{rejections_table(run)}

## What the shop felt
![shop]({made["shop"]})

## SLO gate
```
{verdict.strip()}
```

## Consistency audit
```
{audit.strip()}
```
"""
    (out / "README.md").write_text(text)
    html.write(out / "README.md")
    return out / "README.md"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="loadtest.slo.report", description=__doc__.split("\n")[0])
    parser.add_argument("run", type=Path, help="a run directory (.run/loadtest/<scenario>-<time>)")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument(
        "--jaeger-url",
        default=os.environ.get("JAEGER_URL"),
        help="link trace ids to this Jaeger UI (e.g. http://localhost:16686)",
    )
    args = parser.parse_args(argv)
    if not (args.run / "locust_stats.csv").exists():
        print(f"{args.run} holds no locust results", file=sys.stderr)
        return 2
    print(f"report: {write(args.run, args.out, args.jaeger_url)}")
    return 0

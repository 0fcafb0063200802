"""Past capacity, with and without admission control: the open model at 0.8x to 4x capacity.

For charge, coupon issue and order in turn: first the capacity, as the answers per second of
the shop without admission control under crowds of doubling rate, until they outrun it; then the
open model (`make loadtest`'s driver, scenario `open-<endpoint>`, locust with two workers) at
0.8x, 1x, 2x and 4x that capacity, against each variant, interleaved step by step on one data
set: fronts `direct` (a shop with `SHOP_ADMISSION=on`, one with it off) and `haproxy` (HAProxy
refusing past its bounds in front of the shop without admission, decision 0058). Latencies are
timed from each arrival's intended start (decision 0042). Usage: `python -m loadtest bench
overload --out docs/benchmarks/overload.md [--fronts direct,haproxy]` (`make bench-overload`).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import tempfile
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # after choosing the headless backend

from loadtest import ROOT
from loadtest.bench.ceiling import describe_machine
from loadtest.harness import cores, database, proxy, shop
from loadtest.harness.ports import free_port
from loadtest.harness.processes import busy_between, cpu_sample, cpu_seconds, sampling, stop
from loadtest.slo import gate, requests
from loadtest.traffic import contract
from loadtest.traffic.run import headless
from loadtest.traffic.shop_metrics import Flat, delta, flatten

DB_URL = os.environ.get("SHOP_BENCH_DB_URL", "mysql://root:@127.0.0.1:3306/shop_overload")
USERS = 20_000
ENDPOINTS = {"charge": contract.CHARGE, "coupon": contract.ISSUE, "order": contract.ORDER}
MULTIPLES = (0.8, 1.0, 2.0, 4.0)
# The capacity probe's first rate (arrivals/s), doubled while the shop answers nearly all of it,
# up to what locust's two workers start here (~4,000/s): the capacity is the most it answered.
PROBE = 1000.0
PROBE_MAX = 4000.0
SCALE = 0.5  # of the 20 s steady profile: 10 s per step
SECONDS = 20 * SCALE
# The variants of each front, in the order each step runs them (their `admission` column).
FRONTS = {"direct": ("on", "off"), "haproxy": ("haproxy",)}
# HAProxy's bounds in front of one shop process, per route class (decision 0058): in flight,
# what the shop serves within the latency target (a charge holds a database connection for its
# whole answer, so more in flight only queue inside; coupon issues and orders are group-committed,
# and a batch needs company); waiting, a short queue that evens out bursts; and no request waits
# at the proxy longer than 5 ms, well inside the 20 ms a refusal may take (a request that waited
# the whole timeout is refused after it).
# A CPU this busy while arrivals were due leaves the processes on it waiting for their turn.
SATURATED = 0.95
BOUNDS = proxy.Classes(
    other=proxy.Bounds(maxconn=24, queue=32, timeout_ms=5),
    batched=proxy.Bounds(maxconn=64, queue=32, timeout_ms=5),
)


def _scrape(url: str) -> Flat:
    with urllib.request.urlopen(f"{url}/metrics", timeout=10) as answer:
        return flatten(answer.read().decode())


def _server_side(before: Flat, after: Flat, run_dir: Path) -> dict[str, Any]:
    """The shop's own view of a step: refusals by reason (`late`: the request had waited past
    its deadline before the gate saw it, in the event loop) and the loop's lag, its p99 in the
    step's worst second (from the run's once-a-second reading of the shop)."""
    grown = delta(before, after)
    reasons: dict[str, float] = {}
    for (name, labels), value in grown.items():
        if name == "shop_admission_refusals_total" and value > 0:
            reason = dict(labels)["reason"]
            reasons[reason] = reasons.get(reason, 0.0) + value
    series = run_dir / "shop_series.json"
    seconds = json.loads(series.read_text()) if series.exists() else []
    lags = [float(s["loop_lag_p99"]) for s in seconds if s.get("loop_lag_p99") is not None]
    limits = sorted(float(s["admission_limit"]) for s in seconds if s.get("admission_limit"))
    return {
        "refusals": reasons,
        "loop_lag_p99_ms": max(lags) * 1000 if lags else None,
        "limit": limits[len(limits) // 2] if limits else None,
    }


def _step(
    kind: str,
    replica: shop.Replica,
    rate: float,
    run_dir: Path,
    front: proxy.Proxy | None = None,
) -> dict[str, Any]:
    """One open-model run at `rate` arrivals/s, through `front` when given; what it measured,
    the shop's view (and the proxy's CPU) beside."""
    before, cpu = _scrape(replica.url), cpu_seconds(replica.process.pid)
    proxy_cpu = cpu_seconds(front.process.pid) if front else 0.0
    logged = front.log_offset() if front else 0
    with sampling(cpu_sample, 0.25, ends=True) as cpus:
        headless(
            f"open-{kind}",
            shop_urls=[front.url if front else replica.url],
            db_url=DB_URL,
            seed_users=USERS,
            run_dir=run_dir,
            scale=SCALE,
            extra=["--capacity", f"{rate:.1f}", "--workers", "2", "--watch", replica.url],
        )
    # The shop is idle but for the warm-up's health checks outside the schedule's seconds.
    shop_core = (cpu_seconds(replica.process.pid) - cpu) / SECONDS
    proxy_core = (cpu_seconds(front.process.pid) - proxy_cpu) / SECONDS if front else None
    # Each CPU's busy share while arrivals were due (not the generator's spawn and warm-up).
    due = [r.t for r in requests.read(run_dir)]
    busy = busy_between(cpus, min(due), max(due)) if due else []
    server = _server_side(before, _scrape(replica.url), run_dir)
    stats = gate.read_stats(run_dir / "locust_stats.csv")
    name = ENDPOINTS[kind]
    served = stats.get(f"{name} @intended", {})
    shed = stats.get(f"{name} @shed", {})
    tallies = gate.read_tallies(run_dir / "locust_summary.json")
    meta = json.loads((run_dir / "run.json").read_text())
    answered = float(served.get("Request Count", 0) or 0)
    failed = float(served.get("Failure Count", 0) or 0)
    return {
        "offered": rate,
        "goodput": (answered - failed) / SECONDS,
        "p99_ms": float(served.get("99%", 0) or 0),
        "shed": float(shed.get("Request Count", 0) or 0) / SECONDS,
        "shed_p99_ms": float(shed.get("99%", 0) or 0) if shed else None,
        "errors": failed,
        "not_started": sum(r["count"] for r in tallies if r["code"] == gate.NOT_STARTED),
        "generator_core": meta.get("generator_core_share_per_process", 0.0),
        "machine": meta.get("machine_cpu_share", 0.0),
        "shop_core": shop_core,
        "proxy_core": proxy_core,
        "cpu_busy": busy,
        "in_proxy": _in_proxy(front.timings(logged)) if front else None,
        **server,
    }


def _p99(values: list[int]) -> float | None:
    return sorted(values)[int(0.99 * (len(values) - 1))] if values else None


def _in_proxy(timings: list[proxy.Timing]) -> dict[str, float | None]:
    """HAProxy's own view of a step's sampled requests (ms, p99): an answer from the shop from
    the proxy's first byte to its last, of which the shop's part; a refusal, the same."""
    timings = [t for t in timings if t.path.startswith("/api/")]  # not the warm-up's health checks
    served = [t for t in timings if t.status != 503 and t.server_ms >= 0]
    refused = [t.total_ms for t in timings if t.status == 503]
    return {
        "served_p99_ms": _p99([t.total_ms for t in served]),
        "shop_p99_ms": _p99([t.server_ms for t in served]),
        "refused_p99_ms": _p99(refused),
    }


def _probe(kind: str, replica: shop.Replica, work: Path) -> list[dict[str, Any]]:
    """Crowds of doubling rate against the shop without admission control until its answers
    stop keeping up (less than 90 % of the arrivals answered) or the generator's ceiling."""
    rate, probes = PROBE, []
    while True:
        probes.append(_step(kind, replica, rate, work / f"{kind}-probe-{rate:.0f}"))
        print(f"overload: {kind} probe {rate:.0f}/s: {probes[-1]['goodput']:.0f} answered/s")
        if probes[-1]["goodput"] < 0.9 * rate or rate >= PROBE_MAX:
            return probes
        rate = min(2 * rate, PROBE_MAX)


def _endpoint(
    kind: str,
    shops: dict[str, shop.Replica],
    modes: list[str],
    multiples: list[float],
    bounds: proxy.Classes | None,
    work: Path,
) -> dict[str, Any]:
    """One endpoint: its capacity probed on the shop without admission, then every multiple of
    it against each variant in turn (HAProxy in front of that same shop, with `bounds`)."""
    with contextlib.ExitStack() as fronts:
        front = (
            fronts.enter_context(proxy.fronting(shops["off"].url, bounds, work=work))
            if bounds
            else None
        )
        probes = _probe(kind, shops["off"], work)
        capacity = max(max(p["goodput"] for p in probes), 1.0)
        steps: list[dict[str, Any]] = []
        for multiple in multiples:
            for mode in modes:
                measured = _step(
                    kind,
                    shops["off" if mode == "haproxy" else mode],
                    capacity * multiple,
                    work / f"{kind}-{multiple}-{mode}",
                    front if mode == "haproxy" else None,
                )
                steps.append({"multiple": multiple, "admission": mode, **measured})
                print(f"overload: {kind} {multiple}x {mode}: {json.dumps(measured)}")
    return {
        "capacity": capacity,
        "probes": probes,
        "steps": steps,
        "bounds": dataclasses.asdict(bounds) if bounds else None,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="loadtest bench overload")
    parser.add_argument("--out", type=Path, default=ROOT / "docs/benchmarks/overload.md")
    parser.add_argument("--endpoints", default=",".join(ENDPOINTS))
    parser.add_argument("--fronts", default=",".join(FRONTS), help="direct, haproxy or both")
    parser.add_argument(
        "--multiples", default=",".join(f"{m:g}" for m in MULTIPLES), help="of the capacity"
    )
    parser.add_argument("--maxconn", type=int, default=BOUNDS.other.maxconn, help="HAProxy's")
    parser.add_argument(
        "--batched-maxconn",
        type=int,
        default=BOUNDS.batched.maxconn,
        help="HAProxy's, for coupon issues and orders",
    )
    parser.add_argument("--queue", type=int, default=BOUNDS.other.queue, help="HAProxy's queue")
    parser.add_argument(
        "--queue-timeout-ms", type=int, default=BOUNDS.other.timeout_ms, help="its timeout"
    )
    parser.add_argument(
        "--pin",
        action="store_true",
        help="cores of their own: locust and HAProxy on the first half of the CPUs, the shop"
        " and the local database server on the rest",
    )
    parser.add_argument("--from-results", type=Path, help="re-render a run's results.json")
    args = parser.parse_args(argv)
    if args.from_results:
        write(json.loads(args.from_results.read_text()), args.out)
        return 0
    unknown = set(args.fronts.split(",")) - set(FRONTS)
    if unknown:
        parser.error(f"--fronts: {', '.join(sorted(unknown))}: not one of {', '.join(FRONTS)}")
    modes = [mode for front in args.fronts.split(",") for mode in FRONTS[front]]
    multiples = [float(m) for m in args.multiples.split(",")]
    bounds = proxy.Classes(
        proxy.Bounds(args.maxconn, args.queue, args.queue_timeout_ms),
        proxy.Bounds(args.batched_maxconn, args.queue, args.queue_timeout_ms),
    )
    machine = describe_machine()
    partition = cores.Partition.halves() if args.pin else None
    database.fresh_dataset(DB_URL, users=USERS, stock=100_000_000, coupon_quantity=100_000_000)
    base = {"SHOP_DB_URL": DB_URL, "SHOP_LOG_LEVEL": "WARNING"}
    work = Path(tempfile.mkdtemp(prefix="overload-"))
    # The probe's shop, without admission, is also the one behind HAProxy (its gate).
    shops: dict[str, shop.Replica] = {
        mode: shop.launch(
            f"http://127.0.0.1:{free_port()}",
            {**base, "SHOP_ADMISSION": mode},
            log=work / f"shop-{mode}.log",
            prefix=cores.on(partition.servers) if partition else (),
        )
        for mode in ("on", "off")
        if mode in modes or mode == "off"
    }
    results: dict[str, Any] = {
        "machine": machine,
        "endpoints": {},
        "written": time.time(),
        "cores": partition.describe() if partition else None,
    }
    try:
        for replica in shops.values():
            replica.wait_ready()
        with contextlib.ExitStack() as pinned:
            if partition:
                # Before HAProxy and locust start: they inherit this process's CPUs.
                pinned.enter_context(cores.partitioned(partition, servers=cores.database_pids()))
            for kind in args.endpoints.split(","):
                front = bounds if "haproxy" in modes else None
                results["endpoints"][kind] = _endpoint(kind, shops, modes, multiples, front, work)
    finally:
        for replica in shops.values():
            stop(replica.process)
    results["load_after"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    (work / "results.json").write_text(json.dumps(results, indent=2))
    write(results, args.out)
    print(f"overload: {args.out} (raw results in {work})")
    return 0


def _targets(entry: dict[str, Any], mode: str) -> list[str]:
    """The overload targets (decision 0049) of a variant that refuses (admission on, or
    HAProxy in front), at each offered rate up to 4x: from each arrival's intended start at the
    client, and for HAProxy also from its first byte to its last inside the proxy."""
    capacity = entry["capacity"]
    on = [s for s in entry["steps"] if s["admission"] == mode]
    base = next((s["p99_ms"] for s in on if s["multiple"] == 0.8), None)
    # HAProxy's own timings (sampled), where it was in front: the same targets inside the proxy.
    base_in_proxy = next((s.get("in_proxy") for s in on if s["multiple"] == 0.8), None)
    out = []
    for s in on:
        if s["multiple"] < 1:
            continue
        checks = [
            (f"goodput {s['goodput'] / capacity:.0%} of capacity", s["goodput"] >= 0.9 * capacity),
            *_latencies(s["p99_ms"], base, s["shed_p99_ms"]),
            (f"{s['errors']:.0f} errors or timeouts", s["errors"] == 0),
        ]
        seen = s.get("in_proxy")
        if seen and base_in_proxy and seen["served_p99_ms"] is not None:
            checks += _latencies(
                seen["served_p99_ms"],
                base_in_proxy["served_p99_ms"],
                seen["refused_p99_ms"],
                where="at the proxy: ",
            )
        out.append(
            f"{s['multiple']:g}x: "
            + "; ".join(f"{text} {'met' if ok else '**not met**'}" for text, ok in checks)
        )
    return out


def _latencies(
    served: float, base: float | None, refused: float | None, *, where: str = ""
) -> list[tuple[str, bool]]:
    """The latency targets: the served p99 at most twice its p99 at 0.8x (`base`), and the
    refusals' p99 under 20 ms (`where` names the side they were measured on)."""
    return [
        (
            f"{where}2xx p99 {served:.0f} ms vs 2x {_ms(base)} ms at 0.8x",
            base is not None and served <= 2 * base,
        ),
        (f"refusal p99 {_ms(refused)} ms", refused is None or refused < 20),
    ]


def _bounds(results: dict[str, Any]) -> list[str]:
    """What the machine's state says about every figure below."""
    steps = [(kind, s) for kind, e in results["endpoints"].items() for s in e["steps"]]
    if not steps:
        return []
    generator = max(s["generator_core"] for _, s in steps)
    pinned = results.get("cores")
    text = (
        f"The busiest locust process used at most {generator:.0%} of a core over its run (its"
        " spawn and warm-up included)."
    )
    if pinned:
        text += (
            f" Cores of their own (`--pin`): locust, HAProxy and the bench on CPU"
            f" {_cpus(pinned['tools'])}, the shop and the database server on CPU"
            f" {_cpus(pinned['servers'])}, so a refusal at the proxy never waits for the shop's"
            " core, and the capacities are those of the shop and its database sharing one."
        )
    if any(s.get("cpu_busy") for _, s in steps):
        watched = pinned["tools"] if pinned else None
        saturated = [
            f"{kind} {s['multiple']:g}x {s['admission']}"
            for kind, s in steps
            if s.get("cpu_busy")
            and min(s["cpu_busy"][c] for c in (watched or range(len(s["cpu_busy"])))) >= SATURATED
        ]
        where = "the tools' CPU" if pinned else "every CPU"
        text += (
            f" While arrivals were due, {where} was at least {SATURATED:.0%} busy in"
            f" {len(saturated)} of {len(steps)} steps"
            + (
                f" ({', '.join(saturated)}): there the load generator's own wait for a core (its"
                " arrivals sent and their answers read late, at the highest rates some not"
                " started at all) is part of every latency measured at the client; HAProxy's own"
                " timing (*in proxy p99*) leaves it out."
                if saturated
                else ": the load generator was not the bottleneck."
            )
        )
    else:
        busy = sorted(s["machine"] for _, s in steps)[len(steps) // 2]
        text += f" The machine's cores were {busy:.0%} busy (median of the steps)."
    return [text, ""]


def _cpus(cpus: list[int]) -> str:
    return ", ".join(map(str, cpus))


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value:.0f}"


def _share(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


def _server_columns(step: dict[str, Any]) -> str:
    """Shop core, proxy core, loop lag, the share of refusals that were `late` and the gate's
    median limit (results written before the shop's view was recorded lack them)."""
    refusals = step.get("refusals") or {}
    shed = sum(refusals.values())
    late = f"{refusals.get('late', 0.0) / shed:.0%}" if shed else "–"
    lag = _ms(step.get("loop_lag_p99_ms"))
    cores = f"{_share(step.get('shop_core'))} | {_share(step.get('proxy_core'))}"
    return f"{cores} | {lag} | {late} | {_ms(step.get('limit'))}"


def _bounds_of(results: dict[str, Any], entry: dict[str, Any]) -> str | None:
    """HAProxy's bounds in front of an endpoint, in words (results written before there were
    route classes hold one set of bounds for the run)."""
    found = entry.get("bounds") or results.get("bounds")
    if not found:
        return None

    def told(b: dict[str, int]) -> str:
        return (
            f"at most {b['maxconn']} requests in flight at the shop, {b['queue']} waiting at"
            f" the proxy, each at most {b['timeout_ms']} ms"
        )

    if "batched" not in found:
        return f"HAProxy's bounds: {told(found)}."
    return (
        f"HAProxy's bounds: coupon issues and orders {told(found['batched'])}; every other"
        f" request {told(found['other'])}."
    )


def _busy(step: dict[str, Any]) -> str:
    """Each CPU's busy share while arrivals were due, or the machine's (older results)."""
    cpus = step.get("cpu_busy")
    return " / ".join(f"{b:.0%}" for b in cpus) if cpus else f"{step['machine']:.0%}"


def _in_proxy_column(seen: dict[str, float | None] | None) -> str:
    if not seen:
        return "–"
    return (
        f"served {_ms(seen['served_p99_ms'])} (shop {_ms(seen['shop_p99_ms'])}),"
        f" refused {_ms(seen['refused_p99_ms'])}"
    )


def write(results: dict[str, Any], out: Path) -> None:
    """The Markdown report and its chart (goodput and p99 against offered load)."""
    chart = out.with_suffix(".png")
    fig, axes = plt.subplots(
        2, len(results["endpoints"]), figsize=(5 * len(results["endpoints"]), 7), squeeze=False
    )
    proxied = (
        " *haproxy*: HAProxy in front of the shop without admission control, bounding the"
        " requests in flight at the shop and those waiting at the proxy (each endpoint's bounds"
        " under its heading), the rest refused by HAProxy with the same `503 OVERLOADED`"
        " (decision 0058); *proxy core*: its CPU seconds per second of schedule; *in proxy p99*:"
        f" HAProxy's own timing of one request in {proxy.LOG_SAMPLE}, from its first byte to"
        " the answer's last, of the served (of which the shop's part) and of the refused."
        if any(_bounds_of(results, entry) for entry in results["endpoints"].values())
        else ""
    )
    lines = [
        "# Overload: the open model past capacity, admission control on and off, HAProxy in front",
        "",
        f"Written by `make bench-overload{'-pinned' if results.get('cores') else ''}` on"
        f" {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(results.get('written')))}.",
        f"Machine: {results['machine']}; after it: {results.get('load_after', '?')}.",
        "",
        *_bounds(results),
        "Capacity: the most answers/s of the shop without admission control under crowds of"
        f" {PROBE:.0f} arrivals/s and more, doubled while it answered nearly all of them (up to"
        f" {PROBE_MAX:.0f}/s, what the generator starts here). Then {SECONDS:.0f} s per step,"
        " the variants (*admission*) interleaved; latencies from each arrival's intended start"
        " (coordinated omission corrected); *goodput* = answers that were neither shed nor"
        " failed, per second;"
        " *shed* = `503 OVERLOADED` per second. Load generator: locust, two workers"
        " (*gen. core* = the busiest locust process's share of one core), its pool of users"
        " spawned and connected before the first arrival (decision 0042). The shop's own view:"
        " *shop core* = its CPU seconds per second of schedule; *loop lag p99* = the event"
        " loop's lag in the step's worst second (time a ready request waits before any code,"
        " the gate included, runs for it); *late refusals* = the share of refusals for having"
        " waited past the queue deadline before reaching the gate; *limit* = the gate's"
        f" concurrency limit, its median over the step's seconds.{proxied}",
        "",
        f"![goodput and p99 against offered load]({chart.name})",
        "",
    ]
    for column, (kind, entry) in enumerate(results["endpoints"].items()):
        bounds = _bounds_of(results, entry)
        lines += [f"## {kind}: capacity {entry['capacity']:.0f}/s", ""]
        if bounds:
            lines += [bounds, ""]
        lines += [
            "| offered | admission | goodput/s | p99 (ms) | shed/s | shed p99 (ms) |"
            " errors | not started | gen. core | CPUs busy | shop core | proxy core |"
            " loop lag p99 (ms) | late refusals | limit | in proxy p99 (ms) |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for s in entry["steps"]:
            lines.append(
                f"| {s['multiple']:g}x ({s['offered']:.0f}/s) | {s['admission']} |"
                f" {s['goodput']:.0f} | {s['p99_ms']:.0f} | {s['shed']:.0f} |"
                f" {_ms(s['shed_p99_ms'])} | {s['errors']:.0f} | {s['not_started']:.0f} |"
                f" {s['generator_core']:.0%} | {_busy(s)} | {_server_columns(s)} |"
                f" {_in_proxy_column(s.get('in_proxy'))} |"
            )
        for mode, name in (("on", "admission on"), ("haproxy", "HAProxy in front")):
            if any(s["admission"] == mode for s in entry["steps"]):
                lines += ["", f"Targets with {name}:", ""]
                lines += [f"- {t}" for t in _targets(entry, mode)]
        lines.append("")
        for mode, style in (("on", "-o"), ("off", "--s"), ("haproxy", ":^")):
            steps = [s for s in entry["steps"] if s["admission"] == mode]
            if not steps:
                continue
            offered = [s["offered"] for s in steps]
            axes[0][column].plot(offered, [s["goodput"] for s in steps], style, label=mode)
            axes[1][column].plot(offered, [s["p99_ms"] for s in steps], style, label=mode)
        axes[0][column].set_title(f"{kind}: goodput/s")
        axes[1][column].set_title(f"{kind}: p99 of the served (ms)")
        axes[1][column].set_yscale("log")
        for row in (0, 1):
            axes[row][column].set_xlabel("offered arrivals/s")
            axes[row][column].legend(title="admission")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(chart, dpi=80)
    out.write_text("\n".join(lines) + "\n")

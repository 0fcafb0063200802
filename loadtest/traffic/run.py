"""`make loadtest SCENARIO=<name> [HEADLESS=1] [WORKERS=N] [SCALE=f] [SHOP_URL=...]`.

Targets the running shop (several replicas: a comma-separated list) or, when none answers,
starts one per URL with the data set seeded; has Prometheus scrape the shop and the locust
master for the run (`loadtest/harness/stack.py`); runs locust (one master, N worker processes with
`WORKERS=N`) with the web UI and its Shop tab on :8089; then audits MariaDB, applies the SLO
gate and exits non-zero when a threshold is crossed or the audit fails. Everything the run
produced lands in its run directory (`.run/loadtest/<scenario>-<time>/`), which
`make loadtest-report RUN=<dir>` turns into a report.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pymysql

from loadtest import ROOT, audit
from loadtest.harness import admin, database, shop, speed, stack
from loadtest.harness.ports import free_port
from loadtest.harness.processes import Processes, cpu_seconds, machine_jiffies
from loadtest.slo import gate
from loadtest.traffic.scenarios import (
    Scenario,
    drawn_schedule,
    format_schedule,
    parse_schedule,
    scenario,
    with_schedule,
)

WEBUI_DIST = ROOT / "loadtest" / "traffic" / "webui" / "dist"
DEFAULT_SHOP = "http://127.0.0.1:8081"
DEFAULT_DB = "mysql://root:@127.0.0.1:3306/shop"


def start_shop(
    urls: list[str], db_url: str, users: int, procs: Processes, log: Path, **env: str
) -> None:
    """Migrate, seed when empty, and serve one shop process per URL (Redis locks when >1)."""
    settings = {
        "SHOP_DB_URL": db_url,
        "SHOP_LOG_LEVEL": "WARNING",
        # As deployed: Redis in front (coupon gate, shared switches), under this run's own key
        # prefix so that its switch flips never reach another shop using the same Redis.
        "SHOP_REDIS_URL": os.environ.get("SHOP_REDIS_URL", "redis://127.0.0.1:6379/0"),
        "SHOP_REDIS_PREFIX": os.environ.get("SHOP_REDIS_PREFIX", f"loadtest:{os.getpid()}:"),
        **({"SHOP_LOCK_BACKEND": "redis"} if len(urls) > 1 else {}),
        **env,
    }
    database.prepare(db_url, users=users)
    for url in urls:
        replica = shop.launch(url, settings, log=log)
        procs.started.append(replica.process)
        replica.wait_ready()
        print(f"loadtest: started the shop on {url} (log: {log})")


def run_coupon(chosen: Scenario, url: str, token: str, stamp: str) -> str:
    """A fresh coupon of the scenario's quantity for the run, or the seeded one."""
    if not chosen.coupon_quantity:
        return "test-coupon-1"
    expires = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(time.time() + 86_400))
    created = admin.call(
        url,
        token,
        "POST",
        "/api/coupons",
        {
            "name": f"load test {chosen.name} {stamp}",
            "discountType": "FIXED",
            "discountValue": 1000,
            "minOrderAmount": 0,
            "totalQuantity": chosen.coupon_quantity,
            "expiresAt": expires,
        },
    )
    return str(created["couponId"])


def run_locust(
    args: argparse.Namespace,
    urls: list[str],
    run_dir: Path,
    users: int,
    coupon_id: str,
    procs: Processes,
) -> dict[str, Any]:
    """Run the master (and workers) until the shape ends or the tester stops it."""
    base = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(ROOT / "loadtest" / "locustfile.py"),
        "--host",
        ",".join(urls),
        "--scenario",
        args.scenario,
        "--scale",
        str(args.scale),
        "--shop-users",
        str(users),
        "--coupon-id",
        coupon_id,
        "--admin-token",
        args.admin_token,
        # Every process (workers too) logs its requests there (loadtest/traffic/samples.py).
        "--run-dir",
        str(run_dir),
        "--trace-sample",
        str(args.trace_sample),
        "--flips",
        args.flips,
        "--capacity",
        str(args.capacity),
        "--watch",
        args.watch or ",".join(urls),
    ]
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    master = [
        *base,
        "--web-host",
        args.web_host,
        "--web-port",
        str(args.web_port),
        "--autostart",
        "--csv",
        str(run_dir / "locust"),
        "--csv-full-history",
        "--html",
        str(run_dir / "locust.html"),
        "--only-summary",
    ]
    if WEBUI_DIST.joinpath("index.html").exists():
        master += ["--build-path", str(WEBUI_DIST)]
    else:
        print("loadtest: the Shop tab is not built (make webui); plain locust UI", file=sys.stderr)
    if args.headless:
        master.append("--quit-when-done")
    master_port = free_port()
    if args.workers:
        master += [
            "--master",
            "--master-bind-port",
            str(master_port),
            "--expect-workers",
            str(args.workers),
        ]
    log = (run_dir / "locust.log").open("ab")
    started = time.time()
    busy0, total0 = machine_jiffies()
    self_cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    master_proc = procs.start(master, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    workers = [
        procs.start(
            [*base, "--worker", "--master-port", str(master_port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
        for _ in range(args.workers)
    ]
    ui = f"http://{args.web_host}:{args.web_port}"
    print(f"loadtest: {args.scenario} running; web UI and Shop tab at {ui} (log {log.name})")
    if not args.headless:
        print("loadtest: Ctrl-C ends the run (then audit and gate)")
    generators = [master_proc, *workers]
    cpu: dict[int, float] = {}
    with speed.probing() as probes:
        try:
            while master_proc.poll() is None:
                for proc in generators:  # last reading before each exits
                    seconds = cpu_seconds(proc.pid)
                    cpu[proc.pid] = max(cpu.get(proc.pid, 0.0), seconds)
                time.sleep(0.5)
        except KeyboardInterrupt:
            # SIGTERM: locust's graceful stop (stats written), whatever it does with SIGINT.
            master_proc.send_signal(signal.SIGTERM)
            master_proc.wait(timeout=60)
    for proc in workers:
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
    wall = time.time() - started
    busy1, total1 = machine_jiffies()
    # Children's rusage covers every generator that has been waited for, locust's own threads
    # included; /proc readings cover the last moments of any that are still around.
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    reaped = (after.ru_utime + after.ru_stime) - (self_cpu0.ru_utime + self_cpu0.ru_stime)
    generator_cpu = max(reaped, sum(cpu.values()))
    cores = os.cpu_count() or 1
    return {
        "started": started,
        "ended": started + wall,
        "wall_seconds": wall,
        "locust_exit_code": master_proc.returncode,
        "workers": args.workers,
        "generator_cpu_seconds": generator_cpu,
        # Share of the whole machine (all cores) and per generator process (of one core).
        "generator_cpu_share": generator_cpu / (wall * cores) if wall else 0.0,
        "generator_core_share_per_process": generator_cpu / (wall * len(generators))
        if wall
        else 0.0,
        "machine_cpu_share": (busy1 - busy0) / (total1 - total0) if total1 > total0 else 0.0,
        "cores": cores,
        # The machine's speed for us during the run (loadtest/harness/speed.py).
        "probe_ms": speed.median(probes),
    }


def provenance() -> dict[str, Any]:
    """What a comparison needs to know of where a run ran: the commit and the machine."""

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
        return done.stdout.strip() if done.returncode == 0 else ""

    commit = git("rev-parse", "HEAD") or "unknown"
    dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    return {
        "commit": commit + ("+dirty" if dirty else ""),
        "machine": {
            "host": os.uname().nodename,
            "system": f"{os.uname().sysname} {os.uname().release}",
            "cores": os.cpu_count() or 1,
            # Busy before the run started: a shared machine's load is part of the figures.
            "load": round(os.getloadavg()[0], 2),
        },
    }


def target_options(parser: argparse.ArgumentParser) -> None:
    """The shop a load tool aims at (started, seeded, when none answers) and its admin token."""
    parser.add_argument("--shop-url", default=DEFAULT_SHOP)
    parser.add_argument("--db-url", default=os.environ.get("SHOP_DB_URL", DEFAULT_DB))
    parser.add_argument("--seed-users", type=int, default=100_000)
    parser.add_argument(
        "--admin-token", default=os.environ.get("SHOP_ADMIN_TOKEN", "dev-admin-token")
    )


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="loadtest", description=__doc__.split("\n")[0])
    parser.add_argument("--scenario", default="order")
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--headless", action="store_true")
    parser.add_argument("--workers", type=int, default=0)
    target_options(parser)
    parser.add_argument(
        "--capacity", type=float, default=200.0, help="open-model scenarios: arrivals/s at 1x"
    )
    parser.add_argument("--web-host", default="127.0.0.1")
    parser.add_argument("--web-port", type=int, default=8089)
    parser.add_argument("--run-dir", default="")
    parser.add_argument(
        "--watch",
        default="",
        help="the replicas the Shop tab reads, when the shop URL is a proxy in front of them",
    )
    parser.add_argument(
        "--trace-sample", type=float, default=0.1, help="share of requests sent as sampled traces"
    )
    parser.add_argument(
        "--flips", default="", help="switch flips beside the scenario's: 10:db_latency_ms=50,..."
    )
    parser.add_argument("--flip-seed", type=int, default=None, help="flips drawn from this seed")
    parser.add_argument(
        "--replay", type=Path, default=None, help="a run dir: its scenario, scale and flips again"
    )
    parser.add_argument("--initial-stock", type=int, default=audit.SEED_STOCK)
    parser.add_argument(
        "--prometheus", choices=("auto", "off"), default="auto", help="record into Prometheus"
    )
    return parser.parse_args(argv)


def headless(
    scenario: str,
    *,
    shop_urls: Sequence[str],
    db_url: str,
    seed_users: int,
    run_dir: Path,
    scale: float,
    extra: Sequence[str] = (),
    env: dict[str, str] | None = None,
    capture: bool = True,
    timeout: float = 300,
) -> subprocess.CompletedProcess[str]:
    """One headless run of this driver in a child process, its own Prometheus off: what the
    benchmarks, game days, regression gate and tests measure with (`extra`: more options)."""
    return subprocess.run(
        [
            sys.executable, "-m", "loadtest", "run", "--scenario", scenario, "--scale", str(scale),
            "--headless", "--shop-url", ",".join(shop_urls), "--db-url", db_url,
            "--seed-users", str(seed_users), "--web-port", str(free_port()),
            "--prometheus", "off", "--run-dir", str(run_dir), *extra,
        ],
        env={**os.environ, **(env or {})},
        cwd=ROOT,
        capture_output=capture,
        text=True,
        check=False,
        timeout=timeout,
    )  # fmt: skip


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    # A terminated run (SIGTERM) ends like Ctrl-C: locust stops, then audit and gate.
    signal.signal(signal.SIGTERM, _interrupt)
    if args.replay is not None:
        before = json.loads((args.replay / "run.json").read_text())
        args.scenario, args.scale = before["scenario"], before["scale"]
        args.flips = before.get("schedule", "")
    elif args.flip_seed is not None:
        duration = scenario(args.scenario).profile.duration()
        args.flips = format_schedule(drawn_schedule(args.flip_seed, duration))
    chosen = with_schedule(scenario(args.scenario), parse_schedule(args.flips))
    stamp = time.strftime("%Y%m%d-%H%M%S")
    run_dir = Path(args.run_dir or ROOT / ".run" / "loadtest" / f"{chosen.name}-{stamp}")
    run_dir.mkdir(parents=True, exist_ok=True)
    urls = [u.strip().rstrip("/") for u in args.shop_url.split(",") if u.strip()]
    procs = Processes()
    where = provenance()
    try:
        if not any(shop.answers(u) for u in urls):
            start_shop(urls, args.db_url, args.seed_users, procs, run_dir / "shop.log")
        # The shoppers: never the users of abandoned carts beyond them.
        users = min(database.seeded_users(args.db_url), args.seed_users)
        if any(flip.switch == "cart_index" for flip in chosen.flips):
            database.abandon_carts(args.db_url, shoppers=args.seed_users)
        if users == 0:
            raise SystemExit(f"no seeded users in {args.db_url}: run `make seed`")
        coupon_id = run_coupon(chosen, urls[0], args.admin_token, stamp)
        recording: dict[str, Any] | None = None
        if args.prometheus == "auto":
            locust_url = f"http://{args.web_host}:{args.web_port}"
            with stack.recording(urls, locust_url, run_dir) as recording:
                info = run_locust(args, urls, run_dir, users, coupon_id, procs)
                time.sleep(2)  # one more scrape of the last moments
                stack.export(
                    recording["url"],
                    info["started"],
                    time.time(),
                    run_dir / "prometheus_series.json",
                )
        else:
            info = run_locust(args, urls, run_dir, users, coupon_id, procs)
    finally:
        procs.stop()
    found: int | None = None  # discrepancies; None: the audit could not run (no pass)
    try:
        report = audit.audit(args.db_url, audit.Scope(initial_stock=args.initial_stock))
        described, found = report.describe(), len(report.discrepancies)
        audit_detail = f"{found} discrepancies" if found else "clean"
    except pymysql.err.MySQLError as exc:
        described, audit_detail = f"consistency audit: could not run: {exc}", "could not run"
    print(described)
    (run_dir / "audit.txt").write_text(described + "\n")
    stats_file = run_dir / "locust_stats.csv"
    stats = gate.read_stats(stats_file) if stats_file.exists() else {}
    verdict = gate.evaluate(
        stats,
        gate.thresholds_for(chosen.name, smoke=args.scale < gate.SMOKE_SCALE),
        audit_ok=found == 0,
        audit_detail=audit_detail,
        tallies=gate.read_tallies(run_dir / "locust_summary.json"),
    )
    print(verdict.table())
    (run_dir / "verdict.txt").write_text(verdict.table() + "\n")
    meta = {
        "scenario": chosen.name,
        "profile": chosen.profile.name,
        "shape": [[st.seconds, st.users] for st in chosen.profile.stages],
        # Closed: a fixed number of users, each waiting for its answer before the next; open:
        # requests arrive on a schedule whatever the shop does.
        "model": "closed" if chosen.arrivals is None else "open",
        "scale": args.scale,
        # The flips beyond the scenario's own (`--replay` runs them again) and all of them.
        "schedule": args.flips,
        "flips": format_schedule(chosen.flips),
        "flip_seed": args.flip_seed,
        "replay_of": str(args.replay) if args.replay else None,
        **where,
        "shop_urls": urls,
        "db_url": args.db_url,
        "coupon_id": coupon_id,
        "seeded_users": users,
        "gate_ok": verdict.ok,
        "audit_discrepancies": found,
        "prometheus": recording,
        **info,
    }
    (run_dir / "run.json").write_text(json.dumps(meta, indent=2))
    print(
        f"loadtest: load generator CPU {info['generator_cpu_share']:.0%} of the machine's"
        f" {info['cores']} cores ({info['generator_core_share_per_process']:.0%} of a core per"
        f" locust process); the whole machine was {info['machine_cpu_share']:.0%} busy"
    )
    if info["generator_core_share_per_process"] > 0.9:
        print("loadtest: the load generator was near a full core: use WORKERS=N", file=sys.stderr)
    print(f"loadtest: results in {run_dir}")
    return 0 if verdict.ok else 1

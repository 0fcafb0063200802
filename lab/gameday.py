"""`make gameday SCENARIO=<scenario> [SCALE=f]`: an automated incident drill.

Starts two shop replicas on the Redis lock backend (the load test's `start_shop`), the local
Prometheus and Alertmanager of `make observe` (its script, on free ports, with lab rules
generated at SCALE and a webhook receiver added to every Alertmanager receiver), and locust
running the scenario's traffic. Then: a quiet baseline (any alert fails the drill), the flip,
the time each expected alert fires and notifies, the mitigation read from the first firing
alert's runbook and run as written, the time alerts resolve and throughput and p99 come back
within 10 % of the baseline, the consistency audit, and the report
(`docs/incidents/gameday-<scenario>.md`, lab/report.py). SCALE=1 runs the production rules
with the production scrape interval; the default is the lab's 1/10.

Exit status: 0 when every expected alert fired, nothing unexpected fired and the audit is clean.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

import yaml

from loadtest import audit
from loadtest.observe import SCRIPT
from loadtest.run import (
    Processes,
    abandon_carts,
    answers,
    free_port,
    seeded_users,
    start_shop,
)

from . import report, rules
from .drills import DB_DISTANCE_MS, SHARED_MACHINE, Drill, drill
from .receiver import Receiver
from .runbooks import mitigation_for

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DB = "mysql://root:@127.0.0.1:3306/shop_gameday"
ALERTMANAGER = ROOT / "observability" / "alertmanager" / "alertmanager.yml"
PRODUCTION_INTERVAL = Fraction(15)
SHOP_ROUTES = 'job="shop", http_route!~"/metrics|/healthz|/readyz"'
H = "http_server_request_duration_seconds"
NICE = -15


class Clock:
    """Phase lengths of a drill at one scale (seconds); production lengths times the factor,
    never shorter than what a 2-core machine needs to show a steady rate."""

    def __init__(self, factor: Fraction) -> None:
        self.factor = factor
        # Never under 2 s: a busy machine's exporters time out at a shorter scrape interval.
        self.interval = max(Fraction(2), PRODUCTION_INTERVAL * factor)
        self.window = float(max(Fraction(10), 200 * factor))  # rolling window of the SLIs
        self.baseline = float(max(Fraction(40), 120 * factor))
        # Room for a ticket's 30 s group_wait after a late detection.
        self.detect = float(max(Fraction(150), 600 * factor))
        # An SLO page on the 6h/30m pair keeps firing until the incident leaves its short
        # window (30 min; 3 min in the lab): recovery waits that long, not just for the causes.
        self.recover = float(max(Fraction(300), 2400 * factor))


def _get(url: str, timeout: float = 10) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.loads(response.read())


def _admin(shop: str, token: str, method: str, path: str, value: Any = None) -> Any:
    request = urllib.request.Request(
        f"{shop}{path}",
        data=None if value is None else json.dumps({"value": value}).encode(),
        method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=180) as response:
        return json.loads(response.read() or b"null")


class Prometheus:
    def __init__(self, url: str) -> None:
        self.url = url

    def value(self, query: str) -> float | None:
        params = urllib.parse.urlencode({"query": query})
        try:
            result = _get(f"{self.url}/api/v1/query?{params}")["data"]["result"]
        except (OSError, KeyError, ValueError):
            return None
        if not result:
            return None
        number = float(result[0]["value"][1])
        return None if number != number else number  # NaN: no traffic in the window

    def alerts(self) -> list[dict[str, Any]]:
        try:
            return list(_get(f"{self.url}/api/v1/alerts")["data"]["alerts"])
        except (OSError, KeyError, ValueError):
            return []

    def firing(self) -> set[str]:
        return {a["labels"]["alertname"] for a in self._firing()}

    def open_budget_tickets(self) -> set[str]:
        """Firing SLO tickets: their long windows remember a spent budget for days by design,
        so they say what an incident cost, not that the service has not recovered."""
        return {a["labels"]["alertname"] for a in self._firing() if _budget_ticket(a)}

    def unresolved(self) -> set[str]:
        """Firing alerts a recovered service must have cleared: all but the SLO tickets."""
        return {a["labels"]["alertname"] for a in self._firing() if not _budget_ticket(a)}

    def _firing(self) -> list[dict[str, Any]]:
        return [a for a in self.alerts() if a["state"] == "firing"]


def _budget_ticket(alert: dict[str, Any]) -> bool:
    labels = alert["labels"]
    return bool(labels.get("slo")) and labels.get("severity") == "ticket"


def throughput(window: float) -> str:
    """Answered-with-success requests per second (a fast 503 is no throughput)."""
    return f'sum(rate({H}_count{{{SHOP_ROUTES}, http_response_status_code=~"2.."}}[{window:g}s]))'


def p99(window: float) -> str:
    return f"histogram_quantile(0.99, sum by (le) (rate({H}_bucket{{{SHOP_ROUTES}}}[{window:g}s])))"


def alertmanager_config(webhook: str, out: Path) -> Path:
    """The committed configuration with every receiver also posting to the webhook."""
    config = yaml.safe_load(ALERTMANAGER.read_text())
    for receiver in config["receivers"]:
        receiver.setdefault("webhook_configs", []).append({"url": webhook, "send_resolved": True})
    out.write_text(yaml.safe_dump(config, sort_keys=False))
    return out


def observe(command: str, env: dict[str, str]) -> None:
    subprocess.run(["bash", str(SCRIPT), command], env={**os.environ, **env}, check=True)


def start_locust(
    procs: Processes,
    d: Drill,
    shops: list[str],
    port: int,
    token: str,
    users: int,
    seeded: int,
    log: Path,
) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    command = [
        sys.executable, "-m", "locust", "-f", str(ROOT / "lab" / "locustfile.py"),
        "--host", ",".join(shops), "--scenario", "order", "--gameday-traffic", d.scenario,
        "--gameday-users", str(users), "--shop-users", str(seeded),
        "--admin-token", token, "--web-host", "127.0.0.1", "--web-port", str(port),
        "--autostart", "--only-summary",
    ]  # fmt: skip
    return procs.start(command, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT, cwd=ROOT)


def favour(pids: list[int]) -> None:
    """Run the drill's processes at nice NICE: on a shared machine the other suites' load would
    otherwise starve the baseline (every latency alert firing before the flip)."""
    for pid in pids:
        try:
            os.setpriority(os.PRIO_PROCESS, pid, NICE)
        except OSError:  # not root: the drill still runs, only less shielded
            return


def wait_for(check: Any, seconds: float, what: str, poll: float = 0.5) -> float:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return time.time()
        time.sleep(poll)
    raise TimeoutError(what)


def run(args: argparse.Namespace) -> dict[str, Any]:
    d = drill(args.scenario)
    clock = Clock(args.scale)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    run_dir = ROOT / ".run" / "gameday" / f"{d.scenario}-{stamp}"
    run_dir.mkdir(parents=True, exist_ok=True)
    token = os.environ.get("SHOP_ADMIN_TOKEN", "dev-admin-token")
    shops = [f"http://127.0.0.1:{free_port()}" for _ in range(args.replicas)]
    locust_port, prom_port, am_port = free_port(), free_port(), free_port()
    # This drill's own switch namespace: its flips never reach another shop on the same Redis.
    os.environ["SHOP_REDIS_PREFIX"] = f"gameday:{d.scenario}:{os.getpid()}:"
    os.environ.setdefault("SHOP_REDIS_URL", "redis://127.0.0.1:6379/0")
    os.environ["SHOP_LOCK_BACKEND"] = "redis"
    procs = Processes()
    receiver = Receiver()
    rule_dir = run_dir / "rules"
    rules.write_rules(rule_dir, args.scale)
    observe_env = {
        "OBSERVE_DIR": str(run_dir / "observe"),
        "SHOP_URL": ",".join(shops),
        "LOCUST_URL": f"http://127.0.0.1:{locust_port}",
        "PROMETHEUS_PORT": str(prom_port),
        "ALERTMANAGER_PORT": str(am_port),
        "MYSQLD_EXPORTER_PORT": str(free_port()),
        "REDIS_EXPORTER_PORT": str(free_port()),
        "OBSERVE_INTERVAL": rules.duration(clock.interval),
        "OBSERVE_RULES": str(rule_dir),
        "OBSERVE_ALERTMANAGER_CONFIG": str(
            alertmanager_config(receiver.url, run_dir / "alertmanager.yml")
        ),
    }
    prom = Prometheus(f"http://127.0.0.1:{prom_port}")
    record: dict[str, Any] = {
        "scenario": d.scenario,
        "switch": d.switch,
        "value": d.value,
        "expected": list(d.expected),
        "tolerated": list(d.tolerated),
        "scale": str(args.scale),
        "rules": "production" if args.scale == 1 else f"lab (windows x{args.scale})",
        "interval_s": float(clock.interval),
        "window_s": clock.window,
        "users": args.users or d.users,
        "replicas": len(shops),
        "db_distance_ms": DB_DISTANCE_MS,
        "load_average_start": os.getloadavg(),
        "cores": os.cpu_count(),
        "events": [],
        "failures": [],
    }

    def event(name: str, **fields: Any) -> float:
        t = time.time()
        record["events"].append({"t": t, "event": name, **fields})
        print(f"gameday: {time.strftime('%H:%M:%S')} {name} {fields or ''}", flush=True)
        return t

    try:
        start_shop(shops, args.db_url, args.seed_users, procs, run_dir / "shop.log")
        # The shoppers: never the users of abandoned carts beyond them.
        seeded = min(seeded_users(args.db_url), args.seed_users)
        if d.switch == "cart_index":  # a missing index only hurts on a large table
            abandon_carts(args.db_url, shoppers=args.seed_users)
        observe("up", observe_env)
        _admin(shops[0], token, "PUT", "/api/admin/incidents/db_latency_ms", DB_DISTANCE_MS)
        start_locust(
            procs, d, shops, locust_port, token, record["users"], seeded, run_dir / "locust.log"
        )
        observed = [int(p.read_text()) for p in (run_dir / "observe").glob("*.pid")]
        favour([proc.pid for proc in procs.started] + observed)
        record["started"] = event("load started")
        # Baseline: after the ramp, a stretch of `clock.baseline` seconds with no alert firing
        # (a shared machine may need a few tries); it is what recovery is held to.
        time.sleep(10)
        quiet_since = time.time()
        seen: set[str] = set()
        give_up = time.time() + (1.5 if args.ambient else 3) * clock.baseline
        while time.time() - quiet_since < clock.baseline:
            noisy = prom.firing()
            if noisy:
                if noisy - seen:
                    event("baseline not quiet", firing=sorted(noisy))
                seen |= noisy
                quiet_since = time.time()
            if time.time() > give_up:
                break
            time.sleep(0.5)
        ambient = prom.firing() if time.time() - quiet_since < clock.baseline else set()
        record["ambient"] = sorted(ambient)
        if ambient and not args.ambient:
            record["failures"].append(f"alerts fired on the baseline: {', '.join(sorted(ambient))}")
            return record
        if ambient:
            event("ambient alerts (firing before the flip)", firing=sorted(ambient))
        masked = set(d.expected) & ambient
        if masked:
            record["failures"].append(
                f"expected alerts already firing on the baseline: {', '.join(sorted(masked))}"
            )
        baseline_window = clock.baseline - 5
        record["baseline"] = {
            "throughput": prom.value(throughput(baseline_window)),
            "p99": prom.value(p99(baseline_window)),
        }
        event("baseline", **record["baseline"])
        if not record["baseline"]["throughput"]:
            record["failures"].append("no traffic on the baseline")
            return record

        _admin(shops[0], token, "PUT", f"/api/admin/incidents/{d.switch}", d.value)
        flip = record["flip"] = event("flip", switch=d.switch, value=d.value)
        fired: dict[str, float] = {}
        notified: dict[str, float] = {}
        allowed = set(d.expected) | set(d.tolerated) | set(SHARED_MACHINE)

        def watch() -> bool:
            for name in prom.firing() - ambient:
                if name not in fired:
                    fired[name] = event("alert firing", alert=name)
            for name in fired:
                # Any notification naming it counts: a short-lived alert may reach the pager
                # first as resolved, after group_wait.
                when = receiver.first(name, status=None)
                if when is not None and name not in notified:
                    notified[name] = when
                    event("notified", alert=name, at=when)
            return all(a in fired and a in notified for a in set(d.expected) - masked)

        try:
            wait_for(watch, clock.detect, "expected alerts")
        except TimeoutError:
            missing = [a for a in d.expected if a not in fired and a not in masked]
            if missing:
                record["failures"].append(f"expected alerts did not fire: {', '.join(missing)}")
            unnotified = [a for a in d.expected if a in fired and a not in notified]
            if unnotified:
                record["failures"].append(f"no notification for: {', '.join(unnotified)}")

        order = sorted(fired, key=fired.__getitem__)
        fix = mitigation_for([a for a in order if a in d.expected] or list(d.expected), d.switch)
        if fix is None:
            record["failures"].append(f"no runbook of {', '.join(d.expected)} flips {d.switch}")
            return record
        done = subprocess.run(
            ["bash", "-c", fix.command + " -f -o /dev/null -w '%{http_code}'"],
            env={**os.environ, "SHOP": shops[-1], "ADMIN": shops[-1], "TOKEN": token},
            capture_output=True,
            text=True,
            check=False,
        )
        mitigated = record["mitigated"] = event(
            "mitigation", runbook=f"runbooks/{fix.alert}.md", command=fix.command,
            status=done.stdout.strip(),
        )  # fmt: skip
        if done.returncode != 0:
            record["failures"].append(f"the runbook's command failed: {done.stdout} {done.stderr}")
            return record

        base = record["baseline"]
        resolved: dict[str, float] = {}
        recovered: dict[str, float] = {}

        def settle() -> bool:
            watch()
            now = prom.unresolved() - ambient
            for name in fired:
                if name not in now and name not in resolved:
                    resolved[name] = event("alert resolved", alert=name)
            if "service" not in recovered and time.time() >= mitigated + clock.window:
                tps, slow = prom.value(throughput(clock.window)), prom.value(p99(clock.window))
                if (
                    tps is not None
                    and slow is not None
                    and tps >= 0.9 * base["throughput"]
                    and slow <= 1.1 * base["p99"]
                ):
                    recovered["service"] = event("recovered", throughput=tps, p99=slow)
            return not now and "service" in recovered

        try:
            wait_for(settle, clock.recover, "recovery")
        except TimeoutError:
            if "service" not in recovered:
                record["warnings"] = [
                    "throughput and p99 were not back within 10 % of the baseline in time"
                ]
            still = prom.unresolved() - ambient
            if still:
                record["failures"].append(f"alerts still firing: {', '.join(sorted(still))}")
        tickets = prom.open_budget_tickets() - ambient
        if tickets:
            record["budget_tickets"] = sorted(tickets)
            event("error budget spent: SLO tickets open", alerts=sorted(tickets))
        # Alerts that fired at any time of the incident, from Prometheus's own record.
        record["fired"] = fired
        record["notified"] = notified
        record["resolved"] = resolved
        record["recovered"] = recovered.get("service")
        unexpected = sorted(set(fired) - allowed)
        if unexpected:
            record["failures"].append(f"unexpected alerts: {', '.join(unexpected)}")
        record["ttd"] = {a: fired[a] - flip for a in fired}
        record["ttn"] = {a: notified[a] - flip for a in notified}
        record["ttm"] = mitigated - flip
        record["ttr"] = (recovered["service"] - flip) if "service" in recovered else None
        return record
    finally:
        record["ended"] = time.time()
        record["notifications"] = list(receiver.notifications)
        record["load_average_end"] = os.getloadavg()
        try:
            report.export_timeline(prom.url, record, run_dir, clock)
        except Exception as exc:
            record.setdefault("warnings", []).append(f"timeline not exported: {exc}")
        procs.stop()
        receiver.close()
        if answers(prom.url, "/-/ready"):
            observe("down", observe_env)
        (run_dir / "gameday.json").write_text(json.dumps(record, indent=2, default=str))
        record["run_dir"] = str(run_dir)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="gameday", description=__doc__.split("\n")[0])
    parser.add_argument("--scenario", required=True)
    parser.add_argument("--scale", type=Fraction, default=rules.LAB_FACTOR)
    parser.add_argument("--users", type=int, default=0, help="locust users (the drill's own)")
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--seed-users", type=int, default=20_000)
    parser.add_argument("--db-url", default=os.environ.get("GAMEDAY_DB_URL", DEFAULT_DB))
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "incidents")
    parser.add_argument("--no-report", action="store_true", help="leave docs/ untouched (CI)")
    parser.add_argument(
        "--ambient",
        action="store_true",
        help="a shared, starved machine: alerts that never go quiet on the baseline are"
        " recorded as ambient (no detection is measured for them) instead of failing the drill",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    record = run(args)
    found = audit.audit(args.db_url, audit.Scope())
    record["audit"] = audit.describe(found)
    if found:
        record["failures"].append(f"the audit found {len(found)} discrepancies")
    print(record["audit"])
    run_dir = Path(record["run_dir"])
    (run_dir / "gameday.json").write_text(json.dumps(record, indent=2, default=str))
    if not args.no_report:
        page = report.write(record, run_dir, args.out)
        print(f"gameday: report {page}")
    for failure in record["failures"]:
        print(f"gameday: FAILED: {failure}", file=sys.stderr)
    print(f"gameday: run directory {run_dir}")
    return 1 if record["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())

"""`make gameday SCENARIO=<scenario> [SCALE=f]`: an automated incident drill.

Starts two shop replicas on the Redis lock backend (the load test's `start_shop`), the local
Prometheus and Alertmanager of `make observe` (the harness's stack, on free ports, with lab rules
generated at SCALE and a webhook receiver added to every Alertmanager receiver), and locust
running the scenario's traffic. Then: a quiet baseline (any alert fails the drill), the flip,
the time each expected alert fires and notifies, the mitigation read from the first firing
alert's runbook and run as written, the time alerts resolve and throughput and p99 come back
within 10 % of the baseline, the consistency audit, and the report
(`docs/incidents/gameday-<scenario>.md`, report.py). SCALE=1 runs the production rules with the
production scrape interval; the default is the lab's 1/10.

Every run appends its figures to `docs/incidents/history.jsonl` (history.py); its time to
detect past the scenario's bound (`docs/incidents/history-bounds.toml`) fails it.

Exit status: 0 when every expected alert fired, nothing unexpected fired, the audit is clean and
detection did not regress.
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

from loadtest import ROOT, audit
from loadtest.gameday import crowd, history, report, rules
from loadtest.gameday.drills import BACKGROUND, DB_DISTANCE_MS, Crowd, Drill, drill
from loadtest.gameday.faults import Breaker
from loadtest.gameday.receiver import Receiver
from loadtest.gameday.runbooks import mitigation_for
from loadtest.harness import admin, database, shop
from loadtest.harness.ports import free_port
from loadtest.harness.processes import Processes
from loadtest.harness.stack import Stack
from loadtest.harness.waiting import wait_until
from loadtest.traffic.run import run_coupon, start_shop
from loadtest.traffic.scenarios import OPEN_POOL, SCENARIOS

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
        """Firing alerts a recovered service must have cleared: all but the SLO tickets and
        the BACKGROUND ones."""
        return {
            a["labels"]["alertname"]
            for a in self._firing()
            if not _budget_ticket(a) and a["labels"]["alertname"] not in BACKGROUND
        }

    def _firing(self) -> list[dict[str, Any]]:
        """Firing alerts, less the heartbeat: it fires always, by design, and says nothing."""
        return [
            a
            for a in self.alerts()
            if a["state"] == "firing" and a["labels"].get("severity") != "heartbeat"
        ]


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


def traffic(d: Drill) -> str:
    """The load test scenario whose users the drill runs: drills of a process fault or of two
    switches have none of their own, and run the order traffic; a crowd, its open model's."""
    if d.crowd is not None:
        return d.crowd.traffic
    return d.scenario if d.scenario in SCENARIOS else "order"


def start_locust(
    procs: Processes,
    d: Drill,
    shops: list[str],
    port: int,
    token: str,
    users: int,
    seeded: int,
    log: Path,
    extra: Sequence[str] = (),
) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    command = [
        sys.executable, "-m", "locust", "-f", str(ROOT / "loadtest" / "gameday" / "locustfile.py"),
        "--host", ",".join(shops), "--scenario", "order", "--gameday-traffic", traffic(d),
        "--gameday-users", str(users), "--shop-users", str(seeded),
        "--admin-token", token, "--web-host", "127.0.0.1", "--web-port", str(port),
        "--autostart", "--only-summary", *extra,
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


class GameDay:
    """One drill, phase by phase; `record` is what the report is written from."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args, self.d, self.clock = args, drill(args.scenario), Clock(args.scale)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        self.run_dir = ROOT / ".run" / "gameday" / f"{self.d.scenario}-{stamp}"
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.token = os.environ.get("SHOP_ADMIN_TOKEN", "dev-admin-token")
        self.shops = [f"http://127.0.0.1:{free_port()}" for _ in range(args.replicas)]
        self.locust_port = free_port()
        self.procs = Processes()
        self.receiver = Receiver()
        self.breaker = Breaker(self.d.fault)
        self.db_url = self.breaker.db_url(args.db_url)
        # This drill's own switch namespace: its flips never reach another shop on the same Redis.
        self.shop_env = {
            "SHOP_REDIS_URL": os.environ.get("SHOP_REDIS_URL", "redis://127.0.0.1:6379/0"),
            "SHOP_REDIS_PREFIX": f"gameday:{self.d.scenario}:{os.getpid()}:",
            "SHOP_LOCK_BACKEND": "redis",
            **self.breaker.shop_env(),
        }
        if self.d.crowd is not None:
            # The gate is what a crowd drill proves; outside production it is off by default.
            self.shop_env["SHOP_ADMISSION"] = "on"
        rule_dir = self.run_dir / "rules"
        rules.write_rules(rule_dir, args.scale)
        self.stack = Stack(
            dir=self.run_dir / "observe",
            shop_urls=self.shops,
            locust_url=f"http://127.0.0.1:{self.locust_port}",
            prometheus_port=free_port(),
            alertmanager_port=free_port(),
            mysqld_exporter_port=free_port(),
            redis_exporter_port=free_port(),
            interval=rules.duration(self.clock.interval),
            rules=rule_dir,
            alertmanager_config=alertmanager_config(
                self.receiver.url, self.run_dir / "alertmanager.yml"
            ),
            **self.breaker.stack(),
        )
        self.prom = Prometheus(self.stack.prometheus_url)
        d = self.d
        self.record: dict[str, Any] = {
            "scenario": d.scenario,
            "switch": d.switch,
            "value": d.value,
            "fault": d.describe(),
            "traffic": traffic(d),
            "expected": list(d.expected),
            "tolerated": list(d.tolerated),
            "scale": str(args.scale),
            "rules": "production" if args.scale == 1 else f"lab (windows x{args.scale})",
            "interval_s": float(self.clock.interval),
            "window_s": self.clock.window,
            # A crowd's users are the open model's pool; its load is the arrival rate.
            "users": OPEN_POOL if d.crowd is not None else args.users or d.users,
            "replicas": len(self.shops),
            "db_distance_ms": DB_DISTANCE_MS,
            "load_average_start": os.getloadavg(),
            "cores": os.cpu_count(),
            "events": [],
            "failures": [],
        }
        self.ambient: set[str] = set()  # alerts already firing before the flip
        self.masked: set[str] = set()  # expected alerts among them: not measurable
        self.fired: dict[str, float] = {}
        self.notified: dict[str, float] = {}
        self.resolved: dict[str, float] = {}
        self.recovered: float | None = None
        self.timing: crowd.Timing | None = None  # a crowd drill's schedule

    def event(self, name: str, **fields: Any) -> float:
        t = time.time()
        self.record["events"].append({"t": t, "event": name, **fields})
        print(f"gameday: {time.strftime('%H:%M:%S')} {name} {fields or ''}", flush=True)
        return t

    def fail(self, failure: str) -> None:
        self.record["failures"].append(failure)

    def start(self) -> None:
        """Replicas, the monitoring stack and the load, the database DB_DISTANCE_MS away."""
        args = self.args
        self.breaker.start()
        log = self.run_dir / "shop.log"
        start_shop(self.shops, self.db_url, args.seed_users, self.procs, log, **self.shop_env)
        # The shoppers: never the users of abandoned carts beyond them.
        seeded = min(database.seeded_users(self.db_url), args.seed_users)
        if self.d.switch == "cart_index":  # a missing index only hurts on a large table
            database.abandon_carts(self.db_url, shoppers=args.seed_users)
        extra: list[str] = []
        if self.d.crowd is not None:  # before Prometheus: its refusals are in no window
            extra = self.crowd_options(self.d.crowd, seeded)
        self.stack.up()
        admin.flip(self.shops[0], self.token, "db_latency_ms", DB_DISTANCE_MS)
        if self.d.crowd is not None:
            self.timing = crowd.Timing(time.time() + crowd.LEAD_S)
            extra += ["--arrivals-at", f"{self.timing.epoch:.3f}"]
        start_locust(
            self.procs, self.d, self.shops, self.locust_port, self.token,
            self.record["users"], seeded, self.run_dir / "locust.log", extra,
        )  # fmt: skip
        favour([proc.pid for proc in self.procs.started] + self.stack.pids())
        self.record["started"] = self.event("load started")

    def crowd_options(self, c: Crowd, seeded: int) -> list[str]:
        """Probe the replicas' capacity; the locust options of a crowd at its share."""
        probed = crowd.probe(self.shops, self.db_url, seeded, self.run_dir)
        self.record["crowd"] = probed
        self.event("capacity probed", **probed)
        chosen = SCENARIOS[c.traffic]
        coupon = run_coupon(chosen, self.shops[0], self.token, time.strftime("%Y%m%d-%H%M%S"))
        return [
            "--arrivals", c.arrivals, "--capacity", f"{probed['rate']:.1f}",
            "--coupon-id", coupon, "--run-dir", str(self.run_dir / "locust"),
        ]  # fmt: skip

    def baseline(self) -> bool:
        """After the ramp, a stretch of `clock.baseline` seconds with no alert firing (a shared
        machine may need a few tries): what recovery is held to. False: no drill after it."""
        clock, prom = self.clock, self.prom
        if self.timing is not None:
            return self.crowd_baseline(self.timing)
        time.sleep(10)
        quiet_since = time.time()
        seen: set[str] = set()
        give_up = time.time() + (1.5 if self.args.ambient else 3) * clock.baseline
        while time.time() - quiet_since < clock.baseline:
            noisy = prom.firing()
            if noisy:
                if noisy - seen:
                    self.event("baseline not quiet", firing=sorted(noisy))
                seen |= noisy
                quiet_since = time.time()
            if time.time() > give_up:
                break
            time.sleep(0.5)
        if time.time() - quiet_since < clock.baseline:
            self.ambient = prom.firing()
        self.record["ambient"] = sorted(self.ambient)
        if self.ambient and not self.args.ambient:
            self.fail(f"alerts fired on the baseline: {', '.join(sorted(self.ambient))}")
            return False
        if self.ambient:
            self.event("ambient alerts (firing before the flip)", firing=sorted(self.ambient))
        self.masked = set(self.d.expected) & self.ambient
        if self.masked:
            self.fail(
                f"expected alerts already firing on the baseline: {', '.join(sorted(self.masked))}"
            )
        return self.measure_baseline(clock.baseline - 5)

    def crowd_baseline(self, timing: crowd.Timing) -> bool:
        """The first third of a crowd drill, less its ramp: the schedule does not wait, so
        any alert firing in it is ambient (or fails the drill)."""
        seen: set[str] = set()
        time.sleep(max(0.0, timing.quiet_from - time.time()))
        while time.time() < timing.arrives - 1:
            noisy = self.prom.firing()
            if noisy - seen:
                self.event("baseline not quiet", firing=sorted(noisy))
            seen |= noisy
            time.sleep(0.5)
        self.ambient = seen
        self.record["ambient"] = sorted(seen)
        if seen and not self.args.ambient:
            self.fail(f"alerts fired on the baseline: {', '.join(sorted(seen))}")
            return False
        self.masked = set(self.d.expected) & seen
        if self.masked:
            self.fail(
                f"expected alerts already firing on the baseline: {', '.join(sorted(self.masked))}"
            )
        return self.measure_baseline(timing.arrives - 1 - timing.quiet_from)

    def measure_baseline(self, window: float) -> bool:
        prom = self.prom
        base = {"throughput": prom.value(throughput(window)), "p99": prom.value(p99(window))}
        self.record["baseline"] = base
        self.event("baseline", **base)
        if not base["throughput"]:
            self.fail("no traffic on the baseline")
            return False
        return True

    def watch(self) -> bool:
        """Note newly firing alerts and their first notifications; True once every expected
        (and measurable) alert has fired and notified."""
        for name in self.prom.firing() - self.ambient:
            if name not in self.fired:
                self.fired[name] = self.event("alert firing", alert=name)
        for name in self.fired:
            # Any notification naming it counts: a short-lived alert may reach the pager first
            # as resolved, after group_wait.
            when = self.receiver.first(name, status=None)
            if when is not None and name not in self.notified:
                self.notified[name] = when
                self.event("notified", alert=name, at=when)
        expected = set(self.d.expected) - self.masked
        return all(a in self.fired and a in self.notified for a in expected)

    def detect(self) -> float:
        """Flip the switches, break the process, and wait for the expected alerts; returns when
        the incident began (the last of these)."""
        d = self.d
        flip = 0.0
        within = self.clock.detect
        if self.timing is not None:  # the crowd arrives on schedule; detected while it stays
            time.sleep(max(0.0, self.timing.arrives - time.time()))
            rate = self.record["crowd"]["rate"] * crowd.MULTIPLE
            flip = self.event("crowd arrives", arrivals_per_s=rate)
            within = self.timing.leaves - flip
        for switch, value in d.flips:
            admin.flip(self.shops[0], self.token, switch, value)
            flip = self.event("flip", switch=switch, value=value)
        if d.fault is not None:
            if d.flips:  # every replica takes the flips on (twice a second) before the fault
                time.sleep(3)
            # A replica killed is the last one: it comes back on its port (relaunch).
            self.breaker.break_(self.procs.started[len(self.shops) - 1])
            flip = self.event("fault", process=d.fault.process, how=d.fault.how)
        self.record["flip"] = flip
        try:
            wait_until(self.watch, within=within, what="expected alerts", poll=0.5)
        except TimeoutError:
            missing = [a for a in d.expected if a not in self.fired and a not in self.masked]
            if missing:
                self.fail(f"expected alerts did not fire: {', '.join(missing)}")
            unnotified = [a for a in d.expected if a in self.fired and a not in self.notified]
            if unnotified:
                self.fail(f"no notification for: {', '.join(unnotified)}")
        return flip

    def mitigate(self) -> float | None:
        """Run, for each switch flipped, the first firing alert's runbook line that flips it
        back, as written; then start again what was broken, as the expected alert's runbook
        says."""
        d = self.d
        if self.timing is not None:  # nothing to run: the crowd leaves on schedule
            while time.time() < self.timing.leaves:  # what else it sets off, meanwhile
                self.watch()
                time.sleep(0.5)
            left = self.event("crowd leaves", arrivals_per_s=self.record["crowd"]["rate"])
            self.record["mitigated"] = left
            return left
        order = sorted(self.fired, key=self.fired.__getitem__)
        alerts = [a for a in order if a in d.expected] or list(d.expected)
        mitigated = None
        for switch, _ in d.flips:
            fix = mitigation_for(alerts, switch)
            if fix is None:
                self.fail(f"no runbook of {', '.join(d.expected)} flips {switch}")
                return None
            done = subprocess.run(
                ["bash", "-c", fix.command + " -f -o /dev/null -w '%{http_code}'"],
                env={
                    **os.environ,
                    "SHOP": self.shops[-1],
                    "ADMIN": self.shops[-1],
                    "TOKEN": self.token,
                },
                capture_output=True,
                text=True,
                check=False,
            )
            mitigated = self.event(
                "mitigation", runbook=f"runbooks/{fix.alert}.md", command=fix.command,
                status=done.stdout.strip(),
            )  # fmt: skip
            if done.returncode != 0:
                self.fail(f"the runbook's command failed: {done.stdout} {done.stderr}")
                return None
        if d.fault is not None and self.breaker.mend(self.relaunch):
            mitigated = self.event(
                "mitigation", runbook=f"runbooks/{alerts[0]}.md",
                command=f"start the {d.fault.process} again", status=None,
            )  # fmt: skip
        if mitigated is None:  # a fault over at once: nothing to do but watch it clear
            mitigated = self.record["flip"]
        self.record["mitigated"] = mitigated
        return mitigated

    def relaunch(self) -> None:
        """The killed replica started again on its port with the same settings."""
        settings = {"SHOP_DB_URL": self.db_url, "SHOP_LOG_LEVEL": "WARNING", **self.shop_env}
        replica = shop.launch(self.shops[-1], settings, log=self.run_dir / "shop.log")
        self.procs.started.append(replica.process)
        replica.wait_ready()

    def recover(self, mitigated: float) -> None:
        """Wait until alerts resolve and throughput and p99 are within 10 % of the baseline."""
        clock, prom, base = self.clock, self.prom, self.record["baseline"]

        def settle() -> bool:
            self.watch()
            now = prom.unresolved() - self.ambient
            for name in self.fired:
                if name not in now and name not in self.resolved:
                    self.resolved[name] = self.event("alert resolved", alert=name)
            if self.recovered is None and time.time() >= mitigated + clock.window:
                tps, slow = prom.value(throughput(clock.window)), prom.value(p99(clock.window))
                if (
                    tps is not None
                    and slow is not None
                    and tps >= 0.9 * base["throughput"]
                    and slow <= 1.1 * base["p99"]
                ):
                    self.recovered = self.event("recovered", throughput=tps, p99=slow)
            return not now and self.recovered is not None

        try:
            wait_until(settle, within=clock.recover, what="recovery", poll=0.5)
        except TimeoutError:
            if self.recovered is None:
                self.record["warnings"] = [
                    "throughput and p99 were not back within 10 % of the baseline in time"
                ]
            still = prom.unresolved() - self.ambient
            if still:
                self.fail(f"alerts still firing: {', '.join(sorted(still))}")
        tickets = prom.open_budget_tickets() - self.ambient
        if tickets:
            self.record["budget_tickets"] = sorted(tickets)
            self.event("error budget spent: SLO tickets open", alerts=sorted(tickets))

    def measure(self, flip: float, mitigated: float) -> None:
        """Times to detect, notify, mitigate and recover, from the flip; unexpected alerts."""
        record, fired, notified = self.record, self.fired, self.notified
        # Alerts that fired at any time of the incident, from Prometheus's own record.
        record["fired"] = fired
        record["notified"] = notified
        record["resolved"] = self.resolved
        record["recovered"] = self.recovered
        allowed = set(self.d.expected) | set(self.d.tolerated) | set(BACKGROUND)
        unexpected = sorted(set(fired) - allowed)
        if unexpected:
            self.fail(f"unexpected alerts: {', '.join(unexpected)}")
        record["ttd"] = {a: fired[a] - flip for a in fired}
        record["ttn"] = {a: notified[a] - flip for a in notified}
        # A crowd leaves by itself: no time to mitigate; its recovery counts from then, per
        # second of the request log (stop).
        record["ttm"] = None if self.timing is not None else mitigated - flip
        record["ttr"] = (self.recovered - flip) if self.recovered is not None else None

    def stop(self) -> None:
        record = self.record
        record["ended"] = time.time()
        record["notifications"] = list(self.receiver.notifications)
        record["load_average_end"] = os.getloadavg()
        try:
            report.export_timeline(self.prom.url, record, self.run_dir, self.clock)
        except Exception as exc:
            record.setdefault("warnings", []).append(f"timeline not exported: {exc}")
        self.procs.stop()
        if self.timing is not None and "baseline" in record:
            self.crowd_recovery(self.timing)
        self.receiver.close()
        self.stack.down()
        try:
            found = audit.audit(self.db_url)
            record["audit"] = found.describe()
            if not found.ok:
                self.fail(f"the audit found {len(found.discrepancies)} discrepancies")
        finally:
            self.breaker.close()
        print(record["audit"])
        (self.run_dir / "gameday.json").write_text(json.dumps(record, indent=2, default=str))
        record["run_dir"] = str(self.run_dir)

    def crowd_recovery(self, timing: crowd.Timing) -> None:
        """Seconds from the crowd leaving until the shop is back in its baseline band."""
        record = self.record
        found = crowd.recovery(self.run_dir / "locust", timing)
        record["recovery"] = found
        record["ttr"] = found["ttr"]
        if "flip" not in record:
            return
        if found["band"] is None:
            self.fail("no admitted answers on the baseline: no band to recover to")
        elif found["ttr"] is None or found["ttr"] > crowd.RECOVERY_BOUND_S:
            after = "never" if found["ttr"] is None else f"after {found['ttr']:.0f} s"
            self.fail(
                f"back in the baseline band {after}, not within {crowd.RECOVERY_BOUND_S:g} s"
                " of the crowd leaving"
            )


def run(args: argparse.Namespace) -> dict[str, Any]:
    """The drill: start, baseline, flip and detect, mitigate, recover; always stopped."""
    day = GameDay(args)
    try:
        day.start()
        if day.baseline():
            flip = day.detect()
            mitigated = day.mitigate()
            if mitigated is not None:
                day.recover(mitigated)
                day.measure(flip, mitigated)
        return day.record
    finally:
        day.stop()


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="gameday", description=__doc__.split("\n")[0])
    parser.add_argument("--scenario", required=True)
    parser.add_argument("--scale", type=Fraction, default=rules.LAB_FACTOR)
    parser.add_argument("--users", type=int, default=0, help="locust users (the drill's own)")
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--seed-users", type=int, default=20_000)
    parser.add_argument("--db-url", default=os.environ.get("GAMEDAY_DB_URL", DEFAULT_DB))
    parser.add_argument(
        "--bless",
        action="store_true",
        help="this run is the one to keep: its report and chart go to --out (docs/incidents),"
        " to be committed; otherwise they stay in the run directory",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "incidents")
    parser.add_argument(
        "--history",
        type=Path,
        default=history.HISTORY,
        help="where every run, blessed or not, appends its figures (committed)",
    )
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
    run_dir = Path(record["run_dir"])
    line = history.entry(record, history.commit())
    regressed = history.regression(history.read(args.history), line, history.bounds())
    if regressed:
        record["failures"].append(regressed)
        line = history.entry(record, line["commit"])
    history.append(line, args.history)
    (run_dir / "gameday.json").write_text(json.dumps(record, indent=2, default=str))
    out = args.out if args.bless else run_dir / "report"
    out.mkdir(parents=True, exist_ok=True)
    print(f"gameday: report {report.write(record, run_dir, out, args.history)}")
    for failure in record["failures"]:
        print(f"gameday: FAILED: {failure}", file=sys.stderr)
    print(f"gameday: run directory {run_dir}")
    return 1 if record["failures"] else 0

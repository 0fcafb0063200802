"""The monitoring stack without Docker: Prometheus, Alertmanager, mysqld_exporter and
redis_exporter from Debian's packages, supervised from here, running the configuration files
compose mounts (`python -m loadtest observe up|down|targets|status|install`, make observe).

`up` installs what is missing, writes the run directory (configuration, file_sd targets, data,
logs, a pid file per process), starts each process in a session of its own (so that a stack
started by `make observe` outlives the command) and waits until each answers; `down` stops what
`up` started in that run directory. A load-test run records through it (`recording`): when a
Prometheus already answers (a tester's `make observe`) only the targets are rewritten, otherwise
a stack is started in the run's directory and stopped after. The series the report charts are
read out with range queries (`export`), so a report never needs a Prometheus still running.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import urllib.parse
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from loadtest import ROOT
from loadtest.harness.processes import stop
from loadtest.harness.shop import answers
from loadtest.harness.system import install
from loadtest.harness.waiting import wait_until

CONFIG = ROOT / "observability"
PRODUCTION_RULES = CONFIG / "prometheus" / "rules"
ALERTMANAGER_CONFIG = CONFIG / "alertmanager" / "alertmanager.yml"
# Debian's package for each process (the binary has the package's name).
PACKAGES = {
    "prometheus": "prometheus",
    "alertmanager": "prometheus-alertmanager",
    "mysqld-exporter": "prometheus-mysqld-exporter",
    "redis-exporter": "prometheus-redis-exporter",
}
# promtool and amtool come with the first two: the rule and Alertmanager tests need them.

# What the report charts from Prometheus (label sets stay bounded: lock names, pools, codes).
QUERIES = {
    "shop_rps": "sum(rate(http_server_request_duration_seconds_count[5s]))",
    "shop_5xx_rps": "sum(rate(http_server_request_duration_seconds_count"
    '{http_response_status_code=~"5.."}[5s]))',
    "lock_wait_p99": "histogram_quantile(0.99, sum by (lock_name, le)"
    " (rate(shop_lock_wait_duration_seconds_bucket[5s])))",
    "pool_pending": "sum by (pool) (db_client_connection_pending_requests)",
    "pool_used": 'sum by (pool) (db_client_connection_count{state="used"})',
    "pool_max": "sum by (pool) (db_client_connection_max)",
    "loop_lag_p99": "histogram_quantile(0.99, sum by (le)"
    " (rate(shop_event_loop_lag_seconds_bucket[5s])))",
    "orders_paid_rps": 'sum(rate(shop_orders_total{outcome="success"}[5s]))',
    "locust_users": "sum(locust_users)",
    "locust_rps": "sum(rate(locust_requests_total[5s]))",
    "locust_failures_rps": "sum(rate(locust_failures_total[5s]))",
    "locust_rejections_rps": "sum by (code) (rate(locust_rejections_total[5s]))",
    "switches_on": "shop_incident_switch == 1",
}


def ensure_packages() -> None:
    missing = [package for package in PACKAGES.values() if shutil.which(package) is None]
    if missing:
        install(*missing, what="observe")


def _targets(*addresses: str) -> str:
    """A file_sd document, one target per "host:port" or URL."""
    hosts = [re.sub(r"^\w+://|/.*$", "", a) for a in addresses if a]
    return json.dumps([{"targets": [h]} for h in hosts])


def _write(path: Path, text: str) -> None:
    """Atomically: Prometheus watches these files and must never read half of one."""
    path.with_suffix(".tmp").write_text(text + "\n")
    path.with_suffix(".tmp").replace(path)


@dataclass
class Stack:
    """One stack's settings and run directory."""

    dir: Path = ROOT / ".run" / "observe"
    shop_urls: list[str] = field(default_factory=lambda: ["http://127.0.0.1:8081"])
    locust_url: str = ""
    prometheus_port: int = 9090
    alertmanager_port: int = 9093
    mysqld_exporter_port: int = 9104
    redis_exporter_port: int = 9121
    interval: str = ""  # scrape and evaluation interval, when not the configured 15s
    rules: Path = PRODUCTION_RULES
    alertmanager_config: Path = ALERTMANAGER_CONFIG
    mysql_dsn: str = "root:@(127.0.0.1:3306)/"
    redis_addr: str = "redis://127.0.0.1:6379"
    # The processes this object started, reaped when it stops them.
    children: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict, repr=False)

    @classmethod
    def from_env(cls) -> Stack:
        """The settings `make observe` takes from the environment (OBSERVE_DIR, SHOP_URL as a
        comma-separated list, LOCUST_URL, PROMETHEUS_PORT, ALERTMANAGER_PORT,
        MYSQLD_EXPORTER_PORT, REDIS_EXPORTER_PORT, OBSERVE_INTERVAL)."""
        env, stack = os.environ, cls()
        return replace(
            stack,
            dir=Path(env.get("OBSERVE_DIR", stack.dir)),
            shop_urls=[u for u in env.get("SHOP_URL", ",".join(stack.shop_urls)).split(",") if u],
            locust_url=env.get("LOCUST_URL", ""),
            prometheus_port=int(env.get("PROMETHEUS_PORT", stack.prometheus_port)),
            alertmanager_port=int(env.get("ALERTMANAGER_PORT", stack.alertmanager_port)),
            mysqld_exporter_port=int(env.get("MYSQLD_EXPORTER_PORT", stack.mysqld_exporter_port)),
            redis_exporter_port=int(env.get("REDIS_EXPORTER_PORT", stack.redis_exporter_port)),
            interval=env.get("OBSERVE_INTERVAL", ""),
        )

    @property
    def prometheus_url(self) -> str:
        return f"http://127.0.0.1:{self.prometheus_port}"

    def commands(self) -> dict[str, list[str]]:
        d = self.dir
        return {
            "prometheus": [
                "prometheus", f"--config.file={d / 'prometheus.yml'}",
                f"--storage.tsdb.path={d / 'prometheus-data'}",
                f"--web.listen-address=127.0.0.1:{self.prometheus_port}",
                f"--web.external-url={self.prometheus_url}",
                "--web.enable-lifecycle", "--enable-feature=exemplar-storage",
            ],
            "alertmanager": [
                "prometheus-alertmanager", f"--config.file={d / 'alertmanager.yml'}",
                f"--storage.path={d / 'alertmanager-data'}",
                f"--web.listen-address=127.0.0.1:{self.alertmanager_port}",
                f"--web.external-url=http://127.0.0.1:{self.alertmanager_port}",
                "--cluster.listen-address=",
            ],
            "mysqld-exporter": [
                "prometheus-mysqld-exporter",
                f"--web.listen-address=127.0.0.1:{self.mysqld_exporter_port}",
            ],
            "redis-exporter": [
                "prometheus-redis-exporter", f"-redis.addr={self.redis_addr}",
                f"-web.listen-address=127.0.0.1:{self.redis_exporter_port}",
            ],
        }  # fmt: skip

    def ready_urls(self) -> dict[str, str]:
        return {
            "prometheus": f"{self.prometheus_url}/-/ready",
            "alertmanager": f"http://127.0.0.1:{self.alertmanager_port}/-/ready",
            "mysqld-exporter": f"http://127.0.0.1:{self.mysqld_exporter_port}/metrics",
            "redis-exporter": f"http://127.0.0.1:{self.redis_exporter_port}/metrics",
        }

    def write_targets(self) -> None:
        (self.dir / "targets").mkdir(parents=True, exist_ok=True)
        _write(self.dir / "targets" / "shop.json", _targets(*self.shop_urls))
        _write(self.dir / "targets" / "locust.json", _targets(self.locust_url))

    def write_config(self) -> None:
        for sub in ("targets", "prometheus-data", "alertmanager-data", "logs"):
            (self.dir / sub).mkdir(parents=True, exist_ok=True)
        # The committed files, unchanged but for the interval when one is asked for (tests
        # scrape every second); rules are linked, so an edit shows after a reload.
        prometheus = (CONFIG / "prometheus" / "prometheus.yml").read_text()
        if self.interval:
            prometheus = re.sub(
                r"^(  (?:scrape|evaluation)_interval:) .*$",
                rf"\1 {self.interval}",
                prometheus,
                flags=re.M,
            )
        (self.dir / "prometheus.yml").write_text(prometheus)
        rules = self.dir / "rules"
        rules.unlink(missing_ok=True)
        rules.symlink_to(self.rules.resolve(), target_is_directory=True)
        shutil.copyfile(self.alertmanager_config, self.dir / "alertmanager.yml")
        # alertmanager.yml names its notification templates relative to itself.
        templates = self.alertmanager_config.parent / "templates"
        if templates.is_dir():
            shutil.copytree(templates, self.dir / "templates", dirs_exist_ok=True)
        self.write_targets()
        for job, port in (
            ("mysqld", self.mysqld_exporter_port),
            ("redis", self.redis_exporter_port),
            ("prometheus", self.prometheus_port),
            ("alertmanager", self.alertmanager_port),
        ):
            _write(self.dir / "targets" / f"{job}.json", _targets(f"127.0.0.1:{port}"))

    def pid(self, name: str) -> int | None:
        """The recorded pid of `name`, when that process is still alive."""
        try:
            pid = int((self.dir / f"{name}.pid").read_text())
            os.kill(pid, 0)
        except (OSError, ValueError):
            return None
        return pid

    def pids(self) -> list[int]:
        return [p for name in PACKAGES if (p := self.pid(name)) is not None]

    def up(self) -> None:
        ensure_packages()
        self.write_config()
        env = {**os.environ, "DATA_SOURCE_NAME": self.mysql_dsn}
        for name, command in self.commands().items():
            if self.pid(name) is not None:
                _say(f"{name} already running (pid {self.pid(name)})")
                continue
            with (self.dir / "logs" / f"{name}.log").open("wb") as log:
                # A session of its own: `make observe` returns, the stack stays.
                proc = subprocess.Popen(
                    command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
                )
            (self.dir / f"{name}.pid").write_text(str(proc.pid))
            self.children[name] = proc
        for name, url in self.ready_urls().items():
            logged = self.dir / "logs" / f"{name}.log"
            try:
                wait_until(
                    functools.partial(answers, url, ""),
                    within=60,
                    what=f"{name} on {url}",
                    poll=0.5,
                )
            except (TimeoutError, RuntimeError) as exc:
                tail = "".join(logged.read_text(errors="replace").splitlines(True)[-20:])
                raise SystemExit(f"observe: {exc}; last lines of {logged}:\n{tail}") from None
            if self.pid(name) is None:
                raise SystemExit(f"observe: {name} exited; see {logged}")
        _say(f"Prometheus {self.prometheus_url}  Alertmanager :{self.alertmanager_port}")
        locust = f" and locust at {self.locust_url}" if self.locust_url else ""
        _say(f"scraping {', '.join(self.shop_urls)}{locust}; run directory {self.dir}")

    def down(self) -> None:
        for name in PACKAGES:
            pid, child = self.pid(name), self.children.pop(name, None)
            if child is not None:
                stop(child, timeout=10, how=signal.SIGTERM)
            elif pid is not None:  # started by another process (`make observe`)
                os.kill(pid, signal.SIGTERM)
                try:
                    wait_until(functools.partial(_gone, pid), within=10, what=name, poll=0.25)
                except TimeoutError:
                    os.kill(pid, signal.SIGKILL)
            if pid is not None:
                _say(f"stopped {name} (pid {pid})")
            (self.dir / f"{name}.pid").unlink(missing_ok=True)

    def status(self) -> str:
        lines = []
        for name, url in self.ready_urls().items():
            pid = self.pid(name)
            state = "stopped" if pid is None else f"running (pid {pid})"
            lines.append(f"{name}: {state}{', answering' if answers(url, '') else ''}")
        return "\n".join(lines)


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return True
    return False


def _say(message: str) -> None:
    print(f"observe: {message}", file=sys.stderr, flush=True)


@contextmanager
def running(stack: Stack) -> Iterator[Stack]:
    """The stack up for the block, down after it (whatever happens in it)."""
    try:
        stack.up()
        yield stack
    finally:
        stack.down()


@contextmanager
def recording(shop_urls: list[str], locust_url: str, run_dir: Path) -> Iterator[dict[str, Any]]:
    """Prometheus scraping the shop and the locust master while the block runs."""
    stack = replace(Stack.from_env(), shop_urls=shop_urls, locust_url=locust_url)
    info: dict[str, Any] = {"url": stack.prometheus_url}
    if answers(stack.prometheus_url, "/-/ready"):
        # A running stack: point it at this run (its run directory is the default one).
        stack.write_targets()
        info["started"] = False
        yield info
        return
    stack = replace(stack, dir=run_dir / "observe", interval="1s")
    info |= {"started": True, "dir": str(stack.dir)}
    with running(stack):
        yield info


def export(url: str, start: float, end: float, out: Path, step: float = 1.0) -> None:
    """Range-query QUERIES over the run and keep the answers beside it."""
    series: dict[str, Any] = {}
    for name, query in QUERIES.items():
        params = urllib.parse.urlencode({"query": query, "start": start, "end": end, "step": step})
        try:
            with urllib.request.urlopen(f"{url}/api/v1/query_range?{params}", timeout=30) as r:
                series[name] = json.loads(r.read())["data"]["result"]
        except (OSError, KeyError, ValueError) as exc:
            series[name] = {"error": str(exc)}
    out.write_text(json.dumps({"start": start, "end": end, "step": step, "series": series}))


def main(argv: Sequence[str] | None = None) -> int:
    verbs = ("up", "down", "targets", "status", "install")
    args = list(argv or [])
    if len(args) != 1 or args[0] not in verbs:
        print(f"usage: python -m loadtest observe {{{','.join(verbs)}}}", file=sys.stderr)
        return 2
    stack = Stack.from_env()
    match args[0]:
        case "up":
            stack.up()
        case "down":
            stack.down()
        case "targets":
            stack.write_targets()
        case "status":
            print(stack.status())
        case "install":
            ensure_packages()
    return 0

"""Every dashboard panel shows data: a real Prometheus (the harness's local stack) scrapes two
shop replicas, the exporters and a locust master during a short mixed load, and every panel
query, evaluated through the Prometheus HTTP API, returns series and reads only known metrics.
The same run shows the stack's targets up and no alert even pending on a healthy shop."""

from __future__ import annotations

import http.server
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest

from loadtest.harness import stack as monitoring
from loadtest.harness.database import drop, fresh_dataset
from loadtest.harness.ports import free_port
from loadtest.harness.processes import stop
from loadtest.harness.waiting import wait_until

from ..integration.replicas import replicas
from ..loadtest.databases import derived_url
from .promql_names import metric_names
from .stack_files import ROOT, panel_queries

DB = derived_url("dashboards")
USERS = 200
# Grafana's $__rate_interval is at least four scrapes: the stack scrapes every 2 s here.
RATE_INTERVAL = "15s"
# The boards' filters (instance, route, pool, lock) at "All", which Grafana sends as ".*".
ALL = re.compile(r"\$(instance|route|pool|lock)\b")


def as_grafana_sends(expr: str) -> str:
    """A panel's query with its variables filled in the way Grafana does on a fresh board."""
    return ALL.sub(".*", expr.replace("$__rate_interval", RATE_INTERVAL))


LOAD_SECONDS = 20


@dataclass
class Stack:
    prometheus: str
    shops: list[str]
    locust: str


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


def query(prometheus: str, expr: str) -> list[dict[str, Any]]:
    params = urllib.parse.urlencode({"query": expr})
    answer = _get(f"{prometheus}/api/v1/query?{params}")
    assert answer["status"] == "success", answer
    return list(answer["data"]["result"])


def query_range(prometheus: str, expr: str, seconds: int = 60) -> list[dict[str, Any]]:
    """What a time-series panel draws: the expression over the dashboard's recent window, so a
    series that just ended (a finished scenario) still counts as data, as it does in Grafana."""
    end = time.time()
    params = urllib.parse.urlencode(
        {"query": expr, "start": end - seconds, "end": end, "step": "2s"}
    )
    answer = _get(f"{prometheus}/api/v1/query_range?{params}")
    assert answer["status"] == "success", answer
    return list(answer["data"]["result"])


class _Drop(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@contextmanager
def span_sink() -> Iterator[str]:
    """An OTLP/HTTP endpoint that accepts spans and drops them."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Drop)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


# The module's stack (replicas, exporters, Prometheus, a short load) starts in its first test.
pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, redis_session: str) -> Iterator[Stack]:
    fresh_dataset(DB, users=USERS, stock=1_000_000, coupon_quantity=100_000)
    run = tmp_path_factory.mktemp("observe")
    locust_port = str(free_port())
    locust = f"http://127.0.0.1:{locust_port}"
    with (
        span_sink() as sink,
        replicas(
            2,
            db_url=DB,
            redis_prefix=f"{redis_session}dashboards:",
            log_dir=run,
            SHOP_LOCK_BACKEND="redis",
            # This test is about panels: on a busy shared machine requests may queue, not fail.
            SHOP_DB_ACQUIRE_TIMEOUT="30",
            SHOP_REDIS_ACQUIRE_TIMEOUT="30",
            SHOP_LOCK_WAIT="30",
            # The admission panels need the gate; queueing, not shedding, for the same reason.
            SHOP_ADMISSION="on",
            SHOP_ADMISSION_MIN_LIMIT="256",
            SHOP_ADMISSION_INITIAL_LIMIT="256",
            SHOP_ADMISSION_QUEUE_INTERVAL="30",
            SHOP_ADMISSION_QUEUE_TARGET="30",
            # Tracing on, so histograms carry exemplars; the spans go to a sink that drops them.
            OTEL_EXPORTER_OTLP_ENDPOINT=sink,
            SHOP_TRACE_SAMPLE_RATIO="0.1",
        ) as shops,
    ):
        observed = monitoring.Stack(
            dir=run,
            shop_urls=shops,
            locust_url=locust,
            prometheus_port=free_port(),
            alertmanager_port=free_port(),
            mysqld_exporter_port=free_port(),
            redis_exporter_port=free_port(),
            interval="2s",
        )
        observed.up()
        log = (run / "locust.log").open("wb")
        # The soak mix (coupons, charges, orders, browsing) shrunk to ~1 min at 60 users: it
        # outlasts the module's tests, which end it.
        load = subprocess.Popen(
            [
                sys.executable, "-m", "locust", "-f", str(ROOT / "loadtest" / "locustfile.py"),
                "--host", shops[0], "--scenario", "soak", "--scale", "0.03",
                "--shop-users", str(USERS), "--admin-token", "test-admin-token",
                "--web-host", "127.0.0.1", "--web-port", locust_port, "--autostart",
                "--only-summary",
            ],
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        prometheus = observed.prometheus_url
        try:
            wait_until(
                lambda: query(prometheus, "sum(rate(locust_requests_total[5s])) > 0"),
                within=60,
                what="locust sends requests and Prometheus sees them",
                poll=0.5,
            )
            time.sleep(LOAD_SECONDS - 5)
            yield Stack(prometheus, shops, locust)
        finally:
            stop(load, timeout=30, how=signal.SIGTERM)  # locust quits at once; SIGINT waits
            log.close()
            observed.down()
    drop(DB)


def test_every_target_is_up(stack: Stack) -> None:
    targets = _get(f"{stack.prometheus}/api/v1/targets")["data"]["activeTargets"]
    jobs = {(t["labels"]["job"], t["labels"]["instance"]): t["health"] for t in targets}
    assert {job for job, _ in jobs} == {
        "shop", "locust", "mysqld", "redis", "prometheus", "alertmanager",
    }  # fmt: skip
    assert sum(job == "shop" for job, _ in jobs) == len(stack.shops)
    # Most scrapes of the last 30 s succeeded: on a shared, busy machine one may time out.
    flaky = query(stack.prometheus, "avg_over_time(up[30s]) < 0.8")
    assert not flaky, flaky
    assert query(stack.prometheus, "mysql_up == 1"), "mysqld_exporter reaches MariaDB"
    assert query(stack.prometheus, "redis_up == 1"), "redis_exporter reaches Redis"


def test_every_panel_query_returns_series_of_known_metrics(stack: Stack) -> None:
    known = set(_get(f"{stack.prometheus}/api/v1/label/__name__/values")["data"])
    empty, unknown = [], []
    for uid, pid, title, expr in panel_queries():
        unknown += [(uid, pid, name) for name in metric_names(expr) - known]
        if not query_range(stack.prometheus, as_grafana_sends(expr)):
            empty.append((uid, pid, title, expr))
    assert not unknown, f"panels read metrics nobody exports: {unknown}"
    assert not empty, "panels without data:\n" + "\n".join(map(str, empty))


def test_every_rule_reads_metrics_that_exist(stack: Stack) -> None:
    """A rule over a misspelt or missing metric is never true: it would stay silent forever."""
    known = set(_get(f"{stack.prometheus}/api/v1/label/__name__/values")["data"])
    groups = _get(f"{stack.prometheus}/api/v1/rules")["data"]["groups"]
    missing = {
        (rule["name"], name)
        for group in groups
        for rule in group["rules"]
        for name in metric_names(rule["query"]) - known
    }
    assert not missing, missing


def test_no_alert_fires_and_no_cause_page_is_pending_on_a_healthy_shop_under_load(
    stack: Stack,
) -> None:
    # Nothing lasts as long as its `for:` here. Tickets may be pending (this load saturates two
    # shared cores, which the event loop's lag shows), and so may the SLO burn rates, whose
    # windows hold only these seconds of overload; no page of a cause may even be pending.
    assert query(stack.prometheus, 'ALERTS{alertstate="firing", severity!="heartbeat"}') == []
    assert query(stack.prometheus, 'ALERTS{severity="page", slo=""}') == []
    # The heartbeat is the one alert that must fire: the pipeline is alive.
    [watchdog] = query(stack.prometheus, 'ALERTS{alertname="ShopWatchdog"}')
    assert watchdog["metric"]["alertstate"] == "firing"


def test_histogram_exemplars_carry_trace_ids(stack: Stack) -> None:
    """What Grafana's exemplar links open: the trace ids of sampled requests, stored by
    Prometheus (exemplar storage on) from the shop's OpenMetrics scrape."""
    params = urllib.parse.urlencode(
        {
            "query": "http_server_request_duration_seconds_bucket",
            "start": time.time() - 120,
            "end": time.time(),
        }
    )
    answer = _get(f"{stack.prometheus}/api/v1/query_exemplars?{params}")["data"]
    labels = [e["labels"] for series in answer for e in series["exemplars"]]
    assert labels, "no exemplars stored"
    assert all(len(label["trace_id"]) == 32 for label in labels)

"""Record a run in Prometheus through the local stack (`observability/local/observe.sh`).

When Prometheus already answers (a tester's `make observe`), only the targets files are
rewritten so it scrapes this run's replicas and locust master; otherwise the stack is started
in the run's own directory, scraping every second, and stopped after the run. Either way the
series the report charts are read out with range queries at the end and kept in the run
directory (`prometheus_series.json`), so a report never depends on a Prometheus still running.
"""

from __future__ import annotations

import json
import os
import subprocess
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from loadtest import ROOT

SCRIPT = ROOT / "observability" / "local" / "observe.sh"

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


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/-/ready", timeout=1) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def _script(command: str, env: dict[str, str]) -> None:
    subprocess.run(["bash", str(SCRIPT), command], env={**os.environ, **env}, check=True)


@contextmanager
def recording(shop_urls: list[str], locust_url: str, run_dir: Path) -> Iterator[dict[str, Any]]:
    """Prometheus scraping the shop and the locust master while the block runs."""
    port = int(os.environ.get("PROMETHEUS_PORT", "9090"))
    url = f"http://127.0.0.1:{port}"
    env = {"SHOP_URL": ",".join(shop_urls), "LOCUST_URL": locust_url}
    info: dict[str, Any] = {"url": url}
    if _answers(url):
        # A running stack: point it at this run (its run directory is the default one).
        _script("targets", env)
        info["started"] = False
        yield info
        return
    observe_dir = run_dir / "observe"
    env |= {"OBSERVE_DIR": str(observe_dir), "OBSERVE_INTERVAL": "1s"}
    _script("up", env)
    info |= {"started": True, "dir": str(observe_dir)}
    try:
        yield info
    finally:
        _script("down", env)


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

"""Alertmanager: the configuration checks, each severity routes to its receiver, and a replica
that is down silences the tickets of its job (a real Alertmanager, on a free port)."""

from __future__ import annotations

import json
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from .stack_files import ALERTMANAGER_CONFIG, alert_rules


def amtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["amtool", *args], capture_output=True, text=True, check=False)


def test_config_passes_amtool_check() -> None:
    result = amtool("check-config", str(ALERTMANAGER_CONFIG))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("labels", "receiver"),
    [
        (["severity=page", "alertname=ShopLockTimeouts", "job=shop"], "page"),
        (["severity=ticket", "alertname=ShopLockContention", "job=shop"], "ticket"),
        (["alertname=SomethingUnlabelled"], "ticket"),
    ],
)
def test_severity_routes_to_its_receiver(labels: list[str], receiver: str) -> None:
    result = amtool("config", "routes", "test", f"--config.file={ALERTMANAGER_CONFIG}", *labels)
    assert result.stdout.strip() == receiver, result.stdout + result.stderr


def test_every_alert_severity_has_a_route() -> None:
    for severity in {rule["labels"]["severity"] for rule in alert_rules()}:
        result = amtool(
            "config",
            "routes",
            "test",
            f"--config.file={ALERTMANAGER_CONFIG}",
            f"severity={severity}",
        )
        assert result.stdout.strip() == severity


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[str]:
    port = _free_port()
    proc = subprocess.Popen(
        [
            "prometheus-alertmanager",
            f"--config.file={ALERTMANAGER_CONFIG}",
            f"--storage.path={tmp_path}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{url}/-/ready", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _post(url: str, alerts: list[dict[str, dict[str, str]]]) -> None:
    request = urllib.request.Request(
        f"{url}/api/v2/alerts",
        data=json.dumps(alerts).encode(),
        headers={"Content-Type": "application/json"},
    )
    urllib.request.urlopen(request, timeout=5)


def _states(url: str) -> dict[str, list[str]]:
    with urllib.request.urlopen(f"{url}/api/v2/alerts", timeout=5) as response:
        alerts = json.load(response)
    return {a["labels"]["alertname"]: a["status"]["inhibitedBy"] for a in alerts}


def test_replica_down_inhibits_the_tickets_of_its_job(alertmanager: str) -> None:
    _post(
        alertmanager,
        [
            {
                "labels": {
                    "alertname": "ShopReplicaDown",
                    "severity": "page",
                    "job": "shop",
                    "instance": "shop-1:8081",
                }
            },
            {
                "labels": {
                    "alertname": "ShopLockContention",
                    "severity": "ticket",
                    "job": "shop",
                    "lock_name": "order",
                }
            },
            {
                "labels": {
                    "alertname": "ShopLockTimeouts",
                    "severity": "page",
                    "job": "shop",
                    "lock_name": "order",
                }
            },
            {"labels": {"alertname": "ShopInnodbDeadlocks", "severity": "ticket", "job": "mysqld"}},
        ],
    )
    deadline = time.monotonic() + 10
    while (states := _states(alertmanager)) and not states.get("ShopLockContention"):
        assert time.monotonic() < deadline, states
        time.sleep(0.1)
    assert states["ShopLockContention"], "the ticket of the down replica's job is inhibited"
    assert not states["ShopLockTimeouts"], "pages are never inhibited by a replica down"
    assert not states["ShopInnodbDeadlocks"], "another job's tickets still go out"
    assert not states["ShopReplicaDown"]


def test_a_fast_burn_page_inhibits_the_same_slos_ticket(alertmanager: str) -> None:
    common = {"alertname": "ShopLatencyBudgetBurn", "job": "shop", "slo": "latency"}
    _post(
        alertmanager,
        [
            {"labels": {**common, "severity": "page", "window": "1h"}},
            {"labels": {**common, "severity": "ticket", "window": "3d"}},
        ],
    )
    deadline = time.monotonic() + 10
    while True:
        with urllib.request.urlopen(f"{alertmanager}/api/v2/alerts", timeout=5) as response:
            alerts = {
                a["labels"]["window"]: a["status"]["inhibitedBy"] for a in json.load(response)
            }
        if alerts.get("3d"):
            break
        assert time.monotonic() < deadline, alerts
        time.sleep(0.1)
    assert not alerts["1h"]

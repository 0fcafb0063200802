"""Alertmanager: the configuration checks, each severity routes to its receiver, a replica that
is down silences its own alerts only, and notifications reach the example receiver: the
heartbeat, and a page rendered with its summary, runbook and dashboard as absolute links (a real
Alertmanager, on a free port)."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from .stack_files import ALERTMANAGER_CONFIG, alert_rules

RECEIVER = ALERTMANAGER_CONFIG.parent / "receiver.py"
EXAMPLE_RECEIVER = "http://127.0.0.1:9095"


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
        (["severity=heartbeat", "alertname=ShopWatchdog"], "heartbeat"),
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
    with _running_alertmanager(ALERTMANAGER_CONFIG, tmp_path) as url:
        yield url


@contextmanager
def _running_alertmanager(config: Path, storage: Path) -> Iterator[str]:
    port = _free_port()
    proc = subprocess.Popen(
        [
            "prometheus-alertmanager",
            f"--config.file={config}",
            f"--storage.path={storage}",
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


def test_replica_down_inhibits_only_that_replicas_own_alerts(alertmanager: str) -> None:
    down = {"job": "shop", "instance": "shop-1:8081"}
    _post(
        alertmanager,
        [
            {"labels": {"alertname": "ShopReplicaDown", "severity": "page", **down}},
            {"labels": {"alertname": "ShopPoolNearlyFull", "severity": "ticket", **down}},
            {
                "labels": {
                    "alertname": "ShopEventLoopLag",
                    "severity": "ticket",
                    "job": "shop",
                    "instance": "shop-2:8081",
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
                    "alertname": "ShopLatencyBudgetBurn",
                    "severity": "ticket",
                    "job": "shop",
                    "slo": "latency",
                    "window": "3d",
                }
            },
            {"labels": {"alertname": "ShopWatchdog", "severity": "heartbeat"}},
        ],
    )
    deadline = time.monotonic() + 10
    while (states := _states(alertmanager)) and not states.get("ShopPoolNearlyFull"):
        assert time.monotonic() < deadline, states
        time.sleep(0.1)
    assert states["ShopPoolNearlyFull"], "the dead replica's own ticket is inhibited"
    assert not states["ShopEventLoopLag"], "another replica's alerts still go out"
    assert not states["ShopLockContention"], "fleet-wide alerts still go out"
    assert not states["ShopLatencyBudgetBurn"], "the SLO's ticket still goes out"
    assert not states["ShopWatchdog"]
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


@contextmanager
def _example_receiver() -> Iterator[tuple[str, subprocess.Popen[str]]]:
    proc = subprocess.Popen(
        [sys.executable, str(RECEIVER), "--port", "0"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        yield proc.stdout.readline().split()[-1], proc
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


def _notifications(proc: subprocess.Popen[str], wanted: int, seconds: float) -> list[Any]:
    """The receiver's first `wanted` lines (it prints one JSON line per notification)."""
    assert proc.stdout is not None
    lines: list[Any] = []
    deadline = time.monotonic() + seconds
    while len(lines) < wanted:
        assert time.monotonic() < deadline, lines
        lines.append(json.loads(proc.stdout.readline()))
    return lines


def test_heartbeat_and_a_page_reach_the_receiver_with_absolute_links(tmp_path: Path) -> None:
    with _example_receiver() as (url, receiver):
        config = tmp_path / "alertmanager.yml"
        config.write_text(ALERTMANAGER_CONFIG.read_text().replace(EXAMPLE_RECEIVER, url))
        shutil.copytree(ALERTMANAGER_CONFIG.parent / "templates", tmp_path / "templates")
        with _running_alertmanager(config, tmp_path / "data") as alertmanager:
            [page] = [r for r in alert_rules() if r["alert"] == "ShopLockTimeouts"]
            watchdog = next(r for r in alert_rules() if r["alert"] == "ShopWatchdog")
            _post(
                alertmanager,
                [
                    {"labels": {"alertname": "ShopWatchdog", **watchdog["labels"]},
                     "annotations": watchdog["annotations"]},
                    {"labels": {"alertname": "ShopLockTimeouts", "job": "shop",
                                "lock_name": "order", **page["labels"]},
                     "annotations": {**page["annotations"], "summary": "Lock order: timeouts"}},
                ],
            )  # fmt: skip
            # The heartbeat at once (group_wait 0s); the page's webhook and chat message after
            # its 10 s group_wait.
            lines = _notifications(receiver, 3, 30)
    by_path = {line["path"]: line for line in lines}
    assert by_path["/heartbeat"]["alerts"][0]["alertname"] == "ShopWatchdog"
    assert by_path["/page"]["alerts"][0]["alertname"] == "ShopLockTimeouts"
    chat = by_path["/chat"]
    assert chat["title"] == "[FIRING:1] ShopLockTimeouts (page)"
    assert "Lock order: timeouts" in chat["text"]
    assert "Runbook: https://ops.shop.example/runbooks/ShopLockTimeouts.md" in chat["text"]
    assert "Dashboard: https://ops.shop.example/d/shop-locks?viewPanel=4" in chat["text"]

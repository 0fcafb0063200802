"""The shop's locustfile: `locust -f loadtest/locustfile.py --scenario order` (what
`make loadtest` runs). One shape follows the chosen scenario's profile at `--scale`; the master
serves locust's stats at `/metrics`, watches the shop's replicas for the Shop tab, flips the
scenario's incident switch for the middle third, and writes what the gate reads into
`--run-dir` when the run ends."""

from __future__ import annotations

import json
import logging
import time
import urllib.request
from pathlib import Path
from typing import Any

import gevent
from flask import Response
from locust import LoadTestShape, events
from locust.runners import MasterRunner, WorkerRunner

from loadtest import exporter, rejections
from loadtest.scenarios import scenario
from loadtest.users import BrowseUser, ChargeUser, CouponUser, HotChargeUser, OrderUser

__all__ = ["BrowseUser", "ChargeUser", "CouponUser", "HotChargeUser", "OrderUser", "ScenarioShape"]

CLASSES = {c.__name__: c for c in (BrowseUser, ChargeUser, CouponUser, HotChargeUser, OrderUser)}
log = logging.getLogger("loadtest")


@events.init_command_line_parser.add_listener
def _options(parser: Any) -> None:
    parser.add_argument("--scenario", default="order", help="scenario name (loadtest/scenarios.py)")
    parser.add_argument("--scale", type=float, default=1.0, help="time-scale factor of the profile")
    parser.add_argument("--shop-users", type=int, default=100_000, help="seeded users")
    parser.add_argument("--coupon-id", default="test-coupon-1")
    parser.add_argument("--admin-token", default="dev-admin-token")
    parser.add_argument(
        "--auth-secret",
        default="",
        env_var="SHOP_AUTH_SECRET",
        help="send each user's bearer token, signed with this secret (SHOP_AUTH=required)",
    )
    parser.add_argument("--watch", default="", help="replica URLs for the Shop tab (default: host)")
    parser.add_argument("--run-dir", default="", help="where the run's results are written")
    parser.add_argument("--quit-when-done", action="store_true", help="quit when the shape ends")


def _options_of(environment: Any) -> Any:
    return environment.parsed_options


class ScenarioShape(LoadTestShape):
    """The chosen scenario's profile at the chosen time scale."""

    def tick(self) -> tuple[int, float, list[Any]] | None:
        options = _options_of(self.runner.environment)
        chosen = scenario(options.scenario)
        now = chosen.profile.tick(self.get_run_time(), options.scale)
        if now is None:
            return None
        names = now.classes or chosen.users
        return now.users, now.spawn_rate, [CLASSES[n] for n in names]


_running: dict[str, str] = {}


def _scenario_label() -> tuple[str, str] | None:
    if not _running:
        return None
    return _running["scenario"], _running["shape"]


def _admin(url: str, token: str, method: str, path: str, value: Any = None) -> Any:
    data = None if value is None else json.dumps({"value": value}).encode()
    request = urllib.request.Request(
        f"{url}{path}",
        data=data,
        method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read() or b"null")


def _flip_switch(environment: Any, events_log: list[dict[str, Any]]) -> None:
    """Flip the scenario's switch at a third of the run and back at two thirds."""
    options = _options_of(environment)
    chosen = scenario(options.scenario)
    if chosen.switch is None:
        return
    name, bad, normal = chosen.switch
    url = options.host.split(",")[0]
    third = chosen.profile.duration(options.scale) / 3
    try:
        if normal is None:
            listed = _admin(url, options.admin_token, "GET", "/api/admin/incidents")
            switches = listed.get("switches", listed) if isinstance(listed, dict) else listed
            normal = next(s["value"] for s in switches if s["name"] == name)
        for value in (bad, normal):
            gevent.sleep(third)
            _admin(url, options.admin_token, "PUT", f"/api/admin/incidents/{name}", value)
            events_log.append({"t": time.time(), "switch": name, "value": value})
            log.info("incident switch %s -> %s", name, value)
    except (OSError, StopIteration, ValueError) as exc:
        log.warning("incident switch %s could not be flipped: %s", name, exc)
        events_log.append({"t": time.time(), "switch": name, "error": str(exc)})


@events.init.add_listener
def _init(environment: Any, **_: Any) -> None:
    rejections.setup(environment)
    if isinstance(environment.runner, WorkerRunner):
        return
    options = _options_of(environment)
    chosen = scenario(options.scenario)
    run_dir = Path(options.run_dir) if options.run_dir else None
    switch_log: list[dict[str, Any]] = []
    watcher = None
    if environment.web_ui is not None:
        from loadtest import shop_tab

        registry = exporter.registry_for(environment, _scenario_label)

        @environment.web_ui.app.route("/metrics")
        def metrics() -> Response:
            return Response(exporter.exposition(registry), content_type=exporter.CONTENT_TYPE)

        replicas = [u for u in (options.watch or options.host or "").split(",") if u]
        watcher = shop_tab.install(environment, replicas)

    @environment.events.test_start.add_listener
    def _started(**_: Any) -> None:
        _running.update(scenario=chosen.name, shape=chosen.profile.name)
        gevent.spawn(_flip_switch, environment, switch_log)

    @environment.events.test_stop.add_listener
    def _stopped(**_: Any) -> None:
        _running.clear()
        if run_dir is not None:
            run_dir.mkdir(parents=True, exist_ok=True)
            summary = {
                "scenario": chosen.name,
                "scale": options.scale,
                "rejections": rejections.as_rows(),
                "switch_events": switch_log,
                "workers": len(getattr(environment.runner, "clients", {}) or {})
                if isinstance(environment.runner, MasterRunner)
                else 0,
            }
            (run_dir / "locust_summary.json").write_text(json.dumps(summary, indent=2))
            if watcher is not None:
                (run_dir / "shop_series.json").write_text(json.dumps(list(watcher.points)))
        if options.quit_when_done:
            # The shape ended: leave like a headless run would, web UI included.
            def leave() -> None:
                environment.runner.quit()
                if environment.web_ui is not None:
                    environment.web_ui.stop()

            gevent.spawn_later(0.5, leave)

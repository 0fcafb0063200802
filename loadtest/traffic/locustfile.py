"""The shop's load-test users and shape, which `loadtest/locustfile.py` hands to locust
(`make loadtest`). One shape follows the chosen scenario's profile at `--scale`; the master
serves locust's stats at `/metrics`, watches the shop's replicas for the Shop tab, flips the
scenario's incident switch for the middle third, and writes what the gate reads into
`--run-dir` when the run ends."""

from __future__ import annotations

import functools
import json
import logging
import time
from pathlib import Path
from typing import Any

import gevent
import locust.runners
from flask import Response
from locust import LoadTestShape, argument_parser, events
from locust.runners import MasterRunner, WorkerRunner

from loadtest.harness import admin
from loadtest.traffic import contract, exporter, open_users, rejections, samples
from loadtest.traffic.open_users import OpenChargeUser, OpenCouponUser, OpenOrderUser
from loadtest.traffic.scenarios import parse_schedule, scenario, with_schedule
from loadtest.traffic.users import BrowseUser, ChargeUser, CouponUser, HotChargeUser, OrderUser

__all__ = [
    "BrowseUser",
    "ChargeUser",
    "CouponUser",
    "HotChargeUser",
    "OpenChargeUser",
    "OpenCouponUser",
    "OpenOrderUser",
    "OrderUser",
    "ScenarioShape",
]

# Locust drops a worker after 3 missed one-second heartbeats; on a busy 2-core machine a worker
# starved for a few seconds is slow, not gone (locust reads this module global at each beat).
locust.runners.HEARTBEAT_LIVENESS = 15
# A worker handling a spawn message rebuilds locust's whole argument parser once per option
# (default_args_dict() inside a comprehension): ~60 x 60 ms here, seconds with no heartbeat,
# for every message of a ramp. The defaults never change within a process: build them once.
argument_parser.default_args_dict = functools.cache(argument_parser.default_args_dict)

CLASSES = {
    c.__name__: c
    for c in (
        BrowseUser,
        ChargeUser,
        CouponUser,
        HotChargeUser,
        OrderUser,
        OpenChargeUser,
        OpenCouponUser,
        OpenOrderUser,
    )
}
log = logging.getLogger("loadtest")


@events.init_command_line_parser.add_listener
def _options(parser: Any) -> None:
    parser.add_argument("--scenario", default="order", help="scenario name (scenarios.py)")
    parser.add_argument("--scale", type=float, default=1.0, help="time-scale factor of the profile")
    parser.add_argument("--shop-users", type=int, default=100_000, help="seeded users")
    parser.add_argument("--coupon-id", default="test-coupon-1")
    parser.add_argument("--admin-token", default="dev-admin-token")
    parser.add_argument("--watch", default="", help="replica URLs for the Shop tab (default: host)")
    parser.add_argument("--run-dir", default="", help="where the run's results are written")
    parser.add_argument("--quit-when-done", action="store_true", help="quit when the shape ends")
    parser.add_argument("--flips", default="", help="extra switch flips: 10:db_latency_ms=50,...")
    parser.add_argument(
        "--trace-sample", type=float, default=0.1, help="share of requests sent as sampled traces"
    )
    parser.add_argument(
        "--capacity", type=float, default=200.0, help="open model: arrivals/s at 1x the capacity"
    )
    parser.add_argument(
        "--arrivals", default="", help="open model: this profile, not the scenario's"
    )
    parser.add_argument(
        "--arrivals-at", type=float, default=0.0, help="open model: first arrival (epoch s; 0: now)"
    )


def _options_of(environment: Any) -> Any:
    return environment.parsed_options


def shape_options(shape: LoadTestShape) -> Any:
    """The options of the run a shape belongs to (a shape ticks only once it has a runner)."""
    assert shape.runner is not None
    return _options_of(shape.runner.environment)


class ScenarioShape(LoadTestShape):
    """The chosen scenario's profile at the chosen time scale."""

    def tick(self) -> tuple[int, float, list[Any]] | None:
        options = shape_options(self)
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


def _flip_switches(environment: Any, events_log: list[dict[str, Any]]) -> None:
    """Flip the scenario's switches on schedule (scaled like the profile); a flip back to
    NORMAL restores the value the switch had when the run started."""
    options = _options_of(environment)
    chosen = with_schedule(scenario(options.scenario), parse_schedule(options.flips))
    if not chosen.flips:
        return
    url = options.host.split(",")[0]
    token = options.admin_token
    started = time.monotonic()
    try:
        before = admin.switches(url, token)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("incident switches unreadable: %s", exc)
        before = {}
    for flip in chosen.flips:
        gevent.sleep(max(0.0, flip.seconds * options.scale - (time.monotonic() - started)))
        value = before.get(flip.switch) if flip.value is None else flip.value
        try:
            admin.flip(url, token, flip.switch, value)
            events_log.append({"t": time.time(), "switch": flip.switch, "value": value})
            log.info("incident switch %s -> %s", flip.switch, value)
        except (OSError, ValueError) as exc:
            log.warning("incident switch %s could not be flipped: %s", flip.switch, exc)
            events_log.append({"t": time.time(), "switch": flip.switch, "error": str(exc)})


@events.init.add_listener
def _init(environment: Any, **_: Any) -> None:
    rejections.setup(environment)
    open_users.setup(environment)
    # Every process judges answers, by the shapes the shop's own OpenAPI document declares.
    options = _options_of(environment)
    contract.fetch(options.host.split(",")[0])
    run_dir = Path(options.run_dir) if options.run_dir else None
    if run_dir is not None:
        samples.install(environment, run_dir)
    if isinstance(environment.runner, WorkerRunner):
        return
    chosen = scenario(options.scenario)
    switch_log: list[dict[str, Any]] = []
    watcher = None
    if environment.web_ui is not None:
        from loadtest.traffic import shop_tab

        registry = exporter.registry_for(environment, _scenario_label)

        @environment.web_ui.app.route("/metrics")
        def metrics() -> Response:
            return Response(exporter.exposition(registry), content_type=exporter.CONTENT_TYPE)

        replicas = [u for u in (options.watch or options.host or "").split(",") if u]
        watcher = shop_tab.install(environment, replicas)

    @environment.events.test_start.add_listener
    def _started(**_: Any) -> None:
        _running.update(scenario=chosen.name, shape=chosen.profile.name)
        gevent.spawn(_flip_switches, environment, switch_log)

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

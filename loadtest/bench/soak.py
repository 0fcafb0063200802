"""Endurance: one shop process under a steady full mixed load, minute by minute.

Charges, coupon issues, cart adds and orders (4:2:2:2) from wrk at 100 connections for
`--minutes` minutes, on the ceiling benchmark's data set. Each minute's throughput, latency and
answers, and the shop's resident set sampled every 5 s: the process must stay under 300 MiB and
its memory must not grow once warm (minute 2 to the last).

Usage: `python -m loadtest bench soak --minutes 10 --out docs/benchmarks/soak.md`
(`make bench-soak`).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from loadtest.bench import ceiling
from loadtest.bench.ceiling import USERS, WRK_REPORT, Variant, parse_wrk, wrk
from loadtest.harness.processes import cpu_seconds, rss_mib, stop

CONNECTIONS = 100
RSS_BUDGET_MB = 300
# An order goes to the user whose cart add was sent this many cart adds earlier.
ORDER_LAG = 500

SOAK_LUA = (
    """
local coupon = os.getenv("BENCH_COUPON")
local users = %(users)d
local lag = %(lag)d
local n, carts, orders, issues = 0, 0, 0, 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

local function user(k) return "test-user-" .. (1 + k %% users) end

function request()
  n = n + 1
  local slot = n %% 10
  if slot < 4 then
    return wrk.format(nil, "/api/users/" .. user(n * 7919) .. "/balance/charge", nil,
      '{"amount": 1}')
  elseif slot < 6 then
    issues = issues + 1
    return wrk.format(nil, "/api/coupons/" .. coupon .. "/issue", nil,
      '{"userId": "' .. user(issues) .. '"}')
  elseif slot < 8 then
    carts = carts + 1
    return wrk.format(nil, "/api/cart/items", nil, '{"userId": "' .. user(carts)
      .. '", "productId": "test-product-' .. (1 + carts %% 10) .. '", "quantity": 1}')
  end
  orders = orders + 1
  return wrk.format(nil, "/api/orders", nil, '{"userId": "' .. user(orders - lag) .. '"}')
end

"""
    + WRK_REPORT
)


class RssSampler(threading.Thread):
    """The shop's largest resident set, every `every` seconds, until stopped."""

    def __init__(self, pid: int, every: float = 5.0) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.every = every
        self.samples: list[tuple[float, float]] = []
        self.stopped = threading.Event()

    def run(self) -> None:
        started = time.monotonic()
        while not self.stopped.wait(self.every):
            self.samples.append((time.monotonic() - started, rss_mib(self.pid)))

    def peak(self, since: float, until: float) -> float:
        return max((mb for at, mb in self.samples if since <= at < until), default=0.0)


def _minute(script: Path, coupon: str) -> dict[str, Any]:
    out = wrk(script, connections=CONNECTIONS, seconds=60, env={"BENCH_COUPON": coupon})
    measured = parse_wrk(out)
    return {
        "rps": measured["requests"] / measured["seconds"],
        "p50_ms": measured["p50_ms"],
        "p99_ms": measured["p99_ms"],
        "statuses": measured["statuses"],
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=int, default=10)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    machine = ceiling.describe_machine()
    ceiling.prepare()
    ceiling.refill_carts()
    coupon = ceiling.fresh_coupon("soak")
    proc = ceiling.start_shop(Variant("soak", "one process"))
    sampler = RssSampler(proc.pid)
    minutes: list[dict[str, Any]] = []
    cpu_before = cpu_seconds(proc.pid)
    started = time.monotonic()
    script = Path(tempfile.mkstemp(suffix=".lua")[1])
    script.write_text(SOAK_LUA % {"users": USERS, "lag": ORDER_LAG})
    sampler.start()
    try:
        for minute in range(args.minutes):
            measured = _minute(script, coupon)
            measured["rss_mb"] = sampler.peak(minute * 60, (minute + 1) * 60 + 1)
            minutes.append(measured)
            print(f"minute {minute + 1}: {json.dumps(measured)}", flush=True)
    finally:
        sampler.stopped.set()
        cpu = (cpu_seconds(proc.pid) - cpu_before) / (time.monotonic() - started)
        stop(proc, timeout=30)
    report = _report(minutes, cpu, machine)
    print(report)
    if args.out:
        args.out.write_text(report)
    return 0


def _report(minutes: list[dict[str, Any]], cpu: float, machine: str) -> str:
    peak = max(m["rss_mb"] for m in minutes)
    warm = minutes[1]["rss_mb"] if len(minutes) > 1 else minutes[0]["rss_mb"]
    growth = minutes[-1]["rss_mb"] - warm
    lines = [
        "# Soak: one shop process under full mixed load",
        "",
        f"`python -m loadtest bench soak --minutes {len(minutes)}` (`make bench-soak`) — wrk at"
        f" {CONNECTIONS} connections, requests in the ratio 4 charges : 2 coupon issues : 2 cart"
        f" adds : 2 orders (each order for a user whose cart add was sent {ORDER_LAG} cart adds"
        f" earlier), {USERS:,} seeded users, one shop process (pool 64, in-process locks).",
        "",
        f"Machine: {machine}.",
        "",
        f"**Peak RSS {peak:.0f} MiB** (budget {RSS_BUDGET_MB} MiB); from minute 2 to minute"
        f" {len(minutes)}: {growth:+.1f} MiB. Shop CPU over the soak: {cpu:.0%} of one core.",
        "",
        "| minute | req/s | p50 ms | p99 ms | answers | peak RSS MiB |",
        "|---|---|---|---|---|---|",
    ]
    for n, m in enumerate(minutes, 1):
        answers = ", ".join(f"{k}: {v:,}" for k, v in sorted(m["statuses"].items()))
        lines.append(
            f"| {n} | {m['rps']:,.0f} | {m['p50_ms']:.1f} | {m['p99_ms']:.1f} | {answers}"
            f" | {m['rss_mb']:.1f} |"
        )
    lines += [
        "",
        "400s and 409s are business refusals: an order whose cart an earlier order emptied"
        " (400 `O001`; wrk restarts its counters every minute, so the first orders of a minute"
        " go to users who already ordered), a coupon the user already holds (409). Any 5xx"
        " would be listed.",
        "",
    ]
    return "\n".join(lines)

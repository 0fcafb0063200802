"""The hot product: 100 concurrent buyers of one product, group commit against one order per
transaction, with the database near and 5 ms away.

Every seeded cart holds `test-product-1` (a flash sale), so every order updates that product's
row. For each database distance (the `db_latency_ms` incident switch: 0, then 5 ms before every
statement) and each variant — `SHOP_ORDER_BATCH_MAX=1` with as many batches in flight as the
pool lends (one order per transaction, the shop before group commit: the ceiling the group
commit is measured against), the default group commit, and 8 batches in flight — in
interleaved rounds of one run: one shop process, wrk at 100 connections posting `/api/orders`
for users whose carts no earlier measurement of the round emptied
(docs/decisions/0035-order-group-commit.md).

Usage: `python -m loadtest bench hot-product --out docs/benchmarks/hot-product.md`
(`make bench-hot-product`).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loadtest.bench import ceiling
from loadtest.bench.ceiling import PORT, USERS, WRK_LUA, Users, Variant, raw_rounds
from loadtest.harness import admin
from loadtest.harness.processes import stop

DISTANCES_MS = (0, 5)
# Orders per second a measurement may reach before wrk wraps around to users it emptied.
USERS_PER_SECOND = 2_000
TARGETS = "≥ 600 orders/s and p99 ≤ 200 ms at 5 ms; ≥ 1.5× one order per transaction at 0 ms"


@dataclass(frozen=True)
class Case:
    distance_ms: int
    variant: Variant

    @property
    def key(self) -> str:
        return f"{self.distance_ms} ms: {self.variant.name}"


VARIANTS = (
    # Batches of one, as many in flight as the pool lends: the shop before group commit.
    Variant(
        "order",
        "one order per transaction",
        env={"SHOP_ORDER_BATCH_MAX": "1", "SHOP_ORDER_BATCH_PARALLEL": "64"},
    ),
    Variant("order", "group commit"),
    Variant("order", "group commit, 8 batches in flight", env={"SHOP_ORDER_BATCH_PARALLEL": "8"}),
)
CASES = [Case(d, v) for d in DISTANCES_MS for v in VARIANTS]


def measure(case: Case, seconds: int, users: Users, script: Path, token: str) -> dict[str, Any]:
    """One shop for `case`, warmed up for a second, then measured for `seconds`."""
    proc = ceiling.start_shop(case.variant)
    try:
        admin.flip(f"http://127.0.0.1:{PORT}", token, "db_latency_ms", case.distance_ms)
        span = seconds * USERS_PER_SECOND
        coupon = ceiling.fresh_coupon("unused")  # the order script sends no coupon
        ceiling.run_wrk(
            script, "order", 1, (users.take(USERS_PER_SECOND), USERS_PER_SECOND), coupon, proc.pid
        )
        measured = ceiling.run_wrk(
            script, "order", seconds, (users.take(span), span), coupon, proc.pid
        )
    finally:
        stop(proc, timeout=30)
    measured["load"] = os.getloadavg()[0]
    return measured


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="loadtest bench hot-product", description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=6)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    if (args.seconds + 1) * USERS_PER_SECOND * len(CASES) > USERS:  # warm-up and measurement
        parser.error(f"--seconds {args.seconds} needs more than the {USERS:,} seeded users")
    token = os.environ.get("SHOP_ADMIN_TOKEN", "dev-admin-token")
    machine = ceiling.describe_machine()
    ceiling.prepare()
    script = Path(tempfile.mkstemp(suffix=".lua")[1])
    script.write_text(WRK_LUA % {"users": USERS})
    results: dict[str, list[dict[str, Any]]] = {case.key: [] for case in CASES}
    users = Users()
    for round_no in range(args.rounds):
        ceiling.refill_carts()
        users.next = 1
        for case in CASES:
            measured = measure(case, args.seconds, users, script, token)
            results[case.key].append(measured)
            print(f"round {round_no + 1} {case.key}: {json.dumps(measured)}", flush=True)
    report = _report(results, args, machine)
    print(report)
    if args.out:
        args.out.write_text(report)
    return 0


def _report(results: dict[str, list[dict[str, Any]]], args: Any, machine: str) -> str:
    def med(runs: list[dict[str, Any]], k: str) -> float:
        return float(statistics.median(r[k] for r in runs))

    lines = [
        "# The hot product: group commit against one order per transaction",
        "",
        f"`python -m loadtest bench hot-product` (`make bench-hot-product`) — {args.rounds}"
        f" interleaved rounds of {args.seconds} s per case; {USERS:,} seeded users, every cart"
        " holding `test-product-1`; one shop process (pool 64) driven by `wrk -t1 -c100`"
        " posting `/api/orders`; the database's distance set by the `db_latency_ms` switch."
        " MariaDB, the shop and wrk share the machine.",
        "",
        f"Machine: {machine}.",
        "",
        f"Targets (issue 20): {TARGETS}.",
        "",
        "| DB distance | variant | orders/s | p50 ms | p95 ms | p99 ms | × one per tx"
        " | shop CPU | shop CPU µs/order | answers (all rounds) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for distance in DISTANCES_MS:
        single = med(results[Case(distance, VARIANTS[0]).key], "rps")
        for variant in VARIANTS:
            runs = results[Case(distance, variant).key]
            rps, cpu = med(runs, "rps"), med(runs, "shop_cpu")
            answers: Counter[str] = Counter()
            for r in runs:
                answers.update({k: int(n) for k, n in r["statuses"].items()})
            lines.append(
                f"| {distance} ms | {variant.name} | {rps:,.0f} | {med(runs, 'p50_ms'):.1f}"
                f" | {med(runs, 'p95_ms'):.1f} | {med(runs, 'p99_ms'):.1f}"
                f" | {rps / single if single else 0:.2f}× | {cpu * 100:.0f} %"
                f" | {cpu / rps * 1e6 if rps else 0:,.0f}"
                f" | {', '.join(f'{k}: {n:,}' for k, n in sorted(answers.items()))} |"
            )
    loads = [r["load"] for runs in results.values() for r in runs]
    lines += [
        "",
        "Medians of the rounds. The ratio is to one order per transaction at the same distance."
        " CPU is the shop process's share of one core during the measurement; µs/order is that"
        " share over the orders answered 200. Each measurement orders for"
        f" {USERS_PER_SECOND:,} fresh carts per second; a case that reaches that rate wraps"
        " around to carts it already emptied, which answer 400 `O001` (the cart is empty):"
        " its rate is then a lower bound. Load average (1 min) at the end of the"
        f" measurements: median {statistics.median(loads):.1f}, range"
        f" {min(loads):.1f}–{max(loads):.1f} on {os.cpu_count()} CPUs.",
        *raw_rounds(results),
    ]
    return "\n".join(lines) + "\n"

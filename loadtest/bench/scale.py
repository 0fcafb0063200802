"""Data at scale: charge, coupon issue and order with 100,000, 1 million and 5 million users.

Each size gets its own database (`shop_scale_100k`, `shop_scale_1m`, `shop_scale_5m`), seeded
by the shop's own seed (the time and users/s of each, and the size on disk, are reported). Then,
in interleaved rounds (100k, 1m, 5m, 100k, 1m, 5m, ...: the shared machine's drift falls on
every size alike), one shop process per size and round serves the three paths, each warmed for
a second and driven by wrk at the original's concurrency. Three databases rather than one grown
in steps: a grown database cannot go back to a smaller size, so its rounds could not interleave.

Requests pick users uniformly over the whole range of the size (a Weyl sequence: user
1 + (i * stride) mod size, the stride coprime to the size near 0.618 of it), so the 5 million
users touch pages the buffer pool does not hold; no user is picked twice within a measurement,
and an order's user never twice in the run (each order empties the user's cart). The InnoDB
buffer pool's size and the server's reads from disk per measurement are reported beside the
figures. The databases are dropped at the end.

Usage: `python -m loadtest bench scale --out docs/benchmarks/scale.md` (`make bench-scale`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from loadtest.bench.ceiling import (
    CONCURRENCY,
    WRK_PRELUDE,
    WRK_REPORT,
    Variant,
    describe_machine,
    raw_rounds,
    run_wrk,
    start_shop,
)
from loadtest.harness import database
from loadtest.harness.processes import stop
from shop.adapters.mysql.pool import parse_db_url

SERVER = os.environ.get("SHOP_BENCH_SERVER", "mysql://root:@127.0.0.1:3306")
SIZES = (100_000, 1_000_000, 5_000_000)
PATHS = ("charge", "coupon", "order")
STOCK = 100_000_000  # every order buys test-product-1: it must not sell out
TARGET = 0.90  # throughput at the largest size, as a share of the smallest's

WRK_LUA = (
    WRK_PRELUDE
    + """
local users = %(users)d
local stride = %(stride)d

function request()
  -- i * stride stays below 2^53 for every size here: exact in Lua's doubles.
  local user = "test-user-" .. (1 + ((first + n) * stride) %% users)
  n = n + 1
  if kind == "charge" then
    return wrk.format(nil, "/api/users/" .. user .. "/balance/charge", nil, '{"amount": 1}')
  end
  local body = '{"userId": "' .. user .. '"}'
  if kind == "coupon" then
    return wrk.format(nil, "/api/coupons/" .. coupon .. "/issue", nil, body)
  end
  return wrk.format(nil, "/api/orders", nil, body)
end
"""
    + WRK_REPORT
)


def label(users: int) -> str:
    """100000 -> 100k, 1000000 -> 1m, 5000000 -> 5m, 1500 -> 1500."""
    for unit, suffix in ((1_000_000, "m"), (1_000, "k")):
        if users % unit == 0:
            return f"{users // unit}{suffix}"
    return str(users)


def stride(users: int) -> int:
    """A step coprime to `users` near 0.618 of it: consecutive picks land far apart and the
    first `users` picks are every user once."""
    step = max(1, int(users * 0.6180339887))
    while math.gcd(step, users) != 1:
        step += 1
    return step


@dataclass
class Size:
    users: int
    url: str
    script: Path
    next_order: int = 0  # where the next order measurement starts in the user sequence
    next_pick: int = 0  # the same for charges and coupon issues (repeats do no harm there)
    seed_seconds: float = 0.0
    disk_mib: float = 0.0

    @property
    def label(self) -> str:
        return label(self.users)


def _size(users: int, prefix: str) -> Size:
    script = Path(tempfile.mkstemp(suffix=".lua")[1])
    script.write_text(WRK_LUA % {"users": users, "stride": stride(users)})
    return Size(users, f"{SERVER}/{prefix}_{label(users)}", script)


def _query(sql: str) -> list[tuple[Any, ...]]:
    with database.connect(f"{SERVER}/mysql") as conn, conn.cursor() as cur:
        cur.execute(sql)
        return list(cur.fetchall())


def _disk_mib(url: str) -> float:
    """What the database's tablespaces take on disk (the files, not the statistics' estimate)."""
    name = parse_db_url(url).database
    ((allocated,),) = _query(
        "SELECT COALESCE(SUM(ALLOCATED_SIZE), 0) FROM information_schema.INNODB_SYS_TABLESPACES"
        f" WHERE NAME LIKE '{name}/%'"
    )
    return int(allocated) / 2**20


def _pool_reads() -> int:
    """Pages InnoDB had to read from disk since the server started (server-wide)."""
    ((_, value),) = _query("SHOW GLOBAL STATUS LIKE 'Innodb_buffer_pool_reads'")
    return int(value)


def seed(size: Size) -> None:
    """A recreated database, migrated, then seeded by the shop's seed (timed alone)."""
    database.recreate(size.url)
    database.shop_command(size.url, "migrate")
    started = time.perf_counter()
    asyncio.run(database.seed(size.url, users=size.users, stock=STOCK, coupon_quantity=1))
    size.seed_seconds = time.perf_counter() - started
    size.disk_mib = _disk_mib(size.url)
    print(
        f"seeded {size.label}: {size.users:,} users in {size.seed_seconds:.1f} s"
        f" ({size.users / size.seed_seconds:,.0f} users/s), {size.disk_mib:,.0f} MiB on disk",
        flush=True,
    )


def _fresh_coupon(size: Size) -> str:
    """A coupon of the size's database that no user holds yet, enough for every user."""
    coupon = f"scale-{time.time_ns()}"
    with database.connect(size.url) as conn, conn.cursor() as cur:
        cur.execute(
            "INSERT INTO coupons (coupon_id, name, discount_type, discount_value,"
            " min_order_amount, total_quantity, issued_quantity, expires_at, created_at)"
            " VALUES (%s, 'bench', 'FIXED', 1000, 0, %s, 0, %s, NOW(6))",
            (coupon, size.users, datetime.now(UTC) + timedelta(days=1)),
        )
    return coupon


def _resize_pool(size: int) -> int:
    """Set the server's buffer pool (a global setting: restored by the caller); its new size."""
    _query(f"SET GLOBAL innodb_buffer_pool_size = {int(size)}")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # the resize runs in the background
        ((_, status),) = _query("SHOW GLOBAL STATUS LIKE 'Innodb_buffer_pool_resize_status'")
        if "Completed" in status or not status:
            break
        time.sleep(0.5)
    ((now,),) = _query("SELECT @@innodb_buffer_pool_size")
    print(f"buffer pool: {int(now) / 2**20:,.0f} MiB ({status or 'no resize status'})", flush=True)
    return int(now)


def measure(size: Size, path: str, seconds: int, shop_pid: int) -> dict[str, Any]:
    """One second of warm-up, then `seconds` of wrk on `path` against the size's shop."""
    coupon = _fresh_coupon(size)
    for secs in (1, seconds):
        first = size.next_order if path == "order" else size.next_pick
        reads = _pool_reads()
        measured = run_wrk(size.script, path, secs, (first, size.users), coupon, shop_pid)
        reads = _pool_reads() - reads
        # Requests in flight when wrk stopped were sent but not counted: skip past them too.
        sent = sum(measured["statuses"].values()) + 2 * CONCURRENCY[path]
        if path == "order":
            size.next_order += sent
        else:
            size.next_pick += sent
    measured["pool_reads_per_s"] = reads / seconds
    measured["load"] = os.getloadavg()[0]
    return measured


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="loadtest bench scale", description=__doc__)
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)), help="users, comma-separated")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=6)
    parser.add_argument("--prefix", default="shop_scale", help="the databases' name prefix")
    parser.add_argument(
        "--buffer-pool-mib",
        type=int,
        help="run with the server's InnoDB buffer pool at this size; the old size is restored",
    )
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    sizes = [_size(int(n), args.prefix) for n in args.sizes.split(",")]
    machine = describe_machine()
    shared = os.getloadavg()[0] > (os.cpu_count() or 1)
    ((server_pool,),) = _query("SELECT @@innodb_buffer_pool_size")
    pool = int(server_pool)
    results: dict[str, list[dict[str, Any]]] = {f"{s.label}: {p}": [] for p in PATHS for s in sizes}
    try:
        if args.buffer_pool_mib:
            pool = _resize_pool(args.buffer_pool_mib * 2**20)
        for size in sizes:
            seed(size)
        for round_no in range(args.rounds):
            for size in sizes:
                env = {"SHOP_DB_URL": size.url}
                proc = start_shop(Variant("charge", size.label, env=env))
                try:
                    for path in PATHS:
                        measured = measure(size, path, args.seconds, proc.pid)
                        results[f"{size.label}: {path}"].append(measured)
                        print(
                            f"round {round_no + 1} {size.label} {path}: {json.dumps(measured)}",
                            flush=True,
                        )
                finally:
                    stop(proc, timeout=30)
    finally:
        for size in sizes:
            database.drop(size.url)
        if pool != int(server_pool):
            _resize_pool(int(server_pool))
    report = _report(results, sizes, (pool, int(server_pool)), args, (machine, shared))
    print(report)
    if args.out:
        args.out.write_text(report)
    return 0


def _report(
    results: dict[str, list[dict[str, Any]]],
    sizes: list[Size],
    pools: tuple[int, int],
    args: Any,
    machine: tuple[str, bool],
) -> str:
    def med(runs: list[dict[str, Any]], k: str) -> float:
        return float(statistics.median(r[k] for r in runs))

    small, large = sizes[0], sizes[-1]
    pool, server_pool = pools
    setting = (
        "the server's own setting, left as it is"
        if pool == server_pool
        else f"set for this run; the server's own {server_pool / 2**20:,.0f} MiB restored after"
    )
    first_rate = small.users / small.seed_seconds
    lines = [
        "# Data at scale: the endpoints with 100,000, 1 million and 5 million users",
        "",
        f"`python -m loadtest bench scale` (`make bench-scale`) — one database per size, seeded"
        f" by the shop's seed; then {args.rounds} round(s) interleaving the sizes, each round one"
        f" shop process (pool 64) per size serving charge, coupon issue and order in turn, each"
        f" path warmed for 1 s and measured for {args.seconds} s by `wrk -t1` at the original's"
        " concurrency (charge 150, coupon 200, order 100). Users are picked uniformly over the"
        " whole range of each size. MariaDB, the shop and wrk share the machine.",
        "",
        f"Machine: {machine[0]}.",
        *(
            [
                "",
                "**The machine was shared with other work during this run** (the load average"
                " exceeded the CPU count when it started): absolute figures are low and noisy;"
                " the sizes' ratios, measured side by side, are what to read.",
            ]
            if machine[1]
            else []
        ),
        "",
        f"InnoDB buffer pool: {pool / 2**20:,.0f} MiB ({setting}).",
        "",
        "## Seeding",
        "",
        "| users | seed s | users/s | × the smallest's users/s | on disk MiB | × buffer pool |",
        "|---|---|---|---|---|---|",
    ]
    for s in sizes:
        rate = s.users / s.seed_seconds
        lines.append(
            f"| {s.users:,} | {s.seed_seconds:.1f} | {rate:,.0f} | {rate / first_rate:.2f}×"
            f" | {s.disk_mib:,.0f} | {s.disk_mib * 2**20 / pool:.1f}× |"
        )
    last_rate = large.users / large.seed_seconds
    linear = last_rate >= 0.8 * first_rate
    lines += [
        "",
        f"Seeding is {'linear' if linear else '**not linear**'}: {last_rate:,.0f} users/s at"
        f" {large.users:,} against {first_rate:,.0f} at {small.users:,}"
        f" ({last_rate / first_rate:.2f}×; linear here means at least 0.8×).",
        "",
        "## Throughput by size",
        "",
        f"Target: req/s at {large.users:,} users within {1 - TARGET:.0%} of {small.users:,}"
        f" (at least {TARGET:.2f}×).",
        "",
        "| path | users | req/s (200) | × smallest | p50 ms | p95 ms | p99 ms | shop CPU"
        " | pool reads/s | answers (all rounds) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    verdicts = []
    for path in PATHS:
        base = med(results[f"{small.label}: {path}"], "rps")
        for s in sizes:
            runs = results[f"{s.label}: {path}"]
            rps = med(runs, "rps")
            answers: Counter[str] = Counter()
            for r in runs:
                answers.update({k: int(n) for k, n in r["statuses"].items()})
            ratio = rps / base if base else 0.0
            lines.append(
                f"| {path} | {s.users:,} | {rps:,.0f} | {ratio:.2f}× | {med(runs, 'p50_ms'):.1f}"
                f" | {med(runs, 'p95_ms'):.1f} | {med(runs, 'p99_ms'):.1f}"
                f" | {med(runs, 'shop_cpu') * 100:.0f} % | {med(runs, 'pool_reads_per_s'):,.0f}"
                f" | {', '.join(f'{k}: {n:,}' for k, n in sorted(answers.items()))} |"
            )
            if s is large:
                met = "met" if ratio >= TARGET else "**not met**"
                verdicts.append(f"- {path}: {ratio:.2f}× at {s.users:,} users: {met}")
    loads = [r["load"] for runs in results.values() for r in runs]
    lines += [
        "",
        *verdicts,
        "",
        "Medians of the rounds; the ratio is to the smallest size on the same path. Shop CPU is"
        " the shop process's share of one core. Pool reads/s: pages InnoDB read from disk"
        " during the measurement (server-wide, so other work on the server counts too): what"
        " does not fit in the buffer pool shows here. Load average (1 min) at the end of the"
        f" measurements: median {statistics.median(loads):.1f}, range"
        f" {min(loads):.1f}–{max(loads):.1f} on {os.cpu_count()} CPUs.",
        *raw_rounds(results),
    ]
    return "\n".join(lines) + "\n"

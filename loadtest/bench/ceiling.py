"""The endpoints against the database's own ceiling: coupon issue, balance charge, order.

For each path, in interleaved rounds of one run:
- the raw ceiling: the transaction the endpoint runs, driven straight from this Python process
  (aiomysql on uvloop, the shop's pool size, the original's concurrency), no HTTP;
- the endpoint over HTTP, driven by wrk at the same concurrency; wrk's and the shop's CPU
  shares are reported so a saturated load generator would show.

Usage: `python -m loadtest bench ceiling --out docs/benchmarks/ceiling.md` (what `make bench`
runs). Every measurement uses users no earlier measurement of the round used, and a fresh
coupon, so duplicates and sold-outs never flatter a figure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import statistics
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiomysql
import asyncmy
import uvloop

from loadtest.harness import database, shop
from loadtest.harness.ports import free_port
from loadtest.harness.processes import cpu_seconds, rss_mib, stop
from shop.adapters.mysql.pool import Database, parse_db_url
from shop.adapters.mysql.store import MySqlStore
from shop.domain.errors import ShopError
from shop.domain.money import MAX_BALANCE
from shop.locks.local import LocalLockManager
from shop.use_cases.deps import Deps
from shop.use_cases.order_batches import OrderBatches
from shop.use_cases.orders import place_order

PORT = free_port()
DB_URL = os.environ.get("SHOP_BENCH_DB_URL", "mysql://root:@127.0.0.1:3306/shop_bench")
USERS = 100_000
POOL = 64  # the shop's SHOP_DB_POOL_MAX
CONCURRENCY = {"coupon": 200, "charge": 150, "order": 100}  # the original's load tests
REDIS = {"SHOP_REDIS_URL": "redis://127.0.0.1:6379/0", "SHOP_REDIS_PREFIX": "bench:"}
# Two worker processes on one port need the Redis lock backend; each gets half the pool.
WORKERS = {
    **REDIS,
    "SHOP_LOCK_BACKEND": "redis",
    "SHOP_WORKERS": "2",
    "SHOP_METRICS_PORT": str(free_port()),
    "SHOP_DB_POOL_MAX": str(POOL // 2),
}


@dataclass(frozen=True)
class Variant:
    path: str  # coupon | charge | order
    name: str
    raw: str | None = None  # the raw driver, or None for the endpoint over HTTP
    env: dict[str, str] = field(default_factory=dict)
    server: tuple[str, ...] = ("-m", "shop", "serve")  # what serves HTTP: the shop by default


VARIANTS = [
    Variant("coupon", "raw: one issue per transaction", raw="coupon_single"),
    Variant("coupon", "raw: 50 issues per transaction", raw="coupon_batch"),
    Variant("coupon", "HTTP, one transaction per issue", env={"SHOP_COUPON_BATCH_MAX": "1"}),
    Variant(
        "coupon", "HTTP, group commit, 1 batch in flight", env={"SHOP_COUPON_BATCH_PARALLEL": "1"}
    ),
    Variant("coupon", "HTTP, group commit"),
    Variant("coupon", "HTTP, group commit + Redis gate", env=REDIS),
    Variant("coupon", "HTTP, group commit + Redis gate, 2 workers", env=WORKERS),
    Variant("charge", "raw: the charge transaction", raw="charge"),
    # The driver evaluation: the same transaction over asyncmy (Cython) instead of aiomysql.
    Variant("charge", "raw: the charge transaction, asyncmy driver", raw="charge_asyncmy"),
    # What HTTP alone costs: aiohttp running the raw transaction, no shop code (floor.py).
    Variant(
        "charge",
        "HTTP floor: bare aiohttp handler, raw transaction",
        server=("-m", "loadtest.bench.floor"),
    ),
    # What the shop's own layers cost beyond the floor, with and without its telemetry.
    Variant("charge", "HTTP, telemetry off", env={"SHOP_TELEMETRY": "off"}),
    Variant("charge", "HTTP"),
    Variant("charge", "HTTP, 2 workers + Redis locks", env=WORKERS),
    Variant("order", "raw: one order per transaction (the shop's own code, no HTTP)", raw="order"),
    Variant("order", "HTTP"),
    Variant("order", "HTTP, 2 workers + Redis locks", env=WORKERS),
]


# -- raw drivers -------------------------------------------------------------------------------


class Users:
    """Hands out users no earlier measurement of this run ordered with (carts are refilled)."""

    def __init__(self) -> None:
        self.next = 1

    def take(self, count: int) -> int:
        if self.next + count > USERS:
            self.next = 1
        first = self.next
        self.next += count
        return first


async def _connect(driver: str = "aiomysql") -> Any:
    target = parse_db_url(DB_URL)
    isolation = "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED"
    if driver == "asyncmy":
        return await asyncmy.create_pool(
            host=target.host,
            port=target.port,
            user=target.user,
            password=target.password,
            db=target.database,
            autocommit=True,
            charset="utf8mb4",
            minsize=POOL,
            maxsize=POOL,
            init_command=isolation,
        )
    return await aiomysql.create_pool(
        **target.connect_args(),
        db=target.database,
        minsize=POOL,
        maxsize=POOL,
        init_command=isolation,
    )


async def _drive(
    seconds: float, workers: int, one: Callable[[int], Awaitable[str]]
) -> dict[str, Any]:
    """`workers` loops calling `one(n)` with n = 0, 1, 2, ... until the deadline."""
    latencies: list[float] = []
    statuses: Counter[str] = Counter()
    counter = iter(range(10**9))
    deadline = time.perf_counter() + seconds

    async def loop() -> None:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            status = await one(next(counter))
            statuses[status] += 1
            if status == "200":
                latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(loop() for _ in range(workers)))
    return {**summary(latencies, time.perf_counter() - started), "statuses": dict(statuses)}


async def _raw(kind: str, seconds: float, users: Users, coupon: str) -> dict[str, Any]:
    workers = CONCURRENCY[kind.split("_")[0]]
    now = datetime.now(UTC).replace(tzinfo=None)
    if kind == "order":
        db = await Database.connect(DB_URL, maxsize=POOL)
        store, clock = MySqlStore(db), lambda: datetime.now(UTC)
        deps = Deps(
            store=store,
            locks=LocalLockManager(wait=5.0, lease=10.0),
            clock=clock,
            order_lock_scope=lambda: "user",
            # The ceiling is one order per transaction, as the coupon's raw row is one issue
            # per transaction: the endpoint's group commit is measured against it.
            order_placements=OrderBatches(store, clock, max_batch=1, parallel=POOL),
        )
        first = users.take(int(seconds * 3_000))

        async def order(n: int) -> str:
            try:
                await place_order(deps=deps, user_id=f"test-user-{first + n}", coupon_id=None)
            except ShopError as refusal:
                return refusal.code
            return "200"

        try:
            return await _drive(seconds, workers, order)
        finally:
            await db.close()
    pool = await _connect("asyncmy" if kind.endswith("_asyncmy") else "aiomysql")

    async def transaction(statements: list[tuple[str, tuple[Any, ...]]]) -> str:
        # As the shop's session sends it: the BEGIN goes with the first statement.
        (first, first_params), *rest = statements
        async with pool.acquire() as conn, conn.cursor() as cur:
            await cur.execute(f"BEGIN; {first}", first_params)
            await cur.nextset()
            for sql, params in rest:
                await cur.execute(sql, params)
            await cur.execute("COMMIT")
        return "200"

    async def coupon_single(n: int) -> str:
        return await transaction(
            [
                (
                    "INSERT INTO user_coupons (coupon_id, user_id, status, issued_at)"
                    " VALUES (%s, %s, 'AVAILABLE', %s)",
                    (coupon, f"test-user-{n + 1}", now),
                ),
                (
                    "UPDATE coupons SET issued_quantity = issued_quantity + 1 WHERE coupon_id = %s"
                    " AND issued_quantity < total_quantity AND expires_at > %s",
                    (coupon, now),
                ),
            ]
        )

    async def coupon_batch(n: int) -> str:
        first = n * 50 + 1
        values = ", ".join(["(%s, %s, 'AVAILABLE', %s)"] * 50)
        params: list[Any] = []
        for u in range(first, first + 50):
            params += [coupon, f"test-user-{u}", now]
        return await transaction(
            [
                (
                    "INSERT INTO user_coupons (coupon_id, user_id, status, issued_at)"
                    f" VALUES {values}",
                    tuple(params),
                ),
                (
                    "UPDATE coupons SET issued_quantity = issued_quantity + 50"
                    " WHERE coupon_id = %s AND issued_quantity + 50 <= total_quantity"
                    " AND expires_at > %s",
                    (coupon, now),
                ),
            ]
        )

    async def charge(n: int) -> str:
        user = f"test-user-{1 + (n * 7919) % USERS}"
        async with pool.acquire() as conn, conn.cursor() as cur:
            await charge_packets(cur, user, now)
        return "200"

    drivers = {
        "coupon_single": coupon_single,
        "coupon_batch": coupon_batch,
        "charge": charge,
        "charge_asyncmy": charge,
    }
    try:
        result = await _drive(seconds, workers, drivers[kind])
        if kind == "coupon_batch":  # report issues, not transactions
            result["rps"] *= 50
            result["statuses"] = {"200": result["statuses"]["200"] * 50}
        return result
    finally:
        pool.close()
        await pool.wait_closed()


async def charge_packets(cur: Any, user: str, now: datetime) -> int:
    """The charge transaction as the shop sends it (session.py): two packets of statements.

    BEGIN, the guarded credit and the balance read go in one; the history row and the COMMIT
    in the other. Returns the new balance. Both drivers take the same calls.
    """
    await cur.execute(
        "BEGIN; UPDATE users SET balance = balance + %s WHERE user_id = %s"
        " AND balance + %s <= %s; SELECT balance FROM users WHERE user_id = %s",
        (1, user, 1, MAX_BALANCE, user),
    )
    await cur.nextset()
    await cur.nextset()
    (balance,) = await cur.fetchone()
    await cur.execute(
        "INSERT INTO balance_history (user_id, amount, previous_balance, current_balance,"
        " reason, order_id, created_at) VALUES (%s, %s, %s, %s, 'CHARGE', NULL, %s); COMMIT",
        (user, 1, balance - 1, balance, now),
    )
    await cur.nextset()
    return int(balance)


def summary(latencies: list[float], elapsed: float) -> dict[str, float]:
    """Answers per second and p50/p95/p99 in ms of one measurement (latencies in seconds)."""
    latencies = sorted(latencies)

    def pct(q: float) -> float:
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000

    rps = len(latencies) / elapsed
    return {"rps": rps, "p50_ms": pct(0.50), "p95_ms": pct(0.95), "p99_ms": pct(0.99)}


# -- the endpoint over HTTP ---------------------------------------------------------------------

# Appended to every wrk script: answers counted by status, one BENCH line of JSON at the end.
WRK_REPORT = """
local codes = {}
function setup(thread) table.insert(threads, thread) end
threads = {}

function response(status, headers, body)
  codes[status] = (codes[status] or 0) + 1
  local text = ""
  for code, count in pairs(codes) do text = text .. code .. "=" .. count .. " " end
  statuses = text
end

function done(summary, latency, requests)
  io.write(string.format(
    'BENCH {"requests": %%d, "seconds": %%f, "p50_us": %%d, "p95_us": %%d, "p99_us": %%d,'
    .. ' "statuses": "%%s", "socket_errors": %%d}\\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50), latency:percentile(95),
    latency:percentile(99), threads[1]:get("statuses") or "",
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
"""

# What every wrk script of the benches reads from its environment, and the request's method.
WRK_PRELUDE = """
local first = tonumber(os.getenv("BENCH_FIRST_USER"))
local kind = os.getenv("BENCH_PATH")
local coupon = os.getenv("BENCH_COUPON")
local n = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
"""

WRK_LUA = (
    WRK_PRELUDE
    + """
local span = tonumber(os.getenv("BENCH_SPAN"))
local users = %(users)d

function request()
  n = n + 1
  local user = "test-user-" .. (first + (n - 1) %% span)
  local body = '{"userId": "' .. user .. '"}'
  if kind == "coupon" then
    return wrk.format(nil, "/api/coupons/" .. coupon .. "/issue", nil, body)
  elseif kind == "charge" then
    local u = "test-user-" .. (1 + (n * 7919) %% users)
    return wrk.format(nil, "/api/users/" .. u .. "/balance/charge", nil, '{"amount": 1}')
  end
  return wrk.format(nil, "/api/orders", nil, body)
end
"""
    + WRK_REPORT
)


def parse_wrk(out: str) -> dict[str, Any]:
    """The BENCH line of a wrk run: answers by status (socket errors too) and latencies."""
    data = json.loads(next(x for x in out.splitlines() if x.startswith("BENCH "))[6:])
    statuses = {k: int(v) for k, v in (p.split("=") for p in data["statuses"].split())}
    if data["socket_errors"]:
        statuses["socket errors"] = data["socket_errors"]
    return {
        "requests": data["requests"],
        "seconds": data["seconds"],
        "p50_ms": data["p50_us"] / 1000,
        "p95_ms": data["p95_us"] / 1000,
        "p99_ms": data["p99_us"] / 1000,
        "statuses": statuses,
    }


def wrk(
    script: Path,
    *,
    connections: int,
    seconds: int,
    port: int = PORT,
    latency: bool = False,
    env: Mapping[str, str] | None = None,
) -> str:
    """wrk's output for `script` against the shop on `port` (one thread: two cores to share)."""
    return subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", *(["--latency"] if latency else []),
         "-s", str(script), f"http://127.0.0.1:{port}"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **(env or {})},
    ).stdout  # fmt: skip


def run_wrk(
    script: Path, path: str, seconds: int, users: tuple[int, int], coupon: str, shop_pid: int
) -> dict[str, Any]:
    first, span = users
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    shop_before = cpu_seconds(shop_pid)
    started = time.perf_counter()
    out = wrk(
        script,
        connections=CONCURRENCY[path],
        seconds=seconds,
        env={
            "BENCH_FIRST_USER": str(first),
            "BENCH_PATH": path,
            "BENCH_COUPON": coupon,
            "BENCH_SPAN": str(span),
        },
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    wrk_cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    measured = parse_wrk(out)
    return {
        "rps": measured["statuses"].get("200", 0) / measured["seconds"],
        "p50_ms": measured["p50_ms"],
        "p95_ms": measured["p95_ms"],
        "p99_ms": measured["p99_ms"],
        "statuses": measured["statuses"],
        "wrk_cpu": wrk_cpu / wall,
        "shop_cpu": (cpu_seconds(shop_pid) - shop_before) / wall,
        "shop_rss_mb": rss_mib(shop_pid),
    }


def start_shop(variant: Variant) -> subprocess.Popen[bytes]:
    env = {"SHOP_DB_URL": DB_URL, "SHOP_DB_POOL_MAX": str(POOL), **variant.env}
    replica = shop.launch(f"http://127.0.0.1:{PORT}", env, command=variant.server)
    replica.wait_ready(within=30)
    return replica.process


# -- data ---------------------------------------------------------------------------------------


def _sql(statement: str) -> None:
    target = parse_db_url(DB_URL)
    subprocess.run(
        [
            "mysql",
            "-h",
            target.host,
            "-P",
            str(target.port),
            "-u",
            target.user,
            *([f"-p{target.password}"] if target.password else []),
            target.database,
            "-e",
            statement,
        ],
        check=True,
    )


def prepare() -> None:
    database.prepare(DB_URL, users=USERS, if_empty=False, stock=100_000_000)


def fresh_coupon(tag: str) -> str:
    coupon = f"bench-{tag}-{time.time_ns()}"
    expires = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%d %H:%M:%S")
    _sql(
        "INSERT INTO coupons (coupon_id, name, discount_type, discount_value, min_order_amount,"
        f" total_quantity, issued_quantity, expires_at, created_at) VALUES ('{coupon}',"
        f" 'bench', 'FIXED', 1000, 0, 100000000, 0, '{expires}', NOW(6))"
    )
    return coupon


def refill_carts() -> None:
    """Every user's cart holds one unit of product 1 again (orders empty them)."""
    _sql(
        "INSERT IGNORE INTO cart_items (cart_id, product_id, quantity, created_at)"
        " SELECT cart_id, 'test-product-1', 1, NOW(6) FROM carts"
    )


def describe_machine() -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    mem = int(Path("/proc/meminfo").read_text().split()[1]) // 1024
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"{os.cpu_count()} CPUs ({cpu}), {mem} MiB RAM, {platform.platform()}, Python "
        f"{platform.python_version()}; load average before the run: {load}"
    )


# -- the run ------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--only", choices=sorted(CONCURRENCY), action="append")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    machine = describe_machine()
    prepare()
    script = Path(tempfile.mkstemp(suffix=".lua")[1])
    script.write_text(WRK_LUA % {"users": USERS})
    variants = [v for v in VARIANTS if not args.only or v.path in args.only]
    results: dict[str, list[dict[str, Any]]] = {f"{v.path}: {v.name}": [] for v in variants}
    users = Users()
    for round_no in range(args.rounds):
        refill_carts()
        users.next = 1
        for variant in variants:
            key = f"{variant.path}: {variant.name}"
            coupon = fresh_coupon(variant.path)
            if variant.raw is not None:
                uvloop.run(_raw(variant.raw, 1, users, fresh_coupon("warm")))
                measured = uvloop.run(_raw(variant.raw, args.seconds, users, coupon))
            else:
                proc = start_shop(variant)
                try:
                    # Coupons: every seeded user once per fresh coupon; orders: users whose
                    # carts no earlier measurement of the round emptied.
                    span = int(args.seconds * 3_000) if variant.path == "order" else USERS
                    first = users.take(span) if variant.path == "order" else 1
                    warm = (users.take(3_000), 3_000) if variant.path == "order" else (1, USERS)
                    run_wrk(script, variant.path, 1, warm, fresh_coupon("warm"), proc.pid)
                    measured = run_wrk(
                        script, variant.path, args.seconds, (first, span), coupon, proc.pid
                    )
                finally:
                    stop(proc, timeout=30)
            measured["load"] = os.getloadavg()[0]
            results[key].append(measured)
            print(f"round {round_no + 1} {key}: {json.dumps(measured)}", flush=True)
    report = _report(results, variants, args, machine)
    print(report)
    if args.out:
        args.out.write_text(report)
    return 0


def _report(
    results: dict[str, list[dict[str, Any]]], variants: list[Variant], args: Any, machine: str
) -> str:
    def med(runs: list[dict[str, Any]], k: str) -> float:
        return statistics.median(r[k] for r in runs if k in r) if any(k in r for r in runs) else 0

    lines = [
        "# Endpoints against the database's own ceiling",
        "",
        f"`python -m loadtest bench ceiling` (`make bench`) — {args.rounds} interleaved rounds of"
        f" {args.seconds} s per variant; {USERS:,} seeded users; raw drivers: aiomysql on uvloop"
        f" from one process, pool {POOL}; HTTP: one shop process (pool {POOL}) driven by"
        " `wrk -t1` at the original's concurrency (coupon 200, charge 150, order 100)."
        " MariaDB, Redis, the shop and the load generator share the machine.",
        "",
        f"Machine: {machine}.",
        "",
        "| path | variant | req/s | p50 ms | p95 ms | p99 ms | answers (all rounds) |"
        " × raw ceiling | wrk CPU | shop CPU | shop RSS MiB |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    ceiling: dict[str, float] = {}
    loads = [r["load"] for runs in results.values() for r in runs]
    for v in variants:
        runs = results[f"{v.path}: {v.name}"]
        rps = med(runs, "rps")
        if v.raw is not None and v.path not in ceiling:
            ceiling[v.path] = rps
        answers: Counter[str] = Counter()
        for r in runs:
            answers.update({k: int(n) for k, n in r["statuses"].items()})
        ratio = rps / ceiling[v.path] if ceiling.get(v.path) else 0
        cpu = (
            f"{med(runs, 'wrk_cpu') * 100:.0f} % | {med(runs, 'shop_cpu') * 100:.0f} %"
            f" | {max(r['shop_rss_mb'] for r in runs):.0f}"
            if v.raw is None
            else "– | – | –"
        )
        lines.append(
            f"| {v.path} | {v.name} | {rps:,.0f} | {med(runs, 'p50_ms'):.1f}"
            f" | {med(runs, 'p95_ms'):.1f} | {med(runs, 'p99_ms'):.1f}"
            f" | {', '.join(f'{k}: {n:,}' for k, n in sorted(answers.items()))}"
            f" | {ratio:.2f}× | {cpu} |"
        )
    lines += [
        "",
        "Medians of the rounds. The ratio is to the path's first raw row (one transaction per"
        " request). CPU shares are of one core (100 % = one core busy), the shop's including"
        " its workers; RSS is the largest process's at the end of a measurement, the largest"
        " over the rounds. Load average (1 min) at the end of the measurements: median"
        f" {statistics.median(loads):.1f}, range {min(loads):.1f}–{max(loads):.1f} on"
        f" {os.cpu_count()} CPUs.",
        *raw_rounds(results),
    ]
    return "\n".join(lines) + "\n"


def raw_rounds(results: object) -> list[str]:
    """The report's last lines: every round's figures, for whoever wants more than medians."""
    return ["", "Raw rounds:", "", "```json", json.dumps(results, indent=1), "```"]

"""Side-by-side HTTP benchmarks: start the shop per variant, drive it with wrk, compare medians.

Variants run interleaved (A, B, A, B, ...) so that drift of the machine hits both alike; the
report quotes medians and the ratio of medians. Usage: `python -m loadtest bench suite runtime`.

`--against REF` runs every chosen variant twice per round, on the service as it was at git
REF and as it is now, interleaved, and compares each pair: a before/after of a change.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from loadtest import ROOT
from loadtest.bench.ceiling import raw_rounds, summary, wrk
from loadtest.harness import admin, database, shop
from loadtest.harness.processes import stop
from shop.auth.tokens import TokenSigner

PORT = int(os.environ.get("SHOP_BENCH_PORT", "18081"))
DB_URL = os.environ.get("SHOP_BENCH_DB_URL", "mysql://root:@127.0.0.1:3306/shop_bench")
USERS = 20_000

CHARGE_LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
  local path = "/api/users/test-user-" .. math.random(1, %(users)d) .. "/balance/charge"
  return wrk.format(nil, path, nil, '{"amount": 1}')
end
"""


# Charges that carry a fresh Idempotency-Key and/or the user's bearer token (SHOP_AUTH=required).
KEYED_LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local tokens = {%(tokens)s}
local sent = 0
request = function()
  local n = math.random(1, %(users)d)
  local headers = {}
  if #tokens > 0 then headers["Authorization"] = "Bearer " .. tokens[n] end
  if %(keyed)s then
    sent = sent + 1
    headers["Idempotency-Key"] = "%(run)s-" .. sent
  end
  return wrk.format(nil, "/api/users/test-user-" .. n .. "/balance/charge", headers,
    '{"amount": 1}')
end
"""
BENCH_SECRET = "bench-auth-secret"
TOKEN_USERS = 2_000  # tokens are baked into the script: keep it small


@dataclass(frozen=True)
class Variant:
    name: str
    env: dict[str, str]
    switches: dict[str, object] = field(default_factory=dict)
    # "charge" (wrk), "charge-small" (wrk, over TOKEN_USERS users), "charge-keyed" /
    # "charge-token" (the same with a fresh Idempotency-Key or the user's token per request),
    # or "orders" (aiohttp: add to cart, then order)
    driver: str = "charge"
    replicas: int = 1
    source: Path | None = None  # another copy of service/ to run instead of the working tree


# The comparisons a suite reports (default: its first variant against its last).
PAIRS = {
    "keys-and-tokens": [("plain", "Idempotency-Key"), ("plain", "user token")],
    "lock-scope": [
        ("global", "user"),
        ("global, DB 2 ms away", "user, DB 2 ms away"),
        ("user, DB 2 ms away", "user, 2 replicas + Redis locks, DB 2 ms away"),
    ],
}
REPLICATED = {"SHOP_LOCK_BACKEND": "redis", "SHOP_REDIS_URL": "redis://127.0.0.1:6379/0"}

SUITES: dict[str, tuple[str, list[Variant]]] = {
    "runtime": (
        "Event loop: uvloop vs the standard asyncio loop, balance-charge path",
        [
            Variant("asyncio", {"SHOP_EVENT_LOOP": "asyncio"}),
            Variant("uvloop", {"SHOP_EVENT_LOOP": "uvloop"}),
        ],
    ),
    "lock-scope": (
        "Orders/s with the order lock scoped per user vs one global lock (the original's P1)",
        [
            Variant("global", {}, {"order_lock_scope": "global"}, driver="orders"),
            Variant("user", {}, {"order_lock_scope": "user"}, driver="orders"),
            Variant(
                "global, DB 2 ms away",
                {},
                {"order_lock_scope": "global", "db_latency_ms": 2},
                driver="orders",
            ),
            Variant(
                "user, DB 2 ms away",
                {},
                {"order_lock_scope": "user", "db_latency_ms": 2},
                driver="orders",
            ),
            Variant(
                "user, 2 replicas + Redis locks, DB 2 ms away",
                REPLICATED,
                {"order_lock_scope": "user", "db_latency_ms": 2},
                driver="orders",
                replicas=2,
            ),
        ],
    ),
    "keys-and-tokens": (
        "What an Idempotency-Key (a fresh key per charge) and user tokens (SHOP_AUTH=required)"
        f" cost, balance-charge path over {TOKEN_USERS} users",
        [
            Variant("plain", {}, driver="charge-small"),
            Variant("Idempotency-Key", {}, driver="charge-keyed"),
            Variant(
                "user token",
                {"SHOP_AUTH": "required", "SHOP_AUTH_SECRET": BENCH_SECRET},
                driver="charge-token",
            ),
        ],
    ),
    "observability": (
        "Instrumentation overhead: metrics, request logs and pool/lock/statement instruments "
        "off vs on, balance-charge path",
        [
            Variant("telemetry off", {"SHOP_TELEMETRY": "off"}),
            Variant("metrics only", {"SHOP_TELEMETRY": "on", "SHOP_LOG_LEVEL": "WARNING"}),
            Variant("telemetry on", {"SHOP_TELEMETRY": "on"}),
        ],
    ),
}


def _start(variant: Variant) -> list[subprocess.Popen[bytes]]:
    env = {
        "SHOP_DB_URL": DB_URL,
        "SHOP_LOG_LEVEL": "INFO",
        "SHOP_REDIS_PREFIX": "bench:",
        **variant.env,
        **({"PYTHONPATH": str(variant.source)} if variant.source is not None else {}),
    }
    # Logs go to /dev/null but are still formatted and written: that cost is measured.
    fleet = [shop.launch(f"http://127.0.0.1:{port}", env) for port in _ports(variant)]
    for replica in fleet:
        replica.wait_ready(within=20)
    return [replica.process for replica in fleet]


def _ports(variant: Variant) -> list[int]:
    return [PORT + n for n in range(variant.replicas)]


def _export(ref: str) -> Path:
    """The service/ of git `ref`, in a temporary directory."""
    target = Path(tempfile.mkdtemp(prefix="shop-bench-"))
    archive = subprocess.run(
        ["git", "archive", ref, "service"], cwd=ROOT, capture_output=True, check=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target / "service"


def _before_and_after(variants: list[Variant], ref: str) -> list[Variant]:
    source = _export(ref)
    return [
        version
        for v in variants
        for version in (
            replace(v, name=f"{v.name} @ {ref}", source=source),
            replace(v, name=f"{v.name} @ working tree"),
        )
    ]


def _flip(switches: dict[str, object], ports: list[int]) -> None:
    # Every replica is told: without Redis, switches are per process.
    for switch, value in switches.items():
        for port in ports:
            admin.flip(f"http://127.0.0.1:{port}", "dev-admin-token", switch, value)


async def _orders(seconds: float, workers: int, ports: list[int]) -> dict[str, float]:
    """Each worker owns its users: add one item, place the order, repeat; counts paid orders."""
    import aiohttp

    latencies: list[float] = []
    failures = 0
    deadline = time.monotonic() + seconds
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=workers)) as http:

        async def worker(n: int) -> None:
            nonlocal failures
            rounds = 0
            while time.monotonic() < deadline:
                user = f"test-user-{1 + (n + workers * rounds) % USERS}"
                base = f"http://127.0.0.1:{ports[(n + rounds) % len(ports)]}"
                rounds += 1
                # Spread over the ten products, as real baskets are.
                item = {"userId": user, "productId": f"test-product-{1 + n % 10}", "quantity": 1}
                async with http.post(f"{base}/api/cart/items", json=item) as r:
                    await r.read()
                started = time.perf_counter()
                async with http.post(f"{base}/api/orders", json={"userId": user}) as r:
                    await r.read()
                    if r.status == 200:
                        latencies.append(time.perf_counter() - started)
                    else:
                        failures += 1

        await asyncio.gather(*(worker(n) for n in range(workers)))
    measured = summary(latencies, seconds)
    return {**{k: measured[k] for k in ("rps", "p50_ms", "p99_ms")}, "errors": float(failures)}


def _charge_script(variant: Variant, default: Path) -> Path:
    """The wrk script of a charge variant (a fresh key prefix each time it is written)."""
    if variant.driver == "charge":
        return default
    signer = TokenSigner.from_secret(BENCH_SECRET)
    expires = int(time.time()) + 3600
    tokens = (
        ", ".join(
            f'"{signer.mint(f"test-user-{n}", expires_at=expires)}"'
            for n in range(1, TOKEN_USERS + 1)
        )
        if "token" in variant.driver
        else ""
    )
    script = Path(tempfile.mkstemp(suffix=".lua")[1])
    script.write_text(
        KEYED_LUA
        % {
            "tokens": tokens,
            "users": TOKEN_USERS,
            "keyed": "true" if "keyed" in variant.driver else "false",
            "run": f"bench-{time.time_ns()}",
        }
    )
    return script


def _wrk(script: Path, seconds: int, connections: int) -> dict[str, float]:
    out = wrk(script, connections=connections, seconds=seconds, port=PORT, latency=True)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]  # wrk always prints it
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)

    def pct(label: str) -> float:
        value, unit = re.search(rf"{label}%\s+([\d.]+)(us|ms|s)", out).groups()  # type: ignore[union-attr]  # wrk prints it
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    return {
        "rps": rps,
        "p50_ms": pct("50"),
        "p99_ms": pct("99"),
        "errors": float(non2xx.group(1)) if non2xx else 0.0,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("suite", choices=sorted(SUITES))
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--only", action="append", help="run only the variants named so")
    parser.add_argument("--against", metavar="REF", help="compare each variant with git REF's")
    args = parser.parse_args(argv)
    title, variants = SUITES[args.suite]
    if args.only:
        variants = [v for v in variants if v.name in args.only]
    pairs = PAIRS.get(args.suite, [(variants[0].name, variants[-1].name)])
    if args.against:
        variants = _before_and_after(variants, args.against)
        pairs = [(a.name, b.name) for a, b in zip(variants[::2], variants[1::2], strict=True)]
        title = f"{title}: {args.against} vs the working tree"
    database.prepare(DB_URL, users=USERS, if_empty=False)
    script = Path(tempfile.mkstemp(suffix=".lua")[1])
    script.write_text(CHARGE_LUA % {"users": USERS})
    results: dict[str, list[dict[str, float]]] = {v.name: [] for v in variants}
    for round_no in range(args.rounds):
        for variant in variants:
            procs = _start(variant)
            ports = _ports(variant)
            try:
                _flip(variant.switches, ports)
                if variant.driver == "orders":
                    asyncio.run(_orders(2, args.connections, ports))  # warm-up
                    measured = asyncio.run(_orders(args.seconds, args.connections, ports))
                else:
                    _wrk(_charge_script(variant, script), 2, args.connections)  # warm-up
                    measured = _wrk(_charge_script(variant, script), args.seconds, args.connections)
                results[variant.name].append(measured)
            finally:
                stop(*procs, timeout=30)
            print(f"round {round_no + 1} {variant.name}: {results[variant.name][-1]}", flush=True)
    medians = {
        name: {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        for name, runs in results.items()
    }
    charged = TOKEN_USERS if variants[0].driver.startswith("charge-") else USERS
    setup = (
        f"{args.connections} aiohttp workers each adding one item to a user's cart and ordering it"
        if variants[0].driver == "orders"
        else f"wrk -t1 -c{args.connections} charging {charged} users at random"
    )
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    lines = [
        f"# {title}",
        "",
        f"`python -m loadtest bench suite {args.suite}` — {args.rounds} interleaved rounds of "
        f"{args.seconds} s each, {setup}; MariaDB, Redis and the load generator on the same "
        f"2-core machine (load average at the end: {load}).",
        "",
        "| variant | median req/s (paid orders/s for orders) | median p50 ms | median p99 ms"
        " | non-2xx |",
        "|---|---|---|---|---|",
        *(
            f"| {name} | {m['rps']:.0f} | {m['p50_ms']:.2f} | {m['p99_ms']:.2f} "
            f"| {m['errors']:.0f} |"
            for name, m in medians.items()
        ),
        "",
        *(
            f"- {b} / {a}: **{medians[b]['rps'] / medians[a]['rps']:.2f}×** median req/s"
            for a, b in pairs
        ),
        *raw_rounds(results),
    ]
    report = "\n".join(lines) + "\n"
    print(report)
    if args.out:
        args.out.write_text(report)
    return 0

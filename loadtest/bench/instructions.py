"""Instructions per balance charge: the shop against the HTTP floor, whatever else the machine runs.

CPU seconds per request move by a quarter between back-to-back runs on a shared machine; the
instructions a process executes per request do not. Each server (the shop, the floor of
`floor.py`, or the shop's code from another checkout) runs under `valgrind --tool=callgrind`
with instrumentation off; after a warm-up, instrumentation is switched on for exactly
`--requests` charges at `--concurrency` (distinct users), then the counts are dumped. The
answer is the dump's total over the answered charges (docs/decisions/0054-the-request-path-cost.md).

Usage: `python -m loadtest bench instructions [--against DIR] --out docs/benchmarks/instructions.md`
(`make bench-instructions`); `--against` names another checkout's `service/` directory, measured
as "before".
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

import aiohttp

from loadtest.bench.ceiling import DB_URL, POOL, USERS, describe_machine, prepare
from loadtest.harness import shop
from loadtest.harness.ports import free_port
from loadtest.harness.processes import stop

WARM_UP = 300
# A shop under callgrind runs ~50 times slower: its start and its answers get this long.
READY_WITHIN = 600.0
FLOOR = ("-m", "loadtest.bench.floor")


async def _charges(url: str, count: int, concurrency: int, first: int) -> dict[int, int]:
    """`count` charges of 1 to distinct users, `concurrency` at a time; answers by status."""
    statuses: dict[int, int] = {}
    numbers = iter(range(first, first + count))
    timeout = aiohttp.ClientTimeout(total=None)
    async with aiohttp.ClientSession(timeout=timeout) as session:

        async def worker() -> None:
            for n in numbers:
                user = f"test-user-{1 + (n * 7919) % USERS}"
                async with session.post(
                    f"{url}/api/users/{user}/balance/charge", json={"amount": 1}
                ) as answer:
                    await answer.read()
                    statuses[answer.status] = statuses.get(answer.status, 0) + 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return statuses


def _control(pid: int, *args: str) -> None:
    subprocess.run(["callgrind_control", *args, str(pid)], check=True, capture_output=True)


def measure(
    command: Sequence[str], env: dict[str, str], *, requests: int, concurrency: int, first: int
) -> tuple[float, dict[int, int]]:
    """Instructions per answered charge of the server `command` starts, and its answers."""
    out = Path(tempfile.mkdtemp()) / "callgrind.out"
    url = f"http://127.0.0.1:{free_port()}"
    replica = shop.launch(
        url,
        {"SHOP_DB_URL": DB_URL, "SHOP_DB_POOL_MAX": str(POOL), **env},
        command=command,
        prefix=(
            "valgrind",
            "--tool=callgrind",
            "--instr-atstart=no",
            f"--callgrind-out-file={out}",
        ),
    )
    try:
        replica.wait_ready(within=READY_WITHIN)
        asyncio.run(_charges(url, WARM_UP, concurrency, first))
        _control(replica.process.pid, "-i", "on")
        statuses = asyncio.run(_charges(url, requests, concurrency, first + WARM_UP))
        _control(replica.process.pid, "-d")  # the measured charges: <out>.1
    finally:
        stop(replica.process, timeout=60)
    total = next(
        int(line.split()[1])
        for line in Path(f"{out}.1").read_text().splitlines()
        if line.startswith("totals:")
    )
    return total / max(1, statuses.get(200, 0)), statuses


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--against", type=Path, help="another checkout's service/ directory")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    machine = describe_machine()
    prepare()
    servers: list[tuple[str, tuple[str, ...], dict[str, str]]] = [
        ("HTTP floor: bare aiohttp handler, raw transaction", FLOOR, {}),
    ]
    if args.against:
        servers.append(("shop, before", shop.SERVE, {"PYTHONPATH": str(args.against)}))
    servers.append(("shop" if not args.against else "shop, after", shop.SERVE, {}))
    rows = []
    floor = 0.0
    for index, (name, command, env) in enumerate(servers):
        per, statuses = measure(
            command,
            env,
            requests=args.requests,
            concurrency=args.concurrency,
            first=index * (args.requests + WARM_UP),
        )
        floor = floor or per
        answers = ", ".join(f"{k}: {n:,}" for k, n in sorted(statuses.items()))
        rows.append(f"| {name} | {per / 1000:,.0f} | {per / floor:.2f}× | {answers} |")
        print(rows[-1], flush=True)
    report = "\n".join(
        [
            "# Instructions per balance charge, the shop against the HTTP floor",
            "",
            f"`python -m loadtest bench instructions` (`make bench-instructions`): each server"
            f" under `valgrind --tool=callgrind`, instructions counted over {args.requests:,}"
            f" charges at {args.concurrency} at a time after {WARM_UP} unmeasured ones; one"
            f" process, pool {POOL}, the lab settings (`SHOP_ENV=dev`: rate limits, admission"
            " and user tokens off, tracing off, metrics and the access log on). The floor's"
            " count repeats within 0.5 % whatever else the machine runs; the shop's within"
            " ~3 %, as its background loops tick per second of wall time and a charge under"
            " callgrind takes a varying one.",
            "",
            f"Machine: {machine}.",
            "",
            "| server | thousand instructions per charge | × floor | answers |",
            "|---|---|---|---|",
            *rows,
            "",
        ]
    )
    print(report)
    if args.out:
        args.out.write_text(report)
    return 0

"""Lock hand-off benchmark: our lock managers against redis-py's Lock, in one run.

For each contender: waves of W concurrent requests (asyncio tasks) each take one hot key (or
one key each) once, do a tiny critical section and release, until S sections are done.
Reported: sections/s, median and p99 wait for the lock, Redis commands per section (INFO
commandstats, commands inside scripts included) and client round trips per section.
Usage: `python loadtest/bench_locks.py --out docs/benchmarks/locks.md`.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis

from shop.adapters.redis.locks import RedisLockManager
from shop.locks.local import LocalLockManager

REDIS_URL = "redis://127.0.0.1:6379/0"
Hold = Callable[[str], AbstractAsyncContextManager[Any]]


@dataclass
class Result:
    name: str
    scenario: str
    sections_per_s: float
    wait_p50_ms: float
    wait_p99_ms: float
    commands_per_section: float
    round_trips_per_section: float


class CountingRedis(aioredis.Redis):
    """Counts the commands its users send (a script call is one round trip)."""

    sent = 0

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        CountingRedis.sent += 1
        return await super().execute_command(*args, **options)


async def _commands(client: aioredis.Redis) -> int:
    stats = await client.info("commandstats")
    return sum(int(v["calls"]) for k, v in stats.items() if k.startswith("cmdstat_"))


async def _run(
    name: str,
    scenario: str,
    holds: list[Hold],
    *,
    waiters: int,
    sections: int,
    hot: bool,
    probe: aioredis.Redis,
) -> Result:
    prefix = f"bench:{uuid.uuid4().hex}:"
    done = 0
    waits: list[float] = []
    counters: dict[str, int] = {}

    async def request(n: int) -> None:
        # One critical section per task, like one request needing the lock once.
        nonlocal done
        hold = holds[n % len(holds)]
        key = prefix + ("hot" if hot else str(n))
        started = time.perf_counter()
        async with hold(key):
            waits.append(time.perf_counter() - started)
            value = counters.get(key, 0)
            await asyncio.sleep(0)  # a lock that did not exclude would lose updates here
            counters[key] = value + 1
            done += 1

    before = await _commands(probe)
    sent_before = CountingRedis.sent
    started = time.perf_counter()
    for _ in range(max(1, sections // waiters)):  # waves of `waiters` concurrent requests
        await asyncio.gather(*(request(n) for n in range(waiters)))
    elapsed = time.perf_counter() - started
    round_trips = CountingRedis.sent - sent_before
    commands = await _commands(probe) - before - 1  # the INFO call itself
    assert sum(counters.values()) == done, f"{name}: lost updates"
    waits.sort()
    return Result(
        name,
        scenario,
        done / elapsed,
        statistics.median(waits) * 1000,
        waits[int(0.99 * (len(waits) - 1))] * 1000,
        commands / done,
        round_trips / done,
    )


def _ours(manager: Any) -> Hold:
    return lambda key: manager.hold(key, name="bench", wait=60, lease=10)


def _redis_py(client: aioredis.Redis) -> Hold:
    # One Lock object per acquisition: tasks sharing one object would share its token.
    return lambda key: client.lock(key, timeout=10, blocking_timeout=60)


async def main_async(waiters: int, sections: int, replicas: int) -> list[Result]:
    clients = [
        CountingRedis.from_url(REDIS_URL, max_connections=1_000) for _ in range(replicas + 1)
    ]
    probe = clients[-1]
    results: list[Result] = []
    managers = [RedisLockManager(c) for c in clients[:replicas]]
    try:
        contenders: list[tuple[str, list[Hold]]] = [
            ("in-process (one process)", [_ours(LocalLockManager())]),
            (f"shop Redis backend ({replicas} managers)", [_ours(m) for m in managers]),
            (f"redis-py Lock ({replicas} clients)", [_redis_py(c) for c in clients[:replicas]]),
        ]
        for scenario, hot, count in (
            (f"one hot key, {waiters} waiters", True, sections),
            (f"{waiters} keys, one waiter each", False, sections * 5),
        ):
            for name, holds in contenders:
                result = await _run(
                    name, scenario, holds, waiters=waiters, sections=count, hot=hot, probe=probe
                )
                print(result, flush=True)
                results.append(result)
    finally:
        for manager in managers:
            await manager.aclose()
        for client in clients:
            await client.aclose()
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--waiters", type=int, default=200)
    parser.add_argument("--sections", type=int, default=1_000)
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    results = asyncio.run(main_async(args.waiters, args.sections, args.replicas))
    lines = [
        "# Lock hand-off: shop lock managers vs redis-py's Lock",
        "",
        f"`python loadtest/bench_locks.py --sections {args.sections}` — waves of {args.waiters} "
        "concurrent requests, "
        f"{args.sections} critical sections on the hot key ({args.sections * 5} spread over "
        f"keys), waiters spread over {args.replicas} managers/clients as if replicas; real "
        "redis-server on the same 2-core machine. Commands counted with INFO commandstats.",
        "",
        "| scenario | contender | sections/s | wait p50 ms | wait p99 ms | Redis commands/section"
        " (incl. inside scripts) | round trips/section |",
        "|---|---|---|---|---|---|---|",
        *(
            f"| {r.scenario} | {r.name} | {r.sections_per_s:.0f} | {r.wait_p50_ms:.1f} | "
            f"{r.wait_p99_ms:.1f} | {r.commands_per_section:.2f} | "
            f"{r.round_trips_per_section:.2f} |"
            for r in results
        ),
        "",
    ]
    hot = [r for r in results if "hot" in r.scenario]
    ours = next(r for r in hot if r.name.startswith("shop Redis"))
    theirs = next(r for r in hot if r.name.startswith("redis-py"))
    lines += [
        f"Hot key: shop Redis backend / redis-py throughput = "
        f"**{ours.sections_per_s / theirs.sections_per_s:.1f}×**; Redis commands per section "
        f"= **{ours.commands_per_section / theirs.commands_per_section:.2f}×** of redis-py's "
        f"(round trips: **{ours.round_trips_per_section / theirs.round_trips_per_section:.2f}×**).",
        "",
    ]
    report = "\n".join(lines)
    print(report)
    if args.out:
        args.out.write_text(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
